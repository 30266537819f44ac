// One open chat: its head and actions, its message stream (drawn by messages.js) and its
// composer (composer.js). Every refusal of the API is shown next to what was refused.
import { api } from "./api.js";
import { t } from "./i18n.js";
import { Composer } from "./composer.js";
import { bubble, showError } from "./messages.js";

// A chat's state in the page's language (an unknown one as the API says it).
const STATES = { open: t("state.open"), queued: t("state.queued"), closed: t("state.closed") };

export class Conversation {
  constructor(onChanged) {
    this.onChanged = onChanged; // the chat's state or marks changed: refresh the list
    this.pane = document.getElementById("chat-pane");
    this.box = document.getElementById("conversation");
    this.placeholder = document.getElementById("placeholder");
    this.messages = document.getElementById("messages");
    this.actionError = document.getElementById("action-error");
    this.chat = null;
    this.readUpTo = null;
    this.composer = new Composer(this);
    const act = (id, method, path, body) =>
      document.getElementById(id).addEventListener("click", () => this.act(method, path, body));
    act("act-assign", "POST", "assign", () => ({ manager_id: Number(document.getElementById("manager-name").dataset.managerId) }));
    act("act-close", "POST", "close");
    act("act-reopen", "POST", "reopen");
    document.getElementById("act-star").addEventListener("click", () =>
      this.act(this.chat && this.chat.starred ? "DELETE" : "PUT", "star"),
    );
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
    showError(this.actionError, null);
    try {
      const chat = await api("GET", `/chats/${chatId}`);
      this.chat = chat;
      this.head();
      this.messages.replaceChildren();
      this.box.hidden = false;
      this.placeholder.hidden = true;
      await this.reload();
      this.composer.reset();
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

  scrollToEnd() {
    this.messages.scrollTop = this.messages.scrollHeight;
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
