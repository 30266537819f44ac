// The composer under an open chat: reply or internal note, Enter sends (never while an IME
// composes), a refusal of the API is shown under it. Files go out as one multipart message
// (the JSON payload part first, so the channel's limits refuse a file before it is uploaded)
// with the upload's progress; "#" completes macros (the API expands "#shortcut" when the
// message is sent, filling in the customer's name and the like), "@" in a note completes
// managers and teams (the API finds "@Name" in the text and notifies them), ":" and two or more
// letters complete emoji (emoji.js: by English name, or a Korean or Japanese word); a reply can carry
// link buttons and an input form (its answers are saved to the customer's profile under each
// field's key).
import { api, apiUpload } from "./api.js";
import { Completer } from "./complete.js";
import { findEmoji } from "./emoji.js";
import { t } from "./i18n.js";
import { people } from "./people.js";
import { element } from "./dom.js";
import { showError } from "./messages.js";

// "#ab" at the caret, the "#" not glued to a word (the API's own rule for a macro token).
const MACRO = /(?<![\p{L}\p{N}_#&])#([\p{L}\p{N}_.-]*)$/u;
// "@ki" at the caret, the "@" not glued to a word (that is an email address).
const MENTION = /(?<![\p{L}\p{N}._-])@([^\s@#]*)$/u;
// ":smi" at the caret (a Japanese IME's "：" too), not glued to a word or a number ("10:30", a
// URL's "https:"), two characters at least so that ":)" or a lone ":p" never opens the list.
const EMOJI = /(?<![\p{L}\p{N}_:：/])[:：](\p{L}[\p{L}\p{N}_+-]+)$/u;

function size(bytes) {
  for (const [unit, factor] of [["GB", 1024 ** 3], ["MB", 1024 ** 2], ["KB", 1024]]) {
    if (bytes >= factor) return `${(bytes / factor).toFixed(1).replace(/\.0$/, "")} ${unit}`;
  }
  return t("compose.bytes", { count: bytes });
}

// A name matches when it, or one of its words, starts with what was typed.
function matches(name, query) {
  const lowered = name.toLowerCase();
  const typed = query.toLowerCase();
  return lowered.startsWith(typed) || lowered.split(/[\s()]+/).some((word) => word.startsWith(typed));
}

export class Composer {
  // conversation: the open chat (its id, reload() after a send)
  constructor(conversation) {
    this.conversation = conversation;
    this.form = document.getElementById("composer");
    this.text = document.getElementById("compose-text");
    this.error = document.getElementById("compose-error");
    this.files = [];
    this.buttons = [];
    this.fields = [];
    this.completer = new Completer(this.text, document.getElementById("compose-complete"), [
      { pattern: MACRO, find: (query) => this.macros(query) },
      { pattern: MENTION, find: (query) => this.mentions(query), enabled: () => this.mode() === "note" },
      { pattern: EMOJI, find: async (query) => findEmoji(query).map((found) => ({ label: found.emoji, detail: `:${found.name}:`, insert: found.emoji })) },
    ]);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.text.addEventListener("keydown", (event) => {
      if (this.completer.handleKey(event)) return;
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
        this.completer.close();
      });
    }
    const attach = document.getElementById("compose-attach");
    attach.addEventListener("change", () => {
      this.attach(attach.files);
      attach.value = ""; // the same file can be picked again after removing it
    });
    // Files pasted into the text or dropped on the composer are attached too.
    this.text.addEventListener("paste", (event) => {
      if (event.clipboardData && event.clipboardData.files.length) {
        event.preventDefault();
        this.attach(event.clipboardData.files);
      }
    });
    this.form.addEventListener("dragover", (event) => {
      if (event.dataTransfer && event.dataTransfer.types.includes("Files")) event.preventDefault();
    });
    this.form.addEventListener("drop", (event) => {
      if (event.dataTransfer && event.dataTransfer.files.length) {
        event.preventDefault();
        this.attach(event.dataTransfer.files);
      }
    });
    this.sending = false;
    this.uploading = null; // the AbortController of the upload under way
    document.getElementById("compose-cancel").addEventListener("click", () => {
      if (this.uploading) this.uploading.abort();
    });
    this.buttonForm = document.getElementById("compose-button-form");
    document.getElementById("compose-add-button").addEventListener("click", () => {
      this.buttonForm.hidden = false;
      document.getElementById("button-text").focus();
    });
    document.getElementById("button-cancel").addEventListener("click", () => this.closeButtonForm());
    document.getElementById("button-add").addEventListener("click", () => this.addButton());
    this.fieldForm = document.getElementById("compose-form-builder");
    document.getElementById("compose-add-field").addEventListener("click", () => {
      this.fieldForm.hidden = false;
      document.getElementById("field-label").focus();
    });
    document.getElementById("field-cancel").addEventListener("click", () => this.closeFieldForm());
    document.getElementById("field-add").addEventListener("click", () => this.addField());
    // Enter in a button's or a field's inputs adds it; it must not send the message.
    for (const [box, add] of [[this.buttonForm, () => this.addButton()], [this.fieldForm, () => this.addField()]]) {
      box.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && event.target.tagName === "INPUT" && !event.isComposing) {
          event.preventDefault();
          add();
        }
      });
    }
  }

  mode() {
    return this.form.querySelector("input[name=mode]:checked").value;
  }

  // A chat was opened: nothing refused yet, no files or buttons meant for the last one, the
  // cursor in the text.
  reset() {
    showError(this.error, null);
    this.files = [];
    this.buttons = [];
    this.fields = [];
    this.drawFiles();
    this.drawButtons();
    this.drawFields();
    this.buttonForm.hidden = true;
    this.fieldForm.hidden = true;
    this.completer.close();
    this.text.focus();
  }

  async macros(query) {
    const found = await api("GET", `/macros?q=${encodeURIComponent(query)}`);
    return found.map((macro) => ({ label: `#${macro.shortcut}`, detail: macro.text, insert: `#${macro.shortcut}` }));
  }

  async mentions(query) {
    const { managers, teams } = await people();
    return [
      ...managers.map((manager) => ({ label: `@${manager.name}`, insert: `@${manager.name}`, name: manager.name })),
      ...teams.map((team) => ({ label: `@${team.name}`, detail: t("compose.team"), insert: `@${team.name}`, name: team.name })),
    ].filter((item) => matches(item.name, query));
  }

  attach(files) {
    this.files.push(...files);
    this.drawFiles();
  }

  // The attached files; `uploading` ones are on their way and can only be cancelled together.
  drawFiles(uploading = null) {
    const list = document.getElementById("compose-files");
    list.replaceChildren(
      ...(uploading ?? this.files).map((file, index) => {
        const item = element("li", "chip");
        item.append(element("span", "filename", file.name), element("span", "size", size(file.size)));
        if (uploading) return item;
        const remove = item.appendChild(element("button", "remove", "×"));
        remove.type = "button";
        remove.setAttribute("aria-label", t("compose.remove", { name: file.name }));
        remove.addEventListener("click", () => {
          this.files.splice(index, 1);
          this.drawFiles();
        });
        return item;
      }),
    );
  }

  addButton() {
    const text = document.getElementById("button-text");
    const url = document.getElementById("button-url");
    const colour = document.getElementById("button-colour");
    // The API checks the button (text, http(s) URL, at most three); only empty ones stay here.
    if (!text.value.trim() || !url.value.trim()) {
      showError(this.error, new Error(t("compose.button_needs")));
      return;
    }
    this.buttons.push({ text: text.value.trim(), url: url.value.trim(), colour: colour.value });
    text.value = "";
    url.value = "";
    showError(this.error, null);
    this.closeButtonForm();
    this.drawButtons();
  }

  closeButtonForm() {
    this.buttonForm.hidden = true;
    this.text.focus();
  }

  drawButtons() {
    const list = document.getElementById("compose-buttons");
    list.replaceChildren(
      ...this.buttons.map((button, index) => {
        const item = element("li", `chip link-button colour-${button.colour}`);
        item.append(element("span", "label", button.text), element("span", "url", button.url));
        const remove = item.appendChild(element("button", "remove", "×"));
        remove.type = "button";
        remove.setAttribute("aria-label", t("compose.remove", { name: button.text }));
        remove.addEventListener("click", () => {
          this.buttons.splice(index, 1);
          this.drawButtons();
        });
        return item;
      }),
    );
  }

  addField() {
    const label = document.getElementById("field-label");
    const key = document.getElementById("field-key");
    const type = document.getElementById("field-type");
    const required = document.getElementById("field-required");
    // The API checks the field (its key's characters, a key used twice); only empty ones stay.
    if (!label.value.trim() || !key.value.trim()) {
      showError(this.error, new Error(t("compose.field_needs")));
      return;
    }
    this.fields.push({ key: key.value.trim(), label: label.value.trim(), type: type.value, required: required.checked });
    label.value = "";
    key.value = "";
    required.checked = false;
    showError(this.error, null);
    this.closeFieldForm();
    this.drawFields();
  }

  closeFieldForm() {
    this.fieldForm.hidden = true;
    this.text.focus();
  }

  drawFields() {
    const list = document.getElementById("compose-form-fields");
    list.replaceChildren(
      ...this.fields.map((field, index) => {
        const item = element("li", "chip form-field");
        const type = t(`compose.type_${field.type}`) + (field.required ? ` · ${t("compose.field_required")}` : "");
        item.append(element("span", "label", field.label), element("span", "type", type), element("code", "key", field.key));
        const remove = item.appendChild(element("button", "remove", "×"));
        remove.type = "button";
        remove.setAttribute("aria-label", t("compose.remove", { name: field.label }));
        remove.addEventListener("click", () => {
          this.fields.splice(index, 1);
          this.drawFields();
        });
        return item;
      }),
    );
  }

  progress(fraction) {
    const box = document.getElementById("compose-progress");
    if (fraction === null) {
      box.hidden = true;
      return;
    }
    const percent = Math.round(fraction * 100);
    document.getElementById("compose-progress-bar").value = percent;
    document.getElementById("compose-progress-text").textContent = t("compose.uploaded", { percent });
    box.hidden = false;
  }

  // What is in the composer leaves it as the send starts: what is typed meanwhile is the next
  // message (Enter queues it), and a refused or cancelled send is put back in front of it.
  async send() {
    if (this.sending) {
      this.sendNext = true;
      return;
    }
    const chatId = this.conversation.id;
    const text = this.text.value.trimEnd(); // a picked macro or mention leaves a space behind
    if (chatId === null || (!text.trim() && !this.files.length)) return;
    this.sending = true;
    const body = this.mode() === "note" ? { kind: "note", text } : { text };
    if (this.buttons.length) body.buttons = this.buttons;
    if (this.fields.length) body.form = { fields: this.fields };
    const taken = { text: this.text.value, files: this.files, buttons: this.buttons, fields: this.fields };
    this.text.value = "";
    this.files = [];
    this.buttons = [];
    this.fields = [];
    this.drawButtons();
    this.drawFields();
    const button = document.getElementById("send");
    button.disabled = true;
    this.completer.close();
    try {
      if (taken.files.length) {
        const form = new FormData();
        form.append("payload", JSON.stringify(body)); // first: the limits apply from it on
        for (const file of taken.files) form.append("file", file, file.name);
        this.drawFiles(taken.files); // shown with the upload's progress until it is sent
        this.progress(0);
        this.uploading = new AbortController();
        const shown = (fraction) => this.progress(fraction);
        await apiUpload(`/chats/${chatId}/messages`, form, shown, this.uploading.signal);
      } else {
        await api("POST", `/chats/${chatId}/messages`, body);
      }
      showError(this.error, null);
      await this.conversation.reload();
      this.conversation.scrollToEnd();
    } catch (error) {
      this.sendNext = false; // the person sees what was refused before anything else goes
      this.text.value = this.text.value ? `${taken.text}\n${this.text.value}` : taken.text;
      this.files = [...taken.files, ...this.files];
      this.buttons = [...taken.buttons, ...this.buttons];
      this.fields = [...taken.fields, ...this.fields];
      this.drawButtons();
      this.drawFields();
      if (error.cancelled) showError(this.error, new Error(t("compose.upload_cancelled")));
      else if (error.answered === false) showError(this.error, new Error(t("compose.upload_failed")));
      else showError(this.error, error);
    } finally {
      this.sending = false;
      this.uploading = null;
      this.progress(null);
      this.drawFiles();
      button.disabled = false;
      this.text.focus();
      if (this.sendNext) {
        this.sendNext = false;
        this.send();
      }
    }
  }

}
