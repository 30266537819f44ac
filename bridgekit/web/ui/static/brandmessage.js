// A Kakao brand message (브랜드 메시지) to the customer beside the open chat, from their panel
// (K6): POST /api/v1/kakao_brand/messages. Shown when a kakao_brand integration is linked. The
// server adds "(광고)" and checks every rule (a friend of the channel, a phone number, not from
// 20:50 to 08:00 KST, business verification); a refusal shows in the manager's language.
import { api } from "./api.js";
import { t } from "./i18n.js";
import { showError } from "./messages.js";

const CHANNEL = "kakao_brand";

export class BrandForm {
  // onSent: called after a send was queued (the panel redraws its sent messages)
  constructor(onSent) {
    this.onSent = onSent;
    this.customerId = null;
    this.available = null; // a promise: whether a brand integration is linked
    this.form = document.getElementById("brand-form");
    this.text = document.getElementById("brand-text");
    this.status = document.getElementById("brand-sent");
    this.error = document.getElementById("brand-error");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
  }

  async show(customerId) {
    this.customerId = customerId;
    this.status.textContent = "";
    showError(this.error, null);
    this.available ??= api("GET", "/integrations").then(
      (integrations) => integrations.some((integration) => integration.channel === CHANNEL),
      () => false,
    );
    this.form.hidden = !(await this.available);
  }

  async send() {
    const customerId = this.customerId;
    const text = this.text.value.trim();
    if (customerId === null || !text) return;
    this.status.textContent = "";
    let sent;
    try {
      sent = await api("POST", "/kakao_brand/messages", { customer_id: customerId, text });
    } catch (error) {
      showError(this.error, error);
      return;
    }
    showError(this.error, null);
    this.text.value = "";
    this.status.textContent = t("brand.queued", { text: sent.text });
    await this.onSent();
  }
}
