// The customer beside the open chat (I17, GET /api/v1/customers/{id}): name, contacts, profile,
// the team's memo about them (the profile field "memo"), their other chats, the messages sent
// to them by SMS or Alimtalk, their events and the files and links exchanged. Name and memo are
// saved with PATCH /api/v1/customers/{id}; a customer.updated event redraws the panel.
import { AlimtalkForm } from "./alimtalk.js";
import { api } from "./api.js";
import { BrandForm } from "./brandmessage.js";
import { t } from "./i18n.js";
import { showError } from "./messages.js";
import { fill, forget, stateText, timeNode } from "./fields.js";

const MEMO = "memo"; // the profile field the memo is kept in
const KINDS = { email: t("customer.kind_email"), phone: t("customer.kind_phone") };

function row(...parts) {
  const li = document.createElement("li");
  for (const part of parts) {
    if (part === null || part === undefined || part === "") continue;
    if (li.childNodes.length) li.append(" · ");
    li.append(part);
  }
  return li;
}

function empty() {
  const li = document.createElement("li");
  li.className = "empty";
  li.textContent = t("info.none");
  return li;
}

function list(id, items) {
  document.getElementById(id).replaceChildren(...(items.length ? items : [empty()]));
}

function link(href, text, download) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  if (download) a.download = text;
  else if (!href.startsWith("/")) a.rel = "noopener noreferrer"; // a customer's link leaves the inbox
  if (!href.startsWith("/")) a.target = "_blank";
  return a;
}

export class CustomerPanel {
  // conversation: the open chat (refreshHead() and onChanged() after the name changed)
  constructor(conversation) {
    this.conversation = conversation;
    this.customerId = null;
    this.chatIds = new Set(); // the drawn customer's chats
    this.changedElsewhere = new Set(); // chats not (yet) drawn whose messages changed since
    this.sentHere = false; // a send from this panel may open a chat not drawn yet
    this.error = document.getElementById("customer-error");
    this.name = document.getElementById("customer-name");
    this.memo = document.getElementById("customer-memo");
    this.memoSaved = document.getElementById("memo-saved");
    this.brand = new BrandForm(() => this.sent()); // a Kakao brand message to this customer
    this.alimtalk = new AlimtalkForm(() => this.sent()); // an Alimtalk to this customer
    document.getElementById("customer-name-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.save({ name: this.name.value.trim() || null }, this.name);
    });
    document.getElementById("memo-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.save({ profile: { [MEMO]: this.memo.value.trim() ? this.memo.value : null } }, this.memo);
    });
  }

  reset() {
    showError(this.error, null);
    this.memoSaved.textContent = "";
    forget(this.name);
    forget(this.memo);
  }

  show(customerId) {
    if (customerId !== this.customerId) {
      this.alimtalk.hide(); // the chat redrawn keeps its forms
      this.brand.hide();
      this.sentHere = false;
      this.changedElsewhere.clear();
    }
    this.customerId = customerId;
    this.brand.show(customerId);
    return this.reload();
  }

  async reload() {
    const customerId = this.customerId;
    if (customerId === null) return;
    let panel;
    try {
      panel = await api("GET", `/customers/${customerId}`);
    } catch (error) {
      showError(this.error, error);
      return;
    }
    if (customerId !== this.customerId) return; // another chat was opened meanwhile
    this.draw(panel);
  }

  // A message changed in another chat: when it is this customer's (an Alimtalk or brand message
  // sent from this panel, delivered and billed later), their sent messages are redrawn.
  // A send's new chat may change before the panel has drawn it: remembered, and looked at then.
  // Other chats are remembered only after a send from here: a busy inbox's every message
  // event would otherwise pile up in the set.
  messageChanged(chatId) {
    if (this.chatIds.has(chatId)) this.reload();
    else if (this.sentHere) this.changedElsewhere.add(chatId);
  }

  sent() {
    this.sentHere = true;
    return this.reload();
  }

  draw(panel) {
    const customer = panel.customer;
    this.chatIds = new Set(panel.chats.map((chat) => chat.id));
    const missed = [...this.changedElsewhere].some((chatId) => this.chatIds.has(chatId));
    this.changedElsewhere.clear();
    if (missed) this.reload(); // what was read may predate that change
    this.alimtalk.show(customer);
    fill(this.name, customer.name || "");
    document.getElementById("customer-lead").hidden = !customer.is_lead;
    list(
      "customer-contacts",
      customer.contacts.map((contact) =>
        row(KINDS[contact.kind] ?? contact.kind, contact.value, contact.verified ? t("customer.verified") : ""),
      ),
    );
    const facts = [];
    for (const [key, value] of Object.entries(customer.profile)) {
      if (key === MEMO) continue;
      const dt = document.createElement("dt");
      dt.textContent = key;
      const dd = document.createElement("dd");
      dd.textContent = String(value);
      facts.push(dt, dd);
    }
    document.getElementById("customer-profile").replaceChildren(...facts);
    const memo = customer.profile[MEMO];
    fill(this.memo, typeof memo === "string" ? memo : "");
    const openId = this.conversation.id;
    list(
      "customer-chats",
      panel.chats.map((chat) => {
        const title = chat.title || t("chat.untitled", { id: chat.id });
        const item = row(
          chat.id === openId ? t("customer.this_chat", { title }) : link(`/chats/${chat.id}`, title),
          chat.channel,
          stateText(chat),
          timeNode(chat.last_message_at),
        );
        if (chat.id === openId) item.setAttribute("aria-current", "true");
        return item;
      }),
    );
    list(
      "customer-sent",
      panel.sent_messages.map((sent) => row(sent.text, sent.category || sent.channel, t(`delivery.${sent.delivery_status}`), timeNode(sent.created_at))),
    );
    list(
      "customer-events",
      panel.events.map((event) => {
        const url = event.properties && typeof event.properties.url === "string" ? event.properties.url : "";
        return row(event.name, url, timeNode(event.created_at));
      }),
    );
    list("customer-files", [
      ...panel.files.map((file) => row(link(file.url, file.filename || t("customer.file"), true), timeNode(file.created_at))),
      ...panel.links.map((found) => row(link(found.url, found.url), timeNode(found.created_at))),
    ]);
  }

  async save(body, field) {
    const customerId = this.customerId;
    if (customerId === null) return;
    this.memoSaved.textContent = "";
    try {
      await api("PATCH", `/customers/${customerId}`, body);
    } catch (error) {
      showError(this.error, error);
      return;
    }
    showError(this.error, null);
    forget(field); // saved: show what the API holds now
    if (field === this.memo) this.memoSaved.textContent = t("customer.memo_saved");
    await this.conversation.refreshHead(); // the chat's title is the customer's name
    if (field === this.name) this.conversation.onChanged();
  }
}
