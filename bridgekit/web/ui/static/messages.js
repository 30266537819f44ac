// One message drawn as the inbox shows it: customer, manager, bot, system and notes apart;
// files as download links, images previewed; an email's original (original.js); a reply's
// delivery mark at its foot (seed 003: read by the customer, else sent); refusals beside it.
import { t, when, fullDate } from "./i18n.js";
import { hasOriginal, originalControls } from "./original.js";

const DELIVERY = {
  pending: t("delivery.pending"),
  sending: t("delivery.sending"),
  sent: t("delivery.sent"),
  delivered: t("delivery.delivered"),
  read: t("delivery.read"),
  failed: t("delivery.failed"),
};

export function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

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
  else if (message.text) li.append(element("p", "text", message.text));
  if (message.delivery_error) li.append(element("p", "error", message.delivery_error));
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
