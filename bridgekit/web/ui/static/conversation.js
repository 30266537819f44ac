// One open chat: its head and actions, the message stream (customer, manager, bot, system and
// notes drawn apart; files as download links, images previewed) and the composer. Every
// refusal of the API is shown next to what was refused.
import { api } from "./api.js";
import { t, when, fullDate } from "./i18n.js";

// A chat's state in the page's language (an unknown one as the API says it).
const STATES = { open: t("state.open"), queued: t("state.queued"), closed: t("state.closed") };
const DELIVERY = {
  pending: t("delivery.pending"),
  sending: t("delivery.sending"),
  sent: t("delivery.sent"),
  delivered: t("delivery.delivered"),
  read: t("delivery.read"),
  failed: t("delivery.failed"),
};

function element(tag, className, text) {
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

function bubble(message) {
  const li = element("li", `msg msg-${message.kind} by-${message.author_kind}`);
  li.dataset.messageId = String(message.id);
  const head = li.appendChild(element("div", "meta"));
  const at = element("time", "at", when(message.created_at));
  at.dateTime = message.created_at;
  at.title = fullDate(message.created_at);
  head.append(element("span", "author", who(message)), at);
  if (message.kind === "reply" && message.delivery_status) {
    head.append(element("span", `delivery ${message.delivery_status}`, DELIVERY[message.delivery_status] ?? message.delivery_status));
  }
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
  return li;
}

function showError(node, error) {
  node.textContent = error ? error.message : "";
  node.hidden = !error;
}

export class Conversation {
  constructor(onChanged) {
    this.onChanged = onChanged; // the chat's state or marks changed: refresh the list
    this.pane = document.getElementById("chat-pane");
    this.box = document.getElementById("conversation");
    this.placeholder = document.getElementById("placeholder");
    this.messages = document.getElementById("messages");
    this.form = document.getElementById("composer");
    this.text = document.getElementById("compose-text");
    this.composeError = document.getElementById("compose-error");
    this.actionError = document.getElementById("action-error");
    this.chat = null;
    this.readUpTo = null;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.text.addEventListener("keydown", (event) => {
      // Enter sends; Shift+Enter is a new line; never while an IME (Korean) composes a syllable.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.send();
      }
    });
    for (const radio of this.form.querySelectorAll("input[name=mode]")) {
      radio.addEventListener("change", () => {
        const note = this.mode() === "note";
        this.form.classList.toggle("note", note);
        this.text.placeholder = t(note ? "compose.note_placeholder" : "compose.reply_placeholder");
      });
    }
    const act = (id, method, path, body) =>
      document.getElementById(id).addEventListener("click", () => this.act(method, path, body));
    act("act-assign", "POST", "assign", () => ({ manager_id: Number(document.getElementById("manager-name").dataset.managerId) }));
    act("act-close", "POST", "close");
    act("act-reopen", "POST", "reopen");
    document.getElementById("act-star").addEventListener("click", () =>
      this.act(this.chat && this.chat.starred ? "DELETE" : "PUT", "star"),
    );
  }

  mode() {
    return this.form.querySelector("input[name=mode]:checked").value;
  }

  get id() {
    return this.chat ? this.chat.id : null;
  }

  close() {
    this.chat = null;
    this.box.hidden = true;
    this.placeholder.hidden = false;
    this.placeholder.textContent = t("chat.pick");
  }

  async open(chatId) {
    showError(this.composeError, null);
    showError(this.actionError, null);
    try {
      const chat = await api("GET", `/chats/${chatId}`);
      this.chat = chat;
      this.head();
      this.messages.replaceChildren();
      this.box.hidden = false;
      this.placeholder.hidden = true;
      await this.reload();
      this.text.focus();
    } catch (error) {
      this.chat = null;
      this.box.hidden = true;
      this.placeholder.hidden = false;
      this.placeholder.textContent = error.message;
    }
  }

  head() {
    const chat = this.chat;
    document.getElementById("chat-title").textContent = (chat.customer && chat.customer.name) || chat.title || t("chat.untitled", { id: chat.id });
    document.getElementById("chat-mark").textContent = chat.mark || "";
    document.getElementById("chat-state").textContent = chat.assignee ? `${STATES[chat.state] ?? chat.state} · ${chat.assignee.name ?? chat.assignee}` : (STATES[chat.state] ?? chat.state);
    const star = document.getElementById("act-star");
    star.textContent = chat.starred ? t("chat.starred") : t("chat.star");
    star.setAttribute("aria-pressed", String(Boolean(chat.starred)));
    document.getElementById("act-close").hidden = chat.state === "closed";
    document.getElementById("act-reopen").hidden = chat.state === "open" || chat.state === "queued";
  }

  // The latest messages again (events are hints: what they point at is read from the API).
  async reload() {
    if (!this.chat) return;
    const chatId = this.chat.id;
    const found = await api("GET", `/chats/${chatId}/messages?limit=200`);
    if (!this.chat || this.chat.id !== chatId) return;
    const atEnd = this.messages.scrollHeight - this.messages.scrollTop - this.messages.clientHeight < 40;
    this.messages.replaceChildren(...found.map(bubble));
    if (atEnd || this.messages.dataset.shown !== String(chatId)) this.messages.scrollTop = this.messages.scrollHeight;
    this.messages.dataset.shown = String(chatId);
    const newest = found.length ? found[found.length - 1].id : null;
    if (newest !== null && newest !== this.readUpTo) {
      this.readUpTo = newest; // seen here: move this manager's read marker to it
      api("POST", `/chats/${chatId}/read`, { message_id: newest }).catch(() => {});
    }
  }

  async refreshHead() {
    if (!this.chat) return;
    try {
      this.chat = await api("GET", `/chats/${this.chat.id}`);
      this.head();
    } catch {
      // deleted meanwhile: the list no longer shows it
    }
  }

  async send() {
    const text = this.text.value;
    if (!this.chat || !text.trim()) return;
    const body = this.mode() === "note" ? { kind: "note", text } : { text };
    const button = document.getElementById("send");
    button.disabled = true;
    try {
      await api("POST", `/chats/${this.chat.id}/messages`, body);
      this.text.value = "";
      showError(this.composeError, null);
      await this.reload();
      this.messages.scrollTop = this.messages.scrollHeight;
    } catch (error) {
      showError(this.composeError, error);
    } finally {
      button.disabled = false;
      this.text.focus();
    }
  }

  async act(method, path, body) {
    if (!this.chat) return;
    try {
      await api(method, `/chats/${this.chat.id}/${path}`, typeof body === "function" ? body() : body);
      showError(this.actionError, null);
      await this.refreshHead();
      this.onChanged();
    } catch (error) {
      showError(this.actionError, error);
    }
  }
}
