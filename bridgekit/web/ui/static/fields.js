// Small pieces the chat's head and panels share: a chat's state in words, a date as <time> in
// the manager's time zone, and form fields that keep what the manager has not saved yet.
import { fullDate, t, when } from "./i18n.js";
import { dateTime } from "./timezone.js";

// A chat's state in the page's language (an unknown one as the API says it).
const STATES = { open: t("state.open"), queued: t("state.queued"), closed: t("state.closed"), snoozed: t("state.snoozed") };

export function stateText(chat) {
  if (chat.state === "snoozed" && chat.snoozed_until) return t("state.snoozed_until", { when: dateTime(chat.snoozed_until) });
  return STATES[chat.state] ?? chat.state;
}

// A <time> showing `iso` in the manager's time zone, its whole date in the title.
export function timeNode(iso) {
  const node = document.createElement("time");
  if (!iso) return node;
  node.dateTime = iso;
  node.textContent = when(iso);
  node.title = fullDate(iso);
  return node;
}

// Put the API's value into a field, unless the manager has typed there and not saved yet:
// an event from someone else must not wipe what is being written. forget(field) first to
// overwrite (another chat opened, the manager's text saved).
export function fill(field, value) {
  const shown = field.dataset.shown;
  if (shown !== undefined && field.value !== shown) return;
  field.value = value;
  field.dataset.shown = value;
}

export function forget(field) {
  delete field.dataset.shown;
}
