// A completion list under a textarea: a trigger ("#" for macros, "@" for mentions, ":" for
// emoji) and what is typed after it open the list of matches; ↑/↓ choose, Enter or Tab picks,
// Escape closes.
// Each source says what its trigger looks like (a regular expression ending at the caret,
// whose group 1 is the query) and finds the items: { label, detail, insert }.
import { element } from "./dom.js";

export class Completer {
  constructor(textarea, list, sources) {
    this.textarea = textarea;
    this.list = list;
    this.sources = sources;
    this.items = [];
    this.active = 0;
    this.range = null; // [start, end) of the trigger and query being completed
    this.asked = 0; // answers to older keystrokes are dropped
    textarea.addEventListener("input", () => this.update());
    textarea.addEventListener("click", () => this.update());
    textarea.addEventListener("blur", () => this.close());
    // A click on the list must not blur the textarea first (that would close the list).
    list.addEventListener("mousedown", (event) => event.preventDefault());
    list.addEventListener("click", (event) => {
      const option = event.target.closest("li[data-index]");
      if (option) this.pick(Number(option.dataset.index));
    });
  }

  get open() {
    return !this.list.hidden;
  }

  // Called first by the textarea's keydown: true when the key was the list's.
  handleKey(event) {
    if (!this.open || event.isComposing || event.keyCode === 229) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.active = (this.active + step + this.items.length) % this.items.length;
      this.draw();
    } else if (event.key === "Enter" || event.key === "Tab") {
      this.pick(this.active);
    } else if (event.key === "Escape") {
      this.close();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  async update() {
    const asked = ++this.asked;
    const caret = this.textarea.selectionStart;
    if (caret !== this.textarea.selectionEnd) return this.close();
    const before = this.textarea.value.slice(0, caret);
    for (const source of this.sources) {
      if (source.enabled && !source.enabled()) continue;
      const found = source.pattern.exec(before);
      if (!found) continue;
      let items;
      try {
        items = await source.find(found[1]);
      } catch {
        items = []; // the list is a help: a failed look-up only hides it
      }
      if (asked !== this.asked) return; // typed on meanwhile
      this.range = [caret - found[0].length, caret];
      this.items = items.slice(0, 8);
      this.active = 0;
      return this.items.length ? this.draw() : this.close();
    }
    this.close();
  }

  draw() {
    this.list.replaceChildren(
      ...this.items.map((item, index) => {
        const option = element("li", index === this.active ? "active" : "");
        option.id = `${this.list.id}-${index}`;
        option.dataset.index = String(index);
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", String(index === this.active));
        option.append(element("span", "label", item.label));
        if (item.detail) option.append(element("span", "detail", item.detail));
        return option;
      }),
    );
    this.list.hidden = false;
    this.textarea.setAttribute("aria-expanded", "true");
    this.textarea.setAttribute("aria-activedescendant", `${this.list.id}-${this.active}`);
  }

  close() {
    this.asked++;
    this.list.hidden = true;
    this.list.replaceChildren();
    this.items = [];
    this.textarea.setAttribute("aria-expanded", "false");
    this.textarea.removeAttribute("aria-activedescendant");
  }

  // Replace the trigger and query with the item's text and a space, the caret after it.
  pick(index) {
    const item = this.items[index];
    if (!item || !this.range) return this.close();
    const [start, end] = this.range;
    const value = this.textarea.value;
    const insert = `${item.insert} `;
    this.textarea.value = value.slice(0, start) + insert + value.slice(end);
    const caret = start + insert.length;
    this.textarea.setSelectionRange(caret, caret);
    this.close();
    this.textarea.focus();
  }
}
