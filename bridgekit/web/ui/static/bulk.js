// Multi-select in the chat list and bulk actions (I7): close, snooze, assign or tag the chats
// ticked, or every chat the current view and search match ("select all N matching": the server
// finds them, POST /api/v1/chats/bulk with `query`). The result, and every refusal as the API
// words it, is shown under the bar. Every value is set as text.
import { api, refusal } from "./api.js";
import { lang, t } from "./i18n.js";
import { formatDateTime, latestSnooze, localInput, presetTime } from "./timezone.js";

const plural = new Intl.PluralRules(lang);

// `key_one` / `key_other`… by the page language's plural rule (every catalogue has `_other`).
function counted(key, count, values = {}) {
  const specific = `${key}_${plural.select(count)}`;
  const text = t(specific, { count, ...values });
  return text === specific ? t(`${key}_other`, { count, ...values }) : text;
}

// The snooze presets (timezone.js decides when each ends) with their labels.
function snoozePresets(now = new Date()) {
  return [
    { label: t("bulk.snooze_hour"), until: presetTime("hour", now) },
    { label: t("bulk.snooze_tomorrow"), until: presetTime("tomorrow", now) },
    { label: t("bulk.snooze_next_week"), until: presetTime("next_week", now) },
  ];
}

function button(text, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  element.addEventListener("click", onClick);
  return element;
}

// What one bulk answer says to a person: how many changed, and why the others were refused
// (one line per distinct reason, in the API's words).
function summary(done, results, extra) {
  const changed = results.filter((r) => r.ok).length;
  if (results.length === 0) return { text: t("bulk.none"), refused: false };
  const lines = [];
  if (changed > 0) lines.push(counted(`bulk.done_${done}`, changed, extra));
  const reasons = new Map();
  for (const r of results) {
    if (r.ok) continue;
    const reason = refusal(0, r).message; // in the page's language where the API gave a code
    reasons.set(reason, (reasons.get(reason) || 0) + 1);
  }
  for (const [reason, count] of reasons) lines.push(counted("bulk.refused", count, { reason }));
  return { text: lines.join(" "), refused: reasons.size > 0 };
}

