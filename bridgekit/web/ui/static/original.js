// An email's original (E4) inside its message: the mail as its sender wrote it, in a frame
// that runs nothing. The frame's sandbox has neither allow-scripts nor allow-same-origin (the
// page gets an opaque origin: no script, no cookie, no access to the inbox), and the email
// plugin's route serves it with its own CSP (default-src 'none', inline styles, data: and cid:
// images). Remote images stay blocked, so the sender cannot tell the mail was opened, until
// the manager asks for them; the raw source is one click away.
import { t } from "./i18n.js";
import { element } from "./dom.js";

// What is open, by message id: the stream is redrawn on every event, an open original stays.
const opened = new Map();

// Links in the mail open in a new tab, outside the sandbox; nothing else is allowed.
const SANDBOX = "allow-popups allow-popups-to-escape-sandbox";

function source(messageId, state) {
  const url = `/api/v1/email/messages/${messageId}/original`;
  if (state.source) return `${url}?format=source`;
  return state.remoteImages ? `${url}?remote_images=1` : url;
}

// Whether a message has an original to show: an email that arrived as a mail we kept.
export function hasOriginal(message) {
  return message.channel === "email" && message.has_source === true;
}

// The "Show original" control of a message, and the original under it when open.
export function originalControls(message) {
  const box = element("div", "original");
  const toggle = box.appendChild(element("button", "original-toggle"));
  toggle.type = "button";
  const draw = () => {
    const state = opened.get(message.id);
    toggle.textContent = state ? t("original.hide") : t("original.show");
    toggle.setAttribute("aria-expanded", String(Boolean(state)));
    box.replaceChildren(toggle);
    if (state) box.append(...panel(message.id, state, draw));
  };
  toggle.addEventListener("click", () => {
    if (opened.has(message.id)) opened.delete(message.id);
    else opened.set(message.id, { remoteImages: false, source: false });
    draw();
  });
  draw();
  return box;
}

function panel(messageId, state, redraw) {
  const tools = element("div", "original-tools");
  const view = tools.appendChild(element("button", "original-view", state.source ? t("original.html") : t("original.source")));
  view.type = "button";
  view.addEventListener("click", () => {
    state.source = !state.source;
    redraw();
  });
  if (!state.source) {
    if (state.remoteImages) {
      tools.append(element("span", "original-remote-shown", t("original.remote_shown")));
    } else {
      const remote = tools.appendChild(element("button", "original-remote", t("original.remote_images")));
      remote.type = "button";
      remote.title = t("original.remote_blocked");
      remote.addEventListener("click", () => {
        state.remoteImages = true; // still no script: only the images' addresses are allowed
        redraw();
      });
    }
  }
  const frame = element("iframe", "original-frame");
  frame.setAttribute("sandbox", SANDBOX);
  frame.referrerPolicy = "no-referrer";
  frame.title = state.source ? t("original.source_title") : t("original.title");
  frame.src = source(messageId, state);
  return [tools, frame];
}
