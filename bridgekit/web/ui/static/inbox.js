// The inbox screen: the sidebar picks a view, the list shows its chats, a chat opens beside
// it (its URL is /chats/{id}) and everything follows the event stream without a reload.
import { listen } from "./events.js";
import { t } from "./i18n.js";
import { ChatList } from "./chatlist.js";
import { Conversation } from "./conversation.js";
import { Notifications } from "./notifications.js";
import { refresh as refreshSidebar } from "./shell.js";

const pane = document.getElementById("chat-pane");
const live = document.getElementById("live");
const views = document.getElementById("views");

// The language switcher's links lead back to the chat open now.
function backHere() {
  for (const link of document.querySelectorAll(".langs a")) {
    const url = new URL(link.href);
    url.searchParams.set("next", window.location.pathname);
    link.href = url.pathname + url.search;
  }
}

function later(run, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(() => run().catch(() => {}), ms);
  };
}

const conversation = new Conversation(() => {
  list.update();
  sidebarSoon();
});
const list = new ChatList((chatId) => open(chatId, true));
const notifications = new Notifications((chatId) => open(chatId, true), () => conversation.id);
const sidebarSoon = later(refreshSidebar, 300);
const listSoon = later(() => list.update(), 300);

async function open(chatId, push) {
  if (push) {
    history.pushState({ chatId }, "", `/chats/${chatId}`);
    backHere();
  }
  list.markOpen(chatId);
  await conversation.open(chatId);
  notifications.chatOpened();
}

function select(key, keepResult = false) {
  for (const li of views.querySelectorAll("li[data-view]")) li.classList.toggle("selected", li.dataset.view === key);
  list.show(key, keepResult);
}

views.addEventListener("click", (event) => {
  const item = event.target.closest("li[data-view]");
  if (item) select(item.dataset.view);
});
// The selected view left the sidebar (the queue emptied, a tag's last chat lost it): All.
// Often a bulk action emptied it: its result stays in view.
views.addEventListener("view-gone", () => select("all", true));
views.addEventListener("sessions-changed", () => {
  if (list.key === "sessions") list.reload();
});
views.addEventListener("keydown", (event) => {
  const item = event.target.closest("li[data-view]");
  if (item && (event.key === "Enter" || event.key === " ")) {
    event.preventDefault();
    select(item.dataset.view);
  }
});
window.addEventListener("popstate", () => {
  backHere();
  const found = window.location.pathname.match(/^\/chats\/(\d+)$/);
  if (found) open(Number(found[1]), false);
  else {
    list.markOpen(null);
    conversation.close();
  }
});

listen(
  (kind, data) => {
    notifications.onEvent(kind);
    if (kind === "reconnected") {
      list.update();
      sidebarSoon();
      conversation.reload().catch(() => {});
      return;
    }
    if (data.chat_id !== undefined && data.chat_id === conversation.id) {
      if (kind.startsWith("message.")) conversation.reload().catch(() => {});
      else if (kind === "chat.updated") conversation.refreshHead();
    } else if (data.chat_id !== undefined && kind.startsWith("message.")) {
      conversation.otherChatMessage(data.chat_id);
    }
    if (kind === "customer.updated") {
      conversation.customerChanged(data.customer_id);
      listSoon(); // the list's titles are customers' names
    }
    if (kind.startsWith("message.") || kind === "chat.updated" || kind === "chat.deleted") {
      listSoon(); // the list and every count of the sidebar (a queue, an assignee may come or go)
      sidebarSoon();
    }
  },
  (state) => {
    notifications.onState(state);
    live.dataset.state = state;
    live.textContent = state === "live" ? t("live.live") : t("live.reconnecting");
  },
);

select("all");
if (pane.dataset.chatId) open(Number(pane.dataset.chatId), false);
