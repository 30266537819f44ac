// The panels beside the open chat: its info (I16: team, assignee, followers, goal, source, tags
// up to 8, description with #hashtags) and its customer (I17, customerpanel.js). Drawn from
// GET /api/v1/chats/{id} each time the chat changes (a chat.updated event, an action here);
// every change goes through the API, and a refusal is shown under the control that asked.
import { api } from "./api.js";
import { t } from "./i18n.js";
import { showError } from "./messages.js";
import { CustomerPanel } from "./customerpanel.js";
import { myId } from "./chathead.js";
import { fill, forget, stateText, timeNode } from "./fields.js";

function option(value, label, selected) {
  const node = document.createElement("option");
  node.value = value;
  node.textContent = label;
  node.selected = selected;
  return node;
}

function chip(text, removeLabel, onRemove) {
  const li = document.createElement("li");
  const name = li.appendChild(document.createElement("span"));
  name.textContent = text;
  if (onRemove) {
    const remove = li.appendChild(document.createElement("button"));
    remove.type = "button";
    remove.className = "remove";
    remove.textContent = "×";
    remove.setAttribute("aria-label", removeLabel);
    remove.addEventListener("click", onRemove);
  }
  return li;
}

export class ChatPanels {
  // conversation: the open chat (its chat, act())
  constructor(conversation) {
    this.conversation = conversation;
    this.box = document.getElementById("panels");
    this.error = document.getElementById("info-error");
    this.tagError = document.getElementById("tag-error");
    this.tagInput = document.getElementById("tag-input");
    this.description = document.getElementById("info-description");
    this.descriptionError = document.getElementById("description-error");
    this.people = null; // GET /managers and /teams, read when a chat opens
    this.customer = new CustomerPanel(conversation);
    const select = (id, change) => document.getElementById(id).addEventListener("change", (event) => change(event.target.value));
    select("info-team", (value) => this.change("PATCH", "", { team_id: value ? Number(value) : null }));
    select("info-assignee", (value) => this.change("POST", "assign", { manager_id: value ? Number(value) : null }));
    select("info-goal", (value) => this.change("PATCH", "", { goal: value || null }));
    document.getElementById("tag-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.addTag();
    });
    document.getElementById("description-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveDescription();
    });
  }

  // A chat was opened: forget edits of the one before, read who can be assigned.
  reset() {
    for (const node of [this.error, this.tagError, this.descriptionError]) showError(node, null);
    forget(this.description);
    this.tagInput.value = "";
    this.customer.reset();
    this.people = Promise.all([api("GET", "/managers"), api("GET", "/teams")]).catch(() => [[], []]);
  }

  hide() {
    this.box.hidden = true;
  }

  async show(chat) {
    this.box.hidden = false;
    document.getElementById("info-state").textContent = stateText(chat);
    document.getElementById("info-source").textContent = chat.source || t("info.none");
    document.getElementById("info-started").replaceChildren(timeNode(chat.created_at));
    document.getElementById("info-last").replaceChildren(timeNode(chat.last_message_at));
    document.getElementById("info-goal").value = chat.goal || "";
    document.getElementById("info-followers").replaceChildren(
      ...chat.followers.map((person) => chip(person.id === myId() ? t("info.you", { name: person.name }) : person.name)),
    );
    document.getElementById("info-tags").replaceChildren(
      ...chat.tags.map((tag) => chip(tag, t("info.tag_remove", { tag }), () => this.removeTag(tag))),
    );
    fill(this.description, chat.description || "");
    document.getElementById("info-hashtags").replaceChildren(...chat.hashtags.map((tag) => chip(`#${tag}`)));
    this.customer.show(chat.customer_id);
    await this.choices(chat);
  }

  // The team and assignee choices, the chat's own selected (also one no longer listed).
  async choices(chat) {
    const [managers, teams] = await (this.people ?? Promise.resolve([[], []]));
    if (this.conversation.chat?.id !== chat.id) return;
    const team = document.getElementById("info-team");
    const teamOptions = [option("", t("info.no_team"), chat.team_id === null)];
    for (const row of teams) teamOptions.push(option(String(row.id), row.name, row.id === chat.team_id));
    if (chat.team && !teams.some((row) => row.id === chat.team.id)) teamOptions.push(option(String(chat.team.id), chat.team.name, true));
    team.replaceChildren(...teamOptions);
    team.value = chat.team_id === null ? "" : String(chat.team_id);
    const assignee = document.getElementById("info-assignee");
    const current = chat.assignee ? chat.assignee.id : null;
    const choices = [option("", t("info.nobody"), current === null)];
    for (const row of managers) {
      // I4: only managers with the operator seat can be assigned
      if (row.operator || row.id === current) choices.push(option(String(row.id), row.name, row.id === current));
    }
    if (chat.assignee && !managers.some((row) => row.id === current)) choices.push(option(String(current), chat.assignee.name, true));
    assignee.replaceChildren(...choices);
    assignee.value = current === null ? "" : String(current);
  }

  async change(method, path, body) {
    if (!(await this.conversation.act(method, path, body, this.error))) {
      await this.conversation.refreshHead(); // the refused choice is not kept on screen
    }
  }

  async addTag() {
    const tag = this.tagInput.value.trim();
    if (!tag) return;
    // Taken out as it goes: the next tag may be typed before this one's answer (its chip can
    // come first, by the live event); a refused one is put back unless another was typed.
    this.tagInput.value = "";
    if (!(await this.conversation.act("POST", `tags/${encodeURIComponent(tag)}`, undefined, this.tagError))) {
      if (!this.tagInput.value) this.tagInput.value = tag;
    }
  }

  removeTag(tag) {
    return this.conversation.act("DELETE", `tags/${encodeURIComponent(tag)}`, undefined, this.tagError);
  }

  async saveDescription() {
    const text = this.description.value;
    if (await this.conversation.act("PATCH", "", { description: text.trim() ? text : null }, this.descriptionError)) {
      forget(this.description); // saved: show what the API holds now
      fill(this.description, this.conversation.chat?.description || "");
    }
  }
}
