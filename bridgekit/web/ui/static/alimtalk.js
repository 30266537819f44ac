// An Alimtalk (알림톡) to the customer beside the open chat, from their panel (K3): one of the
// Kakao-approved templates (GET /api/v1/kakao_alimtalk/templates, the `sendable` ones), one
// field per #{variable}, a preview (POST /api/v1/kakao_alimtalk/render) and the send (POST
// /api/v1/kakao_alimtalk/messages). Shown when an Alimtalk integration is linked and the
// customer has a phone number; with several, a picker chooses the one to send from (templates
// are per integration, every call names it). The server checks everything again.
import { api } from "./api.js";
import { CustomerSendForm } from "./customersend.js";
import { t } from "./i18n.js";

const CHANNEL = "kakao_alimtalk";

// A key per filled-in form: a retried click sends one Alimtalk (undefined: the server makes one).
function newKey() {
  return globalThis.crypto?.randomUUID?.();
}

export class AlimtalkForm {
  // onSent: called after a send was queued (the panel redraws its sent messages)
  constructor(onSent) {
    this.shownFor = null; // "customer id:has a phone" the form was last opened for
    this.templates = [];
    this.key = newKey();
    this.picker = document.getElementById("alimtalk-integration");
    this.pickerField = document.getElementById("alimtalk-integration-field");
    this.choice = document.getElementById("alimtalk-template");
    this.variables = document.getElementById("alimtalk-variables");
    this.preview = document.getElementById("alimtalk-preview");
    this.sender = new CustomerSendForm("alimtalk", (customerId) => this.request(customerId), onSent);
    this.choice.addEventListener("change", () => this.fields());
    this.picker.addEventListener("change", () => this.loadTemplates(this.shownFor));
    document.getElementById("alimtalk-preview-button").addEventListener("click", () => this.render());
  }

  // Another chat is being opened: no form until its customer is drawn (never the last one's).
  hide() {
    this.shownFor = null;
    this.sender.open(null, false);
  }

  // The panel drew `customer` (again): opened afresh only for another customer or phone.
  async show(customer) {
    const hasPhone = customer.contacts.some((contact) => contact.kind === "phone");
    const shownFor = `${customer.id}:${hasPhone}`;
    if (shownFor === this.shownFor) return;
    this.shownFor = shownFor;
    this.sender.open(customer.id, false);
    if (!hasPhone) return;
    let integrations;
    try {
      integrations = (await api("GET", "/integrations")).filter((integration) => integration.channel === CHANNEL);
    } catch {
      return;
    }
    if (this.shownFor !== shownFor || !integrations.length) return; // another customer, or no Alimtalk
    const previous = this.picker.value; // the last choice stays while it is offered
    this.picker.replaceChildren(
      ...integrations.map((integration) => {
        const option = document.createElement("option");
        option.value = integration.name;
        option.textContent = integration.name;
        return option;
      }),
    );
    if (integrations.some((integration) => integration.name === previous)) this.picker.value = previous;
    this.pickerField.hidden = integrations.length < 2;
    if (await this.loadTemplates(shownFor)) this.sender.form.hidden = false;
  }

  // The chosen integration's sendable templates; false when another customer or integration
  // was chosen meanwhile (that one's answer draws the form).
  async loadTemplates(shownFor) {
    const integration = this.picker.value;
    let answer = { templates: [] };
    let failure = null;
    try {
      answer = await api("GET", `/kakao_alimtalk/templates?integration=${encodeURIComponent(integration)}`);
    } catch (error) {
      failure = error; // shown below the (empty) template list
    }
    if (this.shownFor !== shownFor || this.picker.value !== integration) return false;
    this.templates = answer.templates.filter((template) => template.sendable);
    const options = this.templates.map((template) => {
      const option = document.createElement("option");
      option.value = template.code;
      option.textContent = template.name || template.code;
      return option;
    });
    if (!options.length) {
      const none = document.createElement("option");
      none.value = "";
      none.textContent = t("alimtalk.no_templates");
      options.push(none);
    }
    this.choice.replaceChildren(...options);
    this.fields();
    if (failure !== null) this.sender.refuse(failure);
    return true;
  }

  template() {
    return this.templates.find((template) => template.code === this.choice.value) ?? null;
  }

  // One labelled field per variable of the chosen template.
  fields() {
    const template = this.template();
    this.preview.textContent = template ? template.content : "";
    this.key = newKey();
    this.sender.clear();
    this.variables.replaceChildren(
      ...(template ? template.variables : []).map((name, index) => {
        const label = document.createElement("label");
        const input = document.createElement("input");
        input.id = `alimtalk-variable-${index}`;
        input.dataset.variable = name;
        input.maxLength = 1000;
        label.htmlFor = input.id;
        label.textContent = `#{${name}}`;
        return [label, input];
      }).flat(),
    );
  }

  parameters() {
    const parameters = {};
    for (const input of this.variables.querySelectorAll("input")) parameters[input.dataset.variable] = input.value;
    return parameters;
  }

  async render() {
    const template = this.template();
    if (template === null) return;
    try {
      const rendered = await api("POST", "/kakao_alimtalk/render", {
        integration: this.picker.value,
        template_code: template.code,
        parameters: this.parameters(),
      });
      this.sender.clear();
      this.preview.textContent = rendered.text;
    } catch (error) {
      this.sender.refuse(error);
    }
  }

  async request(customerId) {
    const template = this.template();
    if (template === null) return null;
    const sent = await api("POST", "/kakao_alimtalk/messages", {
      integration: this.picker.value,
      customer_id: customerId,
      template_code: template.code,
      parameters: this.parameters(),
      idempotency_key: this.key,
    });
    for (const input of this.variables.querySelectorAll("input")) input.value = "";
    this.key = newKey();
    this.preview.textContent = template.content;
    return t("alimtalk.queued", { text: sent.text });
  }
}
