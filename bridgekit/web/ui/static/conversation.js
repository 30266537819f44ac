// One open chat: its head and actions, its message stream (drawn by messages.js) and its
// composer (composer.js). Every refusal of the API is shown next to what was refused.
import { api } from "./api.js";
import { t } from "./i18n.js";
import { Composer } from "./composer.js";
import { bubble, showError } from "./messages.js";
import { ChatHead } from "./chathead.js";
import { ChatPanels } from "./chatinfo.js";
import { stateText } from "./fields.js";

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
    this.headAsked = 0; // reads of the open chat started, and the newest one shown
    this.headShown = 0;
    this.messagesAsked = 0; // the same for reads of its messages
    this.messagesShown = 0;
    this.composer = new Composer(this);
    this.actions = new ChatHead(this);
    this.panels = new ChatPanels(this);
  }

  get id() {
    return this.chat ? this.chat.id : null;
  }

  close() {
    this.chat = null;
    this.panels.hide();
    this.box.hidden = true;
    this.placeholder.hidden = false;
    this.placeholder.textContent = t("chat.pick");
  }

  async open(chatId) {
    this.actions.reset();
    try {
      const ticket = ++this.headAsked;
      const chat = await api("GET", `/chats/${chatId}`);
      this.headShown = Math.max(this.headShown, ticket);
      this.chat = chat;
      this.panels.reset();
      this.head();
      this.messages.replaceChildren();
      this.box.hidden = false;
      this.placeholder.hidden = true;
      await this.reload();
      this.composer.reset();
    } catch (error) {
      this.chat = null;
      this.panels.hide();
      this.box.hidden = true;
      this.placeholder.hidden = false;
      this.placeholder.textContent = error.message;
    }
  }

  head() {
    const chat = this.chat;
    document.getElementById("chat-title").textContent = (chat.customer && chat.customer.name) || chat.title || t("chat.untitled", { id: chat.id });
    document.getElementById("chat-mark").textContent = chat.mark || "";
    document.getElementById("chat-state").textContent = chat.assignee ? `${stateText(chat)} · ${chat.assignee.name}` : stateText(chat);
    this.actions.show(chat);
    this.panels.show(chat).catch((error) => console.warn("chat panels not drawn", error));
  }

  // The latest messages again (events are hints: what they point at is read from the API).
  async reload() {
    if (!this.chat) return;
    const chatId = this.chat.id;
    const ticket = ++this.messagesAsked; // as in refreshHead(): an older answer is stale
    const found = await api("GET", `/chats/${chatId}/messages?limit=200`);
    if (!this.chat || this.chat.id !== chatId) return;
    if (ticket < this.messagesShown) return;
    this.messagesShown = ticket;
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
    const chatId = this.chat.id;
    // Reads overlap (an event's and an action's): a read started later saw at least as much,
    // so an older answer arriving after it is stale and is dropped.
    const ticket = ++this.headAsked;
    try {
      const chat = await api("GET", `/chats/${chatId}`);
      if (!this.chat || this.chat.id !== chatId) return; // another chat was opened meanwhile
      if (ticket < this.headShown) return;
      this.headShown = ticket;
      this.chat = chat;
      this.head();
    } catch {
      // deleted meanwhile: the list no longer shows it
    }
  }

  // The open chat's customer changed (a name, a memo, a provider event): redraw the head (its
  // title is their name) and the panels.
  customerChanged(customerId) {
    if (this.chat && this.chat.customer_id === customerId) this.refreshHead();
  }

  // A message changed in a chat other than the open one (the customer panel may list it).
  otherChatMessage(chatId) {
    this.panels.customer.messageChanged(chatId);
  }

  scrollToEnd() {
    this.messages.scrollTop = this.messages.scrollHeight;
  }

  // A change to the open chat; its refusal is shown in `errorNode`, beside the control that
  // asked. True when the API did it.
  async act(method, path, body, errorNode = this.actionError) {
    if (!this.chat) return false;
    try {
      await api(method, path ? `/chats/${this.chat.id}/${path}` : `/chats/${this.chat.id}`, body);
    } catch (error) {
      showError(errorNode, error);
      return false;
    }
    showError(errorNode, null);
    await this.refreshHead();
    this.onChanged();
    return true;
  }
}
