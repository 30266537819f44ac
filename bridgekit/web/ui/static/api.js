// The one way the browser interface calls /api/v1: with the session cookie and, for anything
// that changes state, the page's CSRF token (the server refuses those without it).
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (!SAFE.has(method)) headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    window.location.assign("/sign-in"); // the session ended
    throw new Error("signed out");
  }
  const data = response.status === 204 ? {} : await response.json(); // 204: nothing to read
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
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
        reject(new Error("signed out"));
        return;
      }
      const data = request.response;
      if (request.status >= 200 && request.status < 300) resolve(data);
      else reject(new Error((data && data.error) || `HTTP ${request.status}`));
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
