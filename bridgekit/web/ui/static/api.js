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
