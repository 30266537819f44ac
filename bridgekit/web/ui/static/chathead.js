// The open chat's head: star, follow, assign to me, close, reopen (where its channel allows),
// snooze (presets or a date up to 180 days ahead, in the manager's time zone), copy links
// (links.js) and delete (with the permission, after a confirmation). The API decides; its
// refusal is shown beside the control.
import { api } from "./api.js";
import { fullDate, t } from "./i18n.js";
import { ChatLinks } from "./links.js";
import { showError } from "./messages.js";
import { latestSnooze, localInput, presetTime, timeZone } from "./timezone.js";

export function myId() {
  return Number(document.getElementById("manager-name").dataset.managerId);
}

export class ChatHead {
  // conversation: the open chat (its chat, act(), close(), onChanged)
  constructor(conversation) {
    this.conversation = conversation;
    this.error = document.getElementById("action-error");
    this.snooze = document.getElementById("snooze");
    this.snoozeError = document.getElementById("snooze-error");
    this.until = document.getElementById("snooze-until");
    this.dialog = document.getElementById("delete-dialog");
    this.links = new ChatLinks(conversation);
    const on = (id, run) => document.getElementById(id).addEventListener("click", run);
    const act = (method, path, body) => this.conversation.act(method, path, body, this.error);
    on("act-star", () => act(this.chat.starred ? "DELETE" : "PUT", "star"));
    on("act-follow", () => act(this.following() ? "DELETE" : "PUT", `followers/${myId()}`));
    on("act-assign", () => act("POST", "assign", { manager_id: myId() }));
    on("act-close", () => act("POST", "close"));
    on("act-reopen", () => act("POST", "reopen"));
    on("act-delete", () => {
      showError(this.error, null);
      this.dialog.returnValue = ""; // an Escape must not count as the last answer given
      this.dialog.showModal();
    });
    this.dialog.addEventListener("close", () => {
      if (this.dialog.returnValue === "delete") this.remove();
    });
    for (const button of this.snooze.querySelectorAll("button[data-preset]")) {
      button.addEventListener("click", () => this.snoozeUntil(presetTime(button.dataset.preset)));
    }
    document.getElementById("snooze-form").addEventListener("submit", (event) => {
      event.preventDefault();
      if (!this.until.value) {
        showError(this.snoozeError, new Error(t("chat.snooze_pick")));
        return;
      }
      this.snoozeUntil(new Date(this.until.value)); // datetime-local is the manager's local time
    });
    this.snooze.addEventListener("toggle", () => {
      if (this.snooze.open) this.prepareSnooze();
    });
    // The menu folds on a click elsewhere or Escape, like a menu.
    document.addEventListener("click", (event) => {
      if (this.snooze.open && !this.snooze.contains(event.target)) this.snooze.open = false;
    });
    this.snooze.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.snooze.open = false;
    });
    document.getElementById("snooze-zone").textContent = t("chat.time_zone", { zone: timeZone });
  }

  get chat() {
    return this.conversation.chat;
  }

  following() {
    return Boolean(this.chat && this.chat.followers.some((person) => person.id === myId()));
  }

  // Draw the buttons for the chat as the API last described it.
  show(chat) {
    const star = document.getElementById("act-star");
    star.textContent = chat.starred ? t("chat.starred") : t("chat.star");
    star.setAttribute("aria-pressed", String(Boolean(chat.starred)));
    const follow = document.getElementById("act-follow");
    follow.textContent = this.following() ? t("chat.following") : t("chat.follow");
    follow.setAttribute("aria-pressed", String(this.following()));
    document.getElementById("act-assign").hidden = chat.assignee !== null && chat.assignee.id === myId();
    document.getElementById("act-close").hidden = chat.state === "closed";
    // E6: a closed chat of a channel that does not allow it (email) is not offered "reopen";
    // a snoozed one always is (it ends the snooze).
    document.getElementById("act-reopen").hidden =
      chat.state === "open" || chat.state === "queued" || (chat.state === "closed" && !chat.manager_can_reopen);
  }

  // A chat was opened: nothing refused yet, the menu folded.
  reset() {
    showError(this.error, null);
    showError(this.snoozeError, null);
    this.snooze.open = false;
    this.links.reset();
  }

  prepareSnooze() {
    const now = new Date();
    this.until.min = localInput(now);
    this.until.max = localInput(latestSnooze(now));
    if (!this.until.value) this.until.value = localInput(presetTime("tomorrow", now));
    for (const button of this.snooze.querySelectorAll("button[data-preset]")) {
      button.title = fullDate(presetTime(button.dataset.preset, now).toISOString());
    }
  }

  async snoozeUntil(date) {
    if (Number.isNaN(date.getTime())) {
      showError(this.snoozeError, new Error(t("chat.snooze_pick")));
      return;
    }
    if (await this.conversation.act("POST", "snooze", { until: date.toISOString() }, this.snoozeError)) {
      this.snooze.open = false;
      this.until.value = "";
    }
  }

  async remove() {
    const chatId = this.conversation.id;
    if (chatId === null) return;
    try {
      await api("DELETE", `/chats/${chatId}`);
    } catch (error) {
      showError(this.error, error);
      return;
    }
    history.pushState({}, "", "/");
    this.conversation.close();
    this.conversation.onChanged();
  }
}
