// The composer under an open chat: reply or internal note, Enter sends (never while an IME
// composes), a refusal of the API is shown under it.
import { api } from "./api.js";
import { t } from "./i18n.js";
import { showError } from "./messages.js";

export class Composer {
  // conversation: the open chat (its id, reload() after a send)
  constructor(conversation) {
    this.conversation = conversation;
    this.form = document.getElementById("composer");
    this.text = document.getElementById("compose-text");
    this.error = document.getElementById("compose-error");
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
  }

  mode() {
    return this.form.querySelector("input[name=mode]:checked").value;
  }

  // A chat was opened: nothing refused yet, the cursor in the text.
  reset() {
    showError(this.error, null);
    this.text.focus();
  }

  async send() {
    const chatId = this.conversation.id;
    const text = this.text.value;
    if (chatId === null || !text.trim()) return;
    const body = this.mode() === "note" ? { kind: "note", text } : { text };
    const button = document.getElementById("send");
    button.disabled = true;
    try {
      await api("POST", `/chats/${chatId}/messages`, body);
      this.text.value = "";
      showError(this.error, null);
      await this.conversation.reload();
      this.conversation.scrollToEnd();
    } catch (error) {
      showError(this.error, error);
    } finally {
      button.disabled = false;
      this.text.focus();
    }
  }
}
