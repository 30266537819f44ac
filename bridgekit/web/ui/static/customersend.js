// The one way the customer panel's send forms (a Kakao brand message, an Alimtalk) work: the
// form `${prefix}-form` is shown or hidden per customer, its submit runs the request, a
// refusal shows in `${prefix}-error` in the manager's language (api.js), what was queued in
// `${prefix}-sent`, and then onSent() redraws the customer's sent messages.
import { showError } from "./messages.js";

export class CustomerSendForm {
  // request(customerId): sends, answering the words for `${prefix}-sent` (null: nothing sent)
  constructor(prefix, request, onSent) {
    this.request = request;
    this.onSent = onSent;
    this.customerId = null;
    this.form = document.getElementById(`${prefix}-form`);
    this.status = document.getElementById(`${prefix}-sent`);
    this.error = document.getElementById(`${prefix}-error`);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
  }

  // Opens the form for another customer (or the same one again), cleared; hidden unless shown.
  open(customerId, shown) {
    this.customerId = customerId;
    this.clear();
    this.form.hidden = !shown;
  }

  clear() {
    this.status.textContent = "";
    showError(this.error, null);
  }

  refuse(error) {
    this.status.textContent = "";
    showError(this.error, error);
  }

  async send() {
    const customerId = this.customerId;
    if (customerId === null) return;
    this.status.textContent = "";
    let said;
    try {
      said = await this.request(customerId);
    } catch (error) {
      showError(this.error, error);
      return;
    }
    if (said === null) return;
    showError(this.error, null);
    this.status.textContent = said;
    await this.onSent();
  }
}
