// The bell in the top bar: how many notifications are unread (a mention, a new message in my
// chats, an assignment, a snooze ended), a dropdown listing the latest, and a click on one
// opens its chat and marks what it said about that chat read. It follows the event stream:
// inbox.js hands it every event, and a "notification.created" reads the list again. What is
// about the chat open on the screen is read there: it is marked read rather than counted.
import { api } from "./api.js";
import { t, when, fullDate } from "./i18n.js";
import { element } from "./dom.js";
import { showError } from "./messages.js";

const SHOWN = 30; // the dropdown's length
const UNREAD_PAGE = 100; // counted up to this, then "99+"
const KINDS = {
  message: "notify.kind_message",
  mention: "notify.kind_mention",
  assigned: "notify.kind_assigned",
  unassigned: "notify.kind_unassigned",
  snooze_ended: "notify.kind_snooze_ended",
};

export class Notifications {
  // openChat(chatId): what a click on a notification does; openNow(): the open chat's id
  constructor(openChat, openNow) {
    this.openChat = openChat;
    this.openNow = openNow;
    this.button = document.getElementById("notify-button");
    this.badge = document.getElementById("notify-badge");
    this.panel = document.getElementById("notify-panel");
    this.list = document.getElementById("notify-list");
    this.error = document.getElementById("notify-error");
    this.shown = [];
    this.timer = null;
    this.button.addEventListener("click", () => (this.panel.hidden ? this.show() : this.hide()));
    document.getElementById("notify-all-read").addEventListener("click", () => this.markRead({ all: true }));
    this.list.addEventListener("click", (event) => {
      const item = event.target.closest("li[data-id]");
      if (item) this.pick(Number(item.dataset.id));
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.panel.hidden) {
        this.hide();
        this.button.focus();
      }
    });
    document.addEventListener("click", (event) => {
      if (!this.panel.hidden && !event.target.closest("#notify")) this.hide();
    });
  }

  // Every event of the stream; a burst of notifications reads the list once.
  onEvent(kind) {
    if (kind === "notification.created" || kind === "reconnected") this.soon();
  }

  // A chat was opened (from the list, a link, a notification): its notifications are read.
  chatOpened() {
    this.soon();
  }

  // The stream is (again) live: what was notified before it was listening is read now.
  onState(state) {
    if (state === "live") this.soon();
  }

  soon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), 150);
  }

  async refresh() {
    try {
      const unread = await api("GET", `/notifications?unread=1&limit=${UNREAD_PAGE}`);
      const open = this.openNow();
      const seen = unread.notifications.filter((n) => n.chat_id === open).map((n) => n.id);
      if (seen.length) await api("POST", "/notifications/read", { ids: seen });
      this.count(unread.notifications.length - seen.length, unread.next_before !== null);
      if (!this.panel.hidden) this.draw((await api("GET", `/notifications?limit=${SHOWN}`)).notifications);
      showError(this.error, null);
    } catch (error) {
      showError(this.error, error);
    }
  }

  count(unread, more) {
    this.badge.textContent = more || unread > 99 ? "99+" : String(unread);
    this.badge.hidden = unread === 0;
    this.button.setAttribute(
      "aria-label",
      unread ? t("notify.label_unread", { count: this.badge.textContent }) : t("notify.label"),
    );
  }

  async show() {
    this.panel.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    await this.refresh();
  }

  hide() {
    this.panel.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
  }

  draw(notifications) {
    this.shown = notifications;
    if (!notifications.length) {
      this.list.replaceChildren(element("li", "empty", t("notify.none")));
      return;
    }
    this.list.replaceChildren(
      ...notifications.map((notification) => {
        const item = element("li", notification.read_at ? "read" : "unread");
        item.dataset.id = String(notification.id);
        item.dataset.chatId = String(notification.chat_id);
        item.tabIndex = 0;
        item.setAttribute("role", "link");
        const what = KINDS[notification.kind] ? t(KINDS[notification.kind]) : notification.kind;
        const title = notification.chat_title || t("chat.untitled", { id: notification.chat_id });
        const at = element("time", "at", when(notification.created_at));
        at.dateTime = notification.created_at;
        at.title = fullDate(notification.created_at);
        item.append(element("span", "what", what), element("span", "chat", title), at);
        item.addEventListener("keydown", (event) => {
          if (event.key === "Enter") this.pick(notification.id);
        });
        return item;
      }),
    );
  }

  // Open the notification's chat; everything unread about that chat is read now.
  async pick(id) {
    const picked = this.shown.find((notification) => notification.id === id);
    if (!picked) return;
    const ids = this.shown.filter((n) => n.chat_id === picked.chat_id && !n.read_at).map((n) => n.id);
    this.hide();
    this.openChat(picked.chat_id);
    if (ids.length) await this.markRead({ ids });
  }

  async markRead(body) {
    try {
      await api("POST", "/notifications/read", body);
      showError(this.error, null);
    } catch (error) {
      showError(this.error, error);
    }
    await this.refresh();
  }
}
