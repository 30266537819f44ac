// The admin pages (bridgekit/web/admin.py): every <form class="api"> is sent to /api/v1 as
// JSON (data-method, data-path); a refusal is shown in the form's own .error, next to the
// control. After a change the page's lists ([data-refresh]) are drawn again by the server.
//
// Fields: a text input or textarea is a string; a checkbox with data-kind="bool" is true or
// false; checkboxes sharing a name with data-kind="list" (strings) or "ids" (numbers) are a
// list of the checked values. Inputs in a table row join their row's form with form="id".
import { api } from "./api.js";
import { t } from "./i18n.js";

function body(form) {
  const data = {};
  for (const field of form.elements) {
    if (!field.name || field.disabled) continue;
    const kind = field.dataset.kind;
    if (kind === "bool") data[field.name] = field.checked;
    else if (kind === "list" || kind === "ids") {
      data[field.name] ??= [];
      if (field.checked) data[field.name].push(kind === "ids" ? Number(field.value) : field.value);
    } else if (field.value !== "" || field.required) data[field.name] = field.value;
  }
  return data;
}

// The page's lists, rendered again by the server (the same escaped HTML it serves: no markup
// is built from data here), replacing those on the page by id.
async function refresh() {
  const response = await fetch(window.location.pathname, { credentials: "same-origin" });
  if (!response.ok) {
    window.location.reload();
    return;
  }
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const part of fresh.querySelectorAll("[data-refresh][id]")) {
    const current = document.getElementById(part.id);
    if (current) current.replaceWith(document.importNode(part, true));
  }
}

function showLink(form, answer) {
  const box = form.querySelector(".link-result");
  if (!box || !answer.password_link) return;
  box.querySelector("[role=status]").textContent = t("admin.link_made", { name: answer.name });
  box.querySelector(".password-link").textContent = answer.password_link;
  box.hidden = false;
}

async function send(form) {
  const error = form.querySelector(".error");
  const button = form.querySelector("button[type=submit]");
  const after = (form.dataset.after || "").split(" ");
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
  error.hidden = true;
  error.textContent = "";
  const done = form.querySelector(".done");
  if (done) done.hidden = true;
  const result = form.querySelector(".link-result");
  if (result) result.hidden = true;
  button.disabled = true;
  try {
    const method = form.dataset.method;
    const answer = await api(method, form.dataset.path, method === "DELETE" ? undefined : body(form));
    if (after.includes("link")) showLink(form, answer);
    if (after.includes("reset")) {
      for (const field of form.elements) {
        if (field.type === "checkbox") field.checked = field.defaultChecked;
        else if (field.name) field.value = "";
      }
    }
    if (after.includes("refresh")) await refresh();
    // The form as drawn again (or itself): say it is done.
    const done = (document.getElementById(form.id) || form).querySelector(".done");
    if (done) {
      done.textContent = t("admin.saved");
      done.hidden = false;
    }
  } catch (exc) {
    error.textContent = exc.message || t("admin.failed");
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

// One listener for every form, those drawn again by refresh() included.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains("api")) return;
  event.preventDefault();
  send(form);
});
