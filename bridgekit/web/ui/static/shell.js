// The inbox's sidebar: every view of GET /api/v1/views with its count. The server renders it
// first; refresh() redraws it from the API (a queue, team, assignee or tag may come and go: when
// the selected one goes, "view-gone" is dispatched on the list and inbox.js shows All). Below
// it, the manager's "notify me of unassigned chats" switch (PATCH /api/v1/managers/{me}): on,
// My sessions also holds the chats nobody is assigned to and new ones notify them
// (bridgekit/inbox/notify.py); "sessions-changed" tells inbox.js to read that view again.
import { api } from "./api.js";
import { myId } from "./chathead.js";
import { t } from "./i18n.js";
import { showError } from "./messages.js";

const REFRESH_MS = 30000;

function entry(key, label, count, extra = {}) {
  return { key, label, count, ...extra };
}

function teams(prefix, list) {
  return list.filter((team) => team.id !== null).map((team) => entry(`${prefix}:team:${team.id}`, team.name || t("view.no_team"), team.count, { sub: true }));
}

// The same entries, in the same order, as bridgekit/web/shell.py renders.
export function entries(views) {
  const found = [
    entry("all", t("view.all"), views.all, { group: t("group.me") }),
    entry("mine", t("view.mine"), views.mine),
    entry("unread", t("view.unread"), views.unread),
    entry("favourites", t("view.favourites"), views.favourites),
    entry("sessions", t("view.sessions"), views.sessions),
    entry("unassigned", t("view.unassigned"), views.unassigned.count, { group: t("group.waiting") }),
    ...teams("unassigned", views.unassigned.teams),
  ];
  if (views.queue) found.push(entry("queue", t("view.queue"), views.queue.count), ...teams("queue", views.queue.teams));
  views.assignees.forEach((a, n) =>
    found.push(entry(`assignee:${a.id}`, a.name, a.count, { group: n === 0 ? t("group.assignees") : "", warn: a.over_capacity })),
  );
  views.integrations.forEach((i, n) =>
    found.push(entry(`integration:${i.name}`, i.name, i.count, { group: n === 0 ? t("group.integrations") : "", mark: i.mark || i.title })),
  );
  views.tags.forEach((tag, n) => found.push(entry(`tag:${tag.tag}`, `#${tag.tag}`, tag.count, { group: n === 0 ? t("group.tags") : "" })));
  return found;
}

function item(view, selected) {
  const li = document.createElement("li");
  li.dataset.view = view.key;
  if (view.sub) li.classList.add("sub");
  if (view.warn) li.classList.add("over");
  if (view.key === selected) li.classList.add("selected");
  if (view.mark) {
    const mark = li.appendChild(document.createElement("span"));
    mark.className = "mark";
    mark.textContent = view.mark;
  }
  const name = li.appendChild(document.createElement("span"));
  name.className = "name";
  name.textContent = view.label;
  li.append(" ");
  const count = li.appendChild(document.createElement("span"));
  count.className = "count";
  count.textContent = String(view.count);
  return li;
}

export function render(views) {
  const list = document.getElementById("views");
  const selected = list.querySelector("li.selected")?.dataset.view;
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.view : undefined;
  const items = [];
  for (const view of entries(views)) {
    if (view.group) {
      const group = document.createElement("li");
      group.className = "group";
      group.setAttribute("role", "presentation");
      group.textContent = view.group;
      items.push(group);
    }
    items.push(item(view, selected));
  }
  list.replaceChildren(...items);
  makeSelectable(list);
  // A keyboard user keeps their place when the counts change under them.
  if (focused) items.find((li) => li.dataset.view === focused)?.focus();
  if (selected && !items.some((li) => li.dataset.view === selected)) {
    list.dispatchEvent(new CustomEvent("view-gone", { detail: selected })); // e.g. the queue emptied
  }
}

// Entries are list items (the test reads their plain markup); make them reachable by keyboard.
export function makeSelectable(list) {
  for (const li of list.querySelectorAll("li[data-view]")) {
    li.tabIndex = 0;
    li.setAttribute("role", "button");
  }
}

export async function refresh() {
  render(await api("GET", "/views"));
}

// The switch shows the setting as the server holds it; a refusal puts it back and says why.
async function setNotifyUnassigned(box, error) {
  const wanted = box.checked;
  box.disabled = true;
  try {
    const me = await api("PATCH", `/managers/${myId()}`, { notify_unassigned: wanted });
    box.checked = me.notify_unassigned;
    showError(error, null);
    document.getElementById("views").dispatchEvent(new CustomEvent("sessions-changed"));
    await refresh();
  } catch (failure) {
    box.checked = !wanted;
    showError(error, failure);
  } finally {
    box.disabled = false;
  }
}

const notify = document.getElementById("notify-unassigned");
notify.addEventListener("change", () => setNotifyUnassigned(notify, document.getElementById("notify-error")));
makeSelectable(document.getElementById("views"));
setInterval(() => refresh().catch(() => {}), REFRESH_MS);
