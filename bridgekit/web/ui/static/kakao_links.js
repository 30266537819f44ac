// The Kakao links page (/admin/kakao): linking and unlinking Kakao channels through the Kakao
// plugin's API (/api/v1/kakao/…, which checks the admin permission and every K8 rule). The
// core does not read the plugin's store, so the list is drawn here from the API's answer,
// with textContent only. A refusal shows next to what was refused, in the page's language.
import { api } from "./api.js";
import { t } from "./i18n.js";

const SERVICES = ["consultation", "alimtalk", "brand"];
const DEFAULTS = [
  ["front_home", "kakao.front_home"],
  ["follow_up", "kakao.follow_up"],
];

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function checkbox(label, checked, disabled, onChange) {
  const wrap = element("label");
  const box = element("input");
  box.type = "checkbox";
  box.checked = checked;
  box.disabled = disabled;
  box.addEventListener("change", () => onChange(box));
  wrap.append(box, ` ${label}`);
  return wrap;
}

function showError(where, exc) {
  where.textContent = exc.message || t("admin.failed");
  where.hidden = false;
}

// One change of a link; the list is drawn again after it (or the refusal shown in its row).
async function change(error, method, path, body) {
  error.hidden = true;
  try {
    await api(method, path, body);
    await load();
  } catch (exc) {
    showError(error, exc);
    return false;
  }
  return true;
}

// A checkbox's change: the box waits (disabled) until the list is drawn again with the new
// state, or goes back as it was when refused.
async function toggle(box, error, path, body) {
  box.disabled = true;
  if (!(await change(error, "PATCH", path, body))) {
    box.checked = !box.checked;
    box.disabled = false;
  }
}

function row(link) {
  const tr = element("tr");
  tr.dataset.searchId = link.search_id;
  const error = element("p", "", "error");
  error.setAttribute("role", "alert");
  error.hidden = true;
  const linked = link.state === "linked";
  const path = `/kakao/links/${link.id}`;
  const name = element("th", link.search_id, "name");
  name.scope = "row";
  const state = element("td", t(`kakao.state_${link.state}`), "state");
  const services = element("td", undefined, "services");
  for (const service of SERVICES) {
    services.append(
      checkbox(t(`kakao.${service}`), link.services[service], !linked, (box) =>
        toggle(box, error, path, { services: { [service]: box.checked } }),
      ),
    );
  }
  const defaults = element("td", undefined, "defaults");
  for (const [role, key] of DEFAULTS) {
    defaults.append(
      checkbox(t(key), link[role], !linked, (box) => toggle(box, error, path, { [role]: box.checked })),
    );
  }
  const actions = element("td", undefined, "actions");
  if (link.state === "waiting_for_token") {
    const form = element("form");
    const label = element("label", `${t("kakao.token")} `);
    const input = element("input");
    input.name = "token";
    input.required = true;
    input.inputMode = "numeric";
    label.append(input);
    form.append(label, element("button", t("kakao.verify")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      change(error, "POST", `${path}/token`, { token: input.value.trim() });
    });
    actions.append(form);
  }
  if (link.state !== "deleted") {
    const remove = element("button", t("admin.delete"), "danger");
    remove.type = "button";
    remove.addEventListener("click", () => {
      if (window.confirm(t("kakao.delete_confirm", { search_id: link.search_id }))) {
        change(error, "DELETE", path);
      }
    });
    actions.append(remove);
  }
  actions.append(error);
  tr.append(name, state, services, defaults, actions);
  return tr;
}

async function load() {
  const failed = document.getElementById("kakao-load-error");
  try {
    const { links } = await api("GET", "/kakao/links");
    document.querySelector("#kakao-links tbody").replaceChildren(...links.map(row));
    document.getElementById("kakao-none").hidden = links.length > 0;
    failed.hidden = true;
  } catch (exc) {
    showError(failed, exc);
  }
}

async function loadCategories(select) {
  const { categories } = await api("GET", "/kakao/categories");
  select.replaceChildren(
    ...categories.map((category) => {
      const option = element("option", category.name);
      option.value = category.code;
      return option;
    }),
  );
}

const start = document.getElementById("kakao-start");
start.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = start.querySelector(".error");
  const button = start.querySelector("button[type=submit]");
  const field = (name) => start.elements.namedItem(name);
  const body = {
    search_id: field("search_id").value.trim(),
    category_code: field("category_code").value,
    admin_phone: field("admin_phone").value.trim(),
    services: Object.fromEntries(SERVICES.map((name) => [name, field(name).checked])),
  };
  error.hidden = true;
  button.disabled = true;
  try {
    await api("POST", "/kakao/links", body);
    start.reset();
    await load();
  } catch (exc) {
    showError(error, exc);
  } finally {
    button.disabled = false;
  }
});

loadCategories(start.elements.namedItem("category_code")).catch((exc) =>
  showError(start.querySelector(".error"), exc),
);
load();