export class BulkBar {
  // `list` is the ChatList: its rows, its query and its reload.
  constructor(list, onChanged) {
    this.list = list;
    this.onChanged = onChanged; // after an action: the sidebar's counts
    this.ids = new Set(); // chats ticked one by one
    this.all = false; // every chat matching the view and search, found by the server
    this.anchor = null; // the chat last ticked, for shift-click ranges
    this.busy = false;
    this.bar = document.getElementById("bulk-bar");
    this.count = document.getElementById("bulk-count");
    this.allButton = document.getElementById("bulk-all");
    this.pageBox = document.getElementById("select-page");
    this.result = document.getElementById("bulk-result");
    this.panels = {
      snooze: document.getElementById("bulk-snooze-panel"),
      assign: document.getElementById("bulk-assign-panel"),
      tag: document.getElementById("bulk-tag-panel"),
    };
    this.presets = document.getElementById("bulk-presets");
    this.until = document.getElementById("bulk-until");
    this.manager = document.getElementById("bulk-manager");
    this.tag = document.getElementById("bulk-tag-name");
    this.tags = document.getElementById("bulk-tags");

    this.list.list.addEventListener("click", (event) => {
      const box = event.target.closest("input.pick");
      if (box) this.tick(box, event.shiftKey);
    });
    this.pageBox.addEventListener("change", () => this.tickPage(this.pageBox.checked));
    this.allButton.addEventListener("click", () => {
      this.all = true;
      this.sync();
    });
    document.getElementById("bulk-clear").addEventListener("click", () => this.reset());
    this.bar.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.closePanels();
    });
    document.getElementById("bulk-close").addEventListener("click", () => this.run("close"));
    document.getElementById("bulk-snooze").addEventListener("click", () => this.toggle("snooze"));
    document.getElementById("bulk-assign").addEventListener("click", () => this.toggle("assign"));
    document.getElementById("bulk-tag").addEventListener("click", () => this.toggle("tag"));
    this.panels.snooze.addEventListener("submit", (event) => {
      event.preventDefault();
      // A datetime-local value without an offset is local time: the manager's time zone.
      // The form is not validated by the browser: a time past 180 days gets the API's refusal.
      const until = this.until.value ? new Date(this.until.value) : null;
      if (!until) this.until.focus();
      else this.run("snooze", { until: until.toISOString() }, { until: formatDateTime(until) });
    });
    this.panels.assign.addEventListener("submit", (event) => {
      event.preventDefault();
      const option = this.manager.selectedOptions[0];
      if (!option) return;
      if (!option.value) this.run("assign", { manager_id: null }, {}, "unassign");
      else this.run("assign", { manager_id: Number(option.value) }, { name: option.dataset.name });
    });
    this.panels.tag.addEventListener("submit", (event) => {
      event.preventDefault();
      const tag = this.tag.value.trim().replace(/^#/, "");
      this.run("tag", { tag }, { tag });
    });
  }

  isPicked(chatId) {
    return this.all || this.ids.has(chatId);
  }

  rows() {
    return [...this.list.list.querySelectorAll("li.chat")];
  }

  tick(box, shift) {
    const li = box.closest("li.chat");
    const rows = this.rows();
    if (this.all) {
      // Leaving "all matching": what stays ticked is what is on screen.
      this.all = false;
      for (const row of rows) this.ids.add(Number(row.dataset.chatId));
    }
    let targets = [li];
    const from = rows.findIndex((row) => Number(row.dataset.chatId) === this.anchor);
    if (shift && from >= 0) {
      const to = rows.indexOf(li);
      targets = rows.slice(Math.min(from, to), Math.max(from, to) + 1);
    }
    for (const row of targets) {
      const id = Number(row.dataset.chatId);
      if (box.checked) this.ids.add(id);
      else this.ids.delete(id);
    }
    this.anchor = Number(li.dataset.chatId);
    this.sync();
  }

  tickPage(checked) {
    this.all = false;
    this.ids.clear();
    if (checked) for (const row of this.rows()) this.ids.add(Number(row.dataset.chatId));
    this.sync();
  }

  // A new view, search or sort: nothing is selected and the last result goes (unless
  // keepResult: the list changed under it, e.g. the bulk action emptied the view shown).
  reset(keepResult = false) {
    this.ids.clear();
    this.all = false;
    this.anchor = null;
    if (!keepResult) this.showResult(null);
    this.sync();
  }

  // The page's checkboxes, the bar and its count from the selection (after any list change).
  sync() {
    const rows = this.rows();
    const shown = new Set(rows.map((row) => Number(row.dataset.chatId)));
    for (const id of this.ids) if (!shown.has(id)) this.ids.delete(id); // gone from the view
    for (const row of rows) {
      const picked = this.isPicked(Number(row.dataset.chatId));
      row.classList.toggle("picked", picked);
      row.querySelector("input.pick").checked = picked;
    }
    const everyRow = rows.length > 0 && (this.all || this.ids.size === rows.length);
    this.pageBox.checked = everyRow;
    this.pageBox.indeterminate = !everyRow && this.ids.size > 0;
    const known = this.matching();
    const selected = this.all || this.ids.size > 0;
    this.bar.hidden = !selected;
    if (!selected) this.closePanels();
    if (this.all) this.count.textContent = known === null ? t("bulk.all_selected_search") : counted("bulk.all_selected", known);
    else this.count.textContent = counted("bulk.selected", this.ids.size);
    // Offered when the whole page is ticked and the view holds more than the pages loaded.
    const more = Boolean(this.list.cursor) && (known === null || known > this.ids.size);
    this.allButton.hidden = this.all || !everyRow || !more;
    this.allButton.textContent = known === null ? t("bulk.select_all_search") : counted("bulk.select_all", known);
  }

  // How many chats "all matching" means, when the page knows: the sidebar's count of the view
  // when there is no search (the same chats: open, or queued in the queue), else all are loaded.
  matching() {
    if (!this.list.cursor) return this.rows().length;
    if (this.list.q) return null;
    const count = [...document.querySelectorAll("#views li[data-view]")].find((li) => li.dataset.view === this.list.key);
    const number = count ? Number(count.querySelector(".count")?.textContent) : NaN;
    return Number.isInteger(number) ? number : null;
  }

  closePanels() {
    for (const [name, panel] of Object.entries(this.panels)) {
      panel.hidden = true;
      document.getElementById(`bulk-${name}`).setAttribute("aria-expanded", "false");
    }
  }

  toggle(name) {
    const panel = this.panels[name];
    const opening = panel.hidden;
    this.closePanels();
    panel.hidden = !opening;
    document.getElementById(`bulk-${name}`).setAttribute("aria-expanded", String(opening));
    if (!opening) return;
    if (name === "snooze") this.fillSnooze();
    else if (name === "assign") this.fillManagers();
    else this.fillTags();
  }

  fillSnooze() {
    const now = new Date();
    this.presets.replaceChildren(
      ...snoozePresets(now).map((preset) => {
        const element = button(preset.label, () =>
          this.run("snooze", { until: preset.until.toISOString() }, { until: formatDateTime(preset.until) }),
        );
        element.title = formatDateTime(preset.until);
        return element;
      }),
    );
    this.until.min = localInput(now);
    this.until.max = localInput(latestSnooze(now));
    this.until.focus();
  }

  // Only managers with the operator seat can be assigned (I4); "nobody" unassigns.
  async fillManagers() {
    const me = Number(document.getElementById("manager-name").dataset.managerId);
    const submit = this.panels.assign.querySelector("button[type='submit']");
    submit.disabled = true; // until the list is here
    const nobody = document.createElement("option");
    nobody.value = "";
    nobody.textContent = t("bulk.nobody");
    try {
      const managers = await api("GET", "/managers");
      const options = managers
        .filter((m) => m.operator)
        .map((m) => {
          const option = document.createElement("option");
          option.value = String(m.id);
          option.dataset.name = m.name;
          option.textContent = m.id === me ? t("bulk.me", { name: m.name }) : m.name;
          option.selected = m.id === me;
          return option;
        });
      this.manager.replaceChildren(...options, nobody);
      submit.disabled = false;
      this.manager.focus();
    } catch (error) {
      this.showResult(error.message, true);
    }
  }

  // The sidebar's tags, offered for completion.
  fillTags() {
    const tags = [...document.querySelectorAll("#views li[data-view^='tag:']")].map((li) => li.dataset.view.slice(4));
    this.tags.replaceChildren(
      ...tags.map((tag) => {
        const option = document.createElement("option");
        option.value = tag;
        return option;
      }),
    );
    this.tag.focus();
  }

  showResult(text, refused = false) {
    this.result.textContent = text || "";
    this.result.hidden = !text;
    this.result.classList.toggle("error", refused);
  }

  // The request for the selection: the ids ticked, or the list's own query.
  target() {
    if (!this.all) return { chat_ids: [...this.ids] };
    const query = Object.fromEntries(this.list.query(null));
    delete query.limit;
    return { query };
  }

  // `extra` fills the result's message, `bulk.done_{done}`.
  async run(action, body = {}, extra = {}, done = action) {
    if (this.busy || !(this.all || this.ids.size)) return;
    this.busy = true;
    this.bar.setAttribute("aria-busy", "true");
    this.showResult(t("bulk.working"));
    try {
      const results = await api("POST", "/chats/bulk", { action, ...this.target(), ...body });
      const { text, refused } = summary(done, results, extra);
      await this.list.reload(); // clears the selection: the action is done
      this.showResult(text, refused);
      this.onChanged();
    } catch (error) {
      this.showResult(error.message, true); // the whole request was refused: nothing changed
    } finally {
      this.busy = false;
      this.bar.removeAttribute("aria-busy");
    }
  }
}
