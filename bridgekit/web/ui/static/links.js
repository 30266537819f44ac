// "Copy links" in the chat head (seed 003, I11): the manager link, for teammates, and the
// customer link, for this chat's customer only, from GET /api/v1/chats/{id}/links; a new
// customer link (the old one stops working) after a confirmation. Both are made on the
// server's public_url when it is set, else on the page's own origin (the address the manager
// reached the inbox by, which the server cannot know behind a proxy).
import { api } from "./api.js";
import { t } from "./i18n.js";
import { showError } from "./messages.js";

const STATUS_MS = 5000;

// `link` on the page's origin, unless the server has a public URL (then as the API made it).
export function onOrigin(link, publicUrl) {
  if (publicUrl) return link;
  const url = new URL(link);
  return `${window.location.origin}${url.pathname}${url.search}`;
}

// Put `text` on the clipboard. Where the Clipboard API is missing or refused (a page served
// over plain http on a LAN is not a secure context) the text is selected in `field` and
// copied the old way; false when even that failed (the text stays selected to copy by hand).
export async function copyText(text, field) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    field.focus();
    field.select();
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    }
  }
}

export class ChatLinks {
  // conversation: the open chat (its id)
  constructor(conversation) {
    this.conversation = conversation;
    this.menu = document.getElementById("links");
    this.publicUrl = this.menu.dataset.publicUrl || "";
    this.manager = document.getElementById("link-manager");
    this.customer = document.getElementById("link-customer");
    this.status = document.getElementById("links-status");
    this.error = document.getElementById("links-error");
    this.dialog = document.getElementById("rotate-dialog");
    this.statusTimer = null;
    document.getElementById("copy-manager").addEventListener("click", () => this.copy(this.manager, t("links.copied_manager")));
    document.getElementById("copy-customer").addEventListener("click", () => this.copy(this.customer, t("links.copied_customer")));
    document.getElementById("rotate-customer").addEventListener("click", () => {
      showError(this.error, null);
      this.dialog.returnValue = ""; // an Escape must not count as the last answer given
      this.dialog.showModal();
    });
    this.dialog.addEventListener("close", () => {
      if (this.dialog.returnValue === "rotate") this.rotate();
    });
    this.menu.addEventListener("toggle", () => {
      if (this.menu.open) this.load();
    });
    // The menu folds on a click elsewhere (its confirmation is not elsewhere) or Escape.
    document.addEventListener("click", (event) => {
      if (this.menu.open && !this.menu.contains(event.target) && !this.dialog.contains(event.target)) this.menu.open = false;
    });
    this.menu.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.menu.open = false;
    });
  }

  // A chat was opened: the menu folded, the last chat's links gone.
  reset() {
    this.menu.open = false;
    this.fill({ manager_link: "", customer_link: "" });
    this.say("");
    showError(this.error, null);
  }

  fill(links) {
    this.manager.value = links.manager_link ? onOrigin(links.manager_link, this.publicUrl) : "";
    this.customer.value = links.customer_link ? onOrigin(links.customer_link, this.publicUrl) : "";
  }

  say(text) {
    clearTimeout(this.statusTimer);
    this.status.textContent = text;
    if (text) this.statusTimer = setTimeout(() => (this.status.textContent = ""), STATUS_MS);
  }

  async request(method, path) {
    const chatId = this.conversation.id;
    if (chatId === null) return;
    try {
      const links = await api(method, `/chats/${chatId}/${path}`);
      if (this.conversation.id !== chatId) return; // another chat was opened meanwhile
      showError(this.error, null);
      this.fill(links);
      return links;
    } catch (error) {
      showError(this.error, error);
    }
  }

  load() {
    return this.request("GET", "links");
  }

  async rotate() {
    if (await this.request("POST", "links/rotate")) this.say(t("links.rotated"));
  }

  async copy(field, copied) {
    if (!field.value && !(await this.load())) return;
    this.say((await copyText(field.value, field)) ? copied : t("links.copy_by_hand"));
  }
}
