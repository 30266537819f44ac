// One message drawn as the inbox shows it: customer, manager, bot, system and notes apart;
// a note's @mentions highlighted; files as download links, images previewed, several of them
// downloadable at once; a reply's link buttons and form as the customer sees them; an email's
// original (original.js); a reply's delivery mark at its foot (seed 003: read by the
// customer, else sent); refusals beside it.
import { element } from "./dom.js";
import { t, when, fullDate } from "./i18n.js";
import { hasOriginal, originalControls } from "./original.js";
import { people } from "./people.js";

const DELIVERY = {
  pending: t("delivery.pending"),
  sending: t("delivery.sending"),
  sent: t("delivery.sent"),
  delivered: t("delivery.delivered"),
  read: t("delivery.read"),
  failed: t("delivery.failed"),
};

function who(message) {
  if (message.kind === "note") return t("who.note", { name: message.author_name || t("who.manager") });
  if (message.author_kind === "bot") return message.author_name || t("who.bot");
  if (message.author_kind === "system" || message.author_kind === "plugin") return message.author_name || t("who.system");
  return message.author_name || (message.kind === "reply" ? t("who.manager") : t("who.customer"));
}

export function bubble(message) {
  const li = element("li", `msg msg-${message.kind} by-${message.author_kind}`);
  li.dataset.messageId = String(message.id);
  const head = li.appendChild(element("div", "meta"));
  const at = element("time", "at", when(message.created_at));
  at.dateTime = message.created_at;
  at.title = fullDate(message.created_at);
  head.append(element("span", "author", who(message)), at);
  if (message.retracted) li.append(element("p", "text retracted", t("msg.retracted")));
  else if (message.text) li.append(messageText(message));
  if (message.delivery_error) li.append(element("p", "error", message.delivery_error));
  if (message.buttons && message.buttons.length) li.append(linkButtons(message.buttons));
  if (message.form) li.append(sentForm(message.form, message.form_answers));
  if (message.attachments.length > 1) li.append(downloadAll(li, message.attachments.length));
  for (const file of message.attachments) {
    const url = `/api/v1/attachments/${file.id}`;
    const link = li.appendChild(element("a", "file"));
    link.href = url;
    link.download = file.filename;
    if (file.content_type.startsWith("image/")) {
      const image = link.appendChild(element("img", "preview"));
      image.src = url;
      image.alt = file.filename;
    }
    link.append(element("span", "filename", file.filename));
  }
  for (const dropped of message.dropped_attachments) {
    li.append(element("p", "notice", t("msg.dropped", { filename: dropped.filename, reason: dropped.reason })));
  }
  for (const notice of message.notices) li.append(element("p", "notice", String(notice)));
  if (hasOriginal(message)) li.append(originalControls(message));
  if (message.kind === "reply" && message.delivery_status) li.append(deliveryMark(message.delivery_status));
  return li;
}

// --- @mentions ------------------------------------------------------------------------
// The API stores a note's mentions as ids ({managers: [...], teams: [...]}); the spans are
// found again here by the server's own rule (bridgekit/inbox/mentions.py): "@" not glued to a
// word, then a mentioned name (case-insensitive, its spaces also written as dashes), the
// longest that fits, ending at a word boundary.
const WORD = /[\p{L}\p{N}_]/u;
const GLUED = /[\p{L}\p{N}._-]/u;
// Names by id, for the aliases below.
async function names() {
  const { managers, teams } = await people();
  return {
    manager: new Map(managers.map((manager) => [manager.id, manager.name])),
    team: new Map(teams.map((team) => [team.id, team.name])),
  };
}

// The aliases of the mentioned managers and teams, longest first: [alias, kind].
function aliases(mentions, known) {
  const found = [];
  for (const kind of ["manager", "team"]) {
    for (const id of mentions[`${kind}s`] || []) {
      const name = known[kind].get(id);
      if (!name) continue; // deleted since, or out of reach: its text stays plain
      const base = name.split(/\s+/).filter(Boolean).join(" ").toLowerCase();
      if (!base) continue;
      for (const alias of new Set([base, base.replaceAll(" ", "-")])) found.push([alias, kind]);
    }
  }
  return found.sort((a, b) => b[0].length - a[0].length);
}

