// The one way the browser interface calls /api/v1: with the session cookie and, for anything
// that changes state, the page's CSRF token (the server refuses those without it). A refusal
// is thrown as a Refused whose message a person reads in the page's language.
import { t } from "./i18n.js";

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

// A refused request: `message` for the person, `code` (the API's, or null) for the program.
export class Refused extends Error {
  constructor(message, status, code) {
    super(message);
    this.name = "Refused";
    this.status = status;
    this.code = code ?? null;
  }
}

// The API's answer `body` to a refused request (status `status`) as a Refused: the catalogue's
// words for a code it knows (error.<code>, filled with the answer's details), else the API's
// own English message. Exported for requests that do not go through api() (uploads).
export function refusal(status, body) {
  const data = body !== null && typeof body === "object" ? body : {};
  const code = typeof data.code === "string" ? data.code : null;
  const key = `error.${code}`;
  if (code !== null && t(key) !== key) return new Refused(t(key, { ...data.details }), status, code);
  const message = typeof data.error === "string" ? data.error : t("error.http", { status });
  return new Refused(message, status, code);
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (!SAFE.has(method)) headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new Refused(t("error.offline"), 0, "offline"); // no answer at all
  }
  if (response.status === 401) {
    window.location.assign("/sign-in"); // the session ended
    throw new Refused(t("error.signed_out"), 401, "signed_out");
  }
  if (response.status === 204) return {}; // nothing to read
  // A proxy's or the server's own plain-text error page is no JSON: say the status then.
  const data = await response.json().catch(() => null);
  if (!response.ok) throw refusal(response.status, data);
  return data;
}

// A message with files (multipart/form-data) sent with XMLHttpRequest, whose upload events
// fetch does not have: onProgress(fraction sent) as the body goes out; aborting `signal`
// cancels it. Answers like api(); an error without an answer has `answered` false.
export function apiUpload(path, form, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", `/api/v1${path}`);
    request.setRequestHeader("Accept", "application/json");
    request.setRequestHeader("X-CSRF-Token", csrfToken());
    request.responseType = "json";
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      if (request.status === 401) {
        window.location.assign("/sign-in");
        reject(new Refused(t("error.signed_out"), 401, "signed_out"));
        return;
      }
      const data = request.response;
      if (request.status >= 200 && request.status < 300) resolve(data);
      else reject(refusal(request.status, data));
    });
    const unanswered = (why) => {
      const error = new Error(why);
      error.answered = false;
      error.cancelled = why === "cancelled";
      reject(error);
    };
    request.addEventListener("error", () => unanswered("no answer")); // the connection broke
    request.addEventListener("abort", () => unanswered("cancelled"));
    if (signal) signal.addEventListener("abort", () => request.abort());
    request.send(form);
  });
}
