// The chat list of the selected view: search, sort, and pages over the cursor API
// ("Load more", also when it scrolls into sight); a checkbox per row for bulk actions
// (bulk.js). Every value is set as text.
import { api } from "./api.js";
import { t, when, fullDate } from "./i18n.js";
import { BulkBar } from "./bulk.js";
import { refresh as refreshSidebar } from "./shell.js";

const PAGE = 30;

// A sidebar key (see shell.js) as the list's query.
export function viewQuery(key) {
  const query = new URLSearchParams();
  const [view, ...rest] = key.split(":");
  const arg = rest.join(":");
  query.set("view", view);
  if ((view === "unassigned" || view === "queue") && rest[0] === "team") query.set("team", rest[1]);
  else if (view === "assignee") query.set("manager", arg);
  else if (view === "integration") query.set("integration", arg);
  else if (view === "tag") query.set("tag", arg);
  return query;
}

export { when }; // dates are formatted in the page's language (i18n.js)

function span(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

function row(chat, openId, picked) {
  const li = document.createElement("li");
  li.dataset.chatId = String(chat.id);
  li.className = "chat";
  if (chat.unread) li.classList.add("unread");
  if (String(chat.id) === String(openId)) li.classList.add("open");
  if (picked) li.classList.add("picked");
  const title = chat.customer_name || chat.title || t("chat.untitled", { id: chat.id });
  const pick = li.appendChild(document.createElement("input"));
  pick.type = "checkbox";
  pick.className = "pick";
  pick.checked = picked;
  pick.setAttribute("aria-label", t("bulk.select_chat", { title }));
  const link = li.appendChild(document.createElement("a"));
  link.href = `/chats/${chat.id}`;
  const top = link.appendChild(document.createElement("span"));
  top.className = "line";
  top.append(span("mark", chat.mark || ""), span("title", title));
  if (chat.starred) top.append(span("star", "★"));
  if (chat.unread) top.append(span("dot", "●"));
  const time = span("time", when(chat.last_message_at));
  time.title = fullDate(chat.last_message_at);
  top.append(time);
  const last = chat.last_message;
  const preview = !last ? "" : last.kind === "note" ? t("preview.note", { text: last.text }) : last.kind === "reply" ? t("preview.you", { text: last.text }) : last.text;
  link.append(span("preview", preview));
  return li;
}

export class ChatList {
  constructor(onOpen) {
    this.list = document.getElementById("chats");
    this.more = document.getElementById("more");
    this.error = document.getElementById("list-error");
    this.search = document.getElementById("search");
    this.sort = document.getElementById("sort");
    this.key = "all";
    this.q = "";
    this.cursor = null;
    this.openId = null;
    this.loading = null;
    this.generation = 0;
    this.list.addEventListener("click", (event) => {
      const link = event.target.closest("a[href^='/chats/']");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      onOpen(Number(link.closest("li").dataset.chatId));
    });
    this.more.addEventListener("click", () => this.page());
    new IntersectionObserver((seen) => {
      if (seen.some((entry) => entry.isIntersecting) && this.cursor) this.page();
    }).observe(this.more);
    let typing = null;
    this.search.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => this.reload(), 250);
    });
    this.sort.addEventListener("change", () => this.reload());
    this.bulk = new BulkBar(this, () => refreshSidebar().catch(() => {}));
  }

  row(chat) {
    return row(chat, this.openId, this.bulk.isPicked(chat.id));
  }

  query(cursor) {
    const query = viewQuery(this.key);
    query.set("sort", this.sort.value);
    query.set("limit", String(PAGE));
    if (this.q) query.set("q", this.q);
    if (cursor) query.set("cursor", cursor);
    return query;
  }

  // keepResult: the view changed by itself (it left the sidebar), not by the manager's choice.
  show(key, keepResult = false) {
    this.key = key;
    return this.reload(keepResult);
  }

  async reload(keepResult = false) {
    this.generation += 1;
    this.cursor = null;
    this.loading = null;
    this.q = this.search.value.trim(); // the search of the rows shown (and of "all matching")
    this.list.replaceChildren();
    this.bulk.reset(keepResult);
    return this.page(true);
  }

  async page(first = false) {
    if (this.loading) return this.loading;
    if (!first && !this.cursor) return;
    const generation = this.generation;
    this.loading = (async () => {
      try {
        const found = await api("GET", `/chats?${this.query(first ? null : this.cursor)}`);
        if (generation !== this.generation) return;
        this.error.hidden = true;
        for (const chat of found.chats) {
          this.list.querySelector(`li[data-chat-id="${chat.id}"]`)?.remove();
          this.list.append(this.row(chat));
        }
        this.cursor = found.next_cursor;
        this.more.hidden = !this.cursor;
        this.bulk.sync();
      } catch (error) {
        this.error.textContent = error.message;
        this.error.hidden = false;
      } finally {
        if (generation === this.generation) this.loading = null;
      }
    })();
    return this.loading;
  }

  // After an event: the first page again, its rows put on top (pages loaded further stay).
  async update() {
    const generation = this.generation;
    try {
      const found = await api("GET", `/chats?${this.query(null)}`);
      if (generation !== this.generation) return;
      const rows = found.chats.map((chat) => this.row(chat));
      for (const chat of found.chats) this.list.querySelector(`li[data-chat-id="${chat.id}"]`)?.remove();
      if (!this.cursor) this.list.replaceChildren(...rows);
      else this.list.prepend(...rows);
      this.bulk.sync();
    } catch (error) {
      this.error.textContent = error.message;
      this.error.hidden = false;
    }
  }

  markOpen(chatId) {
    this.openId = chatId;
    for (const li of this.list.querySelectorAll("li.chat")) li.classList.toggle("open", li.dataset.chatId === String(chatId));
  }
}