// [start, end, kind] of every mention in text.
export function mentionSpans(text, candidates) {
  const spans = [];
  let start = 0;
  let at;
  while ((at = text.indexOf("@", start)) !== -1) {
    start = at + 1;
    if (at > 0 && GLUED.test(text[at - 1])) continue; // someone@example.com
    for (const [alias, kind] of candidates) {
      const end = at + 1 + alias.length;
      if (text.slice(at + 1, end).toLowerCase() !== alias) continue;
      if (end < text.length && WORD.test(text[end])) continue;
      spans.push([at, end, kind]);
      start = end;
      break;
    }
  }
  return spans;
}

// The text, its mentions highlighted once the names are known (text nodes and spans only).
function messageText(message) {
  const paragraph = element("p", "text", message.text);
  const mentions = message.mentions;
  if (!mentions || !((mentions.managers || []).length || (mentions.teams || []).length)) return paragraph;
  names()
    .then((known) => {
      const text = message.text;
      const spans = mentionSpans(text, aliases(mentions, known));
      if (!spans.length) return;
      const parts = [];
      let from = 0;
      for (const [start, end, kind] of spans) {
        if (start > from) parts.push(document.createTextNode(text.slice(from, start)));
        const mention = element("span", `mention mention-${kind}`, text.slice(start, end));
        mention.title = kind === "team" ? t("msg.mention_team") : t("msg.mention_manager");
        parts.push(mention);
        from = end;
      }
      if (from < text.length) parts.push(document.createTextNode(text.slice(from)));
      paragraph.replaceChildren(...parts);
    })
    .catch(() => {}); // the names could not be read: the text stays as it is
  return paragraph;
}

// --- link buttons and forms ------------------------------------------------------------
const COLOURS = new Set(["blue", "green", "red", "black"]); // the composer's (app.css)

// Only a web address is ever made clickable (the API accepts no other; older or imported
// rows are not trusted to be as clean).
export function webUrl(value) {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && !/\s/.test(value) ? url.href : null;
  } catch {
    return null;
  }
}

function linkButtons(buttons) {
  const row = element("div", "msg-buttons");
  row.setAttribute("role", "group");
  row.setAttribute("aria-label", t("msg.buttons"));
  for (const button of buttons) {
    const href = webUrl(button.url);
    const shown = element(href ? "a" : "span", "msg-button", button.text);
    if (COLOURS.has(button.colour)) shown.classList.add(`colour-${button.colour}`);
    // Another colour the API took (#rrggbb, a CSS name) through the CSSOM, which the CSP
    // allows; a name the browser does not know leaves the default blue.
    else if (CSS.supports("color", button.colour)) shown.style.setProperty("--button-colour", button.colour);
    if (href) {
      shown.href = href;
      shown.target = "_blank";
      shown.rel = "noopener noreferrer";
      shown.title = href;
    } else {
      shown.classList.add("inert");
      shown.title = t("msg.button_not_web", { url: String(button.url) });
    }
    row.append(shown);
  }
  return row;
}

function sentForm(form, answers) {
  const box = element("section", "msg-form");
  const answered = answers && typeof answers === "object";
  box.append(element("h4", "form-title", t(answered ? "msg.form_answered" : "msg.form_waiting")));
  const list = box.appendChild(element("dl", "form-fields"));
  for (const field of form.fields || []) {
    const question = element("dt", "question", field.label);
    if (field.required) question.append(element("span", "required", ` ${t("msg.form_required")}`));
    const value = answered && field.key in answers ? String(answers[field.key]) : null;
    const answer = element("dd", value === null ? "answer none" : "answer", value ?? t("msg.form_no_answer"));
    list.append(question, answer);
  }
  return box;
}

// --- files -------------------------------------------------------------------------------
// Seed 003: a message with files shows, on hover, a button that downloads them all. There is
// no zip endpoint; the button follows each file's own download link in turn (the browser may
// ask once whether the site may download several files).
function downloadAll(li, count) {
  const button = element("button", "download-all", t("msg.download_all", { count }));
  button.type = "button";
  button.addEventListener("click", () => {
    for (const link of li.querySelectorAll("a.file")) link.click();
  });
  return button;
}

// Where a reply is: a mark at the message's foot, its state spelt out beside it.
function deliveryMark(status) {
  const label = DELIVERY[status] ?? status;
  const mark = element("span", `delivery ${status}`, label);
  mark.title = label;
  const foot = element("div", "marks");
  foot.append(mark);
  return foot;
}

// A refusal next to what was refused (null hides it).
export function showError(node, error) {
  node.textContent = error ? error.message : "";
  node.hidden = !error;
}
