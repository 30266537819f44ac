// Dates in the manager's time zone, which is the browser's: what the inbox shows, the snooze
// presets and the snooze date picker all use it, and the picker names it.
import { lang } from "./i18n.js";

export const timeZone = new Intl.DateTimeFormat().resolvedOptions().timeZone;

const dateTimeFormat = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });

// A date with its time ("6 Dec 2026, 09:00"), for what happens at a set time (a snooze's end).
export function dateTime(iso) {
  return iso ? dateTimeFormat.format(new Date(iso)) : "";
}

// When a snooze preset ends, from `now`, in local time: "hour" is an hour from now,
// "tomorrow" is 9:00 tomorrow, "next_week" is 9:00 on the coming Monday.
export function presetTime(preset, now = new Date()) {
  if (preset === "hour") return new Date(now.getTime() + 60 * 60 * 1000);
  const day = new Date(now.getFullYear(), now.getMonth(), now.getDate(), 9, 0, 0, 0);
  if (preset === "tomorrow") day.setDate(day.getDate() + 1);
  else day.setDate(day.getDate() + ((8 - day.getDay()) % 7 || 7));
  return day;
}

// A Date as the value of <input type="datetime-local">: local time, to the minute.
export function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
