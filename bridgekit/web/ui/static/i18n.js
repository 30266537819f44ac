// The page's language and its message catalogue (bridgekit/web/i18n.py puts both on <html>:
// lang and data-i18n; no inline script), and dates in the browser's time zone in that language.
const root = document.documentElement;
export const lang = root.lang || "en";
const messages = JSON.parse(root.dataset.i18n || "{}");

// The message `key`, with {name} replaced by values.name; the key itself when it is missing.
export function t(key, values = {}) {
  const text = messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

const timeFormat = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(lang, { dateStyle: "medium" });
const fullFormat = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "long" });

// A time today, else a date; in the browser's (the manager's) time zone.
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  return today ? timeFormat.format(date) : dateFormat.format(date);
}

// The whole date and time, for a title attribute.
export function fullDate(iso) {
  return iso ? fullFormat.format(new Date(iso)) : "";
}
