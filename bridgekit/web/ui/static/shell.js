// The inbox shell: keeps the sidebar's counts current. The page is rendered by the server;
// this only refreshes numbers, through the same API scripts use.
import { api } from "./api.js";

const REFRESH_MS = 30000;

function counts(views) {
  const found = {
    all: views.all,
    mine: views.mine,
    unread: views.unread,
    favourites: views.favourites,
    sessions: views.sessions,
    unassigned: views.unassigned.count,
    queue: views.queue ? views.queue.count : 0,
  };
  for (const integration of views.integrations) found[`integration:${integration.name}`] = integration.count;
  for (const tag of views.tags) found[`tag:${tag.tag}`] = tag.count;
  return found;
}

async function refresh() {
  const found = counts(await api("GET", "/views"));
  for (const item of document.querySelectorAll("#views li[data-view]")) {
    const count = found[item.dataset.view];
    if (count !== undefined) item.querySelector(".count").textContent = String(count);
  }
}

setInterval(() => refresh().catch(() => {}), REFRESH_MS);
