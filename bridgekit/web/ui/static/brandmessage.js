// A Kakao brand message (브랜드 메시지) to the customer beside the open chat, from their panel
// (K6): POST /api/v1/kakao_brand/messages. Shown when a kakao_brand integration is linked. The
// server adds "(광고)" and checks every rule (a friend of the channel, a phone number, not from
// 20:50 to 08:00 KST, business verification); a refusal shows in the manager's language.
import { api } from "./api.js";
import { CustomerSendForm } from "./customersend.js";
import { t } from "./i18n.js";

const CHANNEL = "kakao_brand";

export class BrandForm {
  // onSent: called after a send was queued (the panel redraws its sent messages)
  constructor(onSent) {
    this.available = null; // a promise: whether a brand integration is linked
    this.shownFor = null; // the customer the form was last opened for
    this.text = document.getElementById("brand-text");
    this.sender = new CustomerSendForm("brand", (customerId) => this.request(customerId), onSent);
  }

  // Another chat is being opened: no form until its customer is drawn (never the last one's).
  hide() {
    this.shownFor = null;
    this.sender.open(null, false);
  }

  // The panel drew this customer (again): opened afresh only for another customer, so a redraw
  // (a live event) keeps what was typed and what was queued.
  async show(customerId) {
    if (customerId === this.shownFor) return;
    this.shownFor = customerId;
    this.sender.open(customerId, false);
    this.available ??= api("GET", "/integrations").then(
      (integrations) => integrations.some((integration) => integration.channel === CHANNEL),
      () => false,
    );
    const available = await this.available;
    if (this.shownFor === customerId) this.sender.form.hidden = !available;
  }

  async request(customerId) {
    const text = this.text.value.trim();
    if (!text) return null;
    const sent = await api("POST", "/kakao_brand/messages", { customer_id: customerId, text });
    this.text.value = "";
    return t("brand.queued", { text: sent.text });
  }
}
