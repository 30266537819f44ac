// The Alimtalk templates page (/admin/kakao_templates): every Alimtalk integration's templates
// with their review state at Kakao, their #{variables} and text, and a button that reads the
// states from NHN now. All through the Kakao plugin's API (/api/v1/kakao_alimtalk/templates,
// /templates/sync: the sync needs an operator seat, which the server checks); the core does
// not read the plugin's store. Drawn with textContent only; a refusal shows in its section.
import { api } from "./api.js";
import { t, when, fullDate } from "./i18n.js";

const CHANNEL = "kakao_alimtalk";

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function showError(where, exc) {
  where.textContent = exc.message || t("admin.failed");
  where.hidden = false;
}

function row(template) {
  const tr = element("tr");
  tr.dataset.code = template.code;
  const code = element("th", template.code, "code");
  code.scope = "row";
  const state = element("td", t(`kakao_templates.state_${template.state}`), `state state-${template.state}`);
  const variables = element("td", undefined, "variables");
  if (template.variables.length === 0) variables.textContent = t("kakao_templates.no_variables");
  for (const name of template.variables) variables.append(element("code", `#{${name}}`), " ");
  const sendable = element("td", t(template.sendable ? "kakao_templates.yes" : "kakao_templates.no"), "sendable");
  const content = element("td", template.content, "content");
  tr.append(code, element("td", template.name, "name"), state, variables, sendable, content);
  return tr;
}

function draw(section, templates) {
  section.querySelector("tbody").replaceChildren(...templates.map(row));
  section.querySelector(".empty").hidden = templates.length > 0;
}

function headings() {
  const tr = element("tr");
  for (const key of ["code", "name", "state", "variables", "sendable", "content"]) {
    const th = element("th", t(`kakao_templates.${key}`));
    th.scope = "col";
    tr.append(th);
  }
  const thead = element("thead");
  thead.append(tr);
  return thead;
}

function section(integration) {
  const box = element("section", undefined, "kakao-templates");
  box.dataset.integration = integration.name;
  box.setAttribute("aria-label", integration.name);
  const sync = element("button", t("kakao_templates.sync"));
  sync.type = "button";
  const status = element("span", "", "status");
  status.setAttribute("role", "status");
  const error = element("p", "", "error");
  error.setAttribute("role", "alert");
  error.hidden = true;
  const table = element("table", undefined, "admin-table");
  table.append(headings(), element("tbody"));
  const empty = element("p", t("kakao_templates.none"), "empty");
  empty.hidden = true;
  const query = `integration=${encodeURIComponent(integration.name)}`;
  sync.addEventListener("click", async () => {
    sync.disabled = true;
    error.hidden = true;
    status.textContent = t("kakao_templates.syncing");
    try {
      const answer = await api("POST", "/kakao_alimtalk/templates/sync", { integration: integration.name });
      draw(box, answer.templates);
      const now = new Date().toISOString();
      status.textContent = t("kakao_templates.synced", { time: when(now) });
      status.title = fullDate(now);
    } catch (exc) {
      status.textContent = "";
      showError(error, exc);
    } finally {
      sync.disabled = false;
    }
  });
  box.append(element("h2", integration.name), sync, status, error, table, empty);
  return { box, load: async () => draw(box, (await api("GET", `/kakao_alimtalk/templates?${query}`)).templates) };
}

async function load() {
  const failed = document.getElementById("kakao-templates-error");
  try {
    const integrations = (await api("GET", "/integrations")).filter((i) => i.channel === CHANNEL);
    const sections = integrations.map(section);
    document.getElementById("kakao-templates").replaceChildren(...sections.map((s) => s.box));
    document.getElementById("kakao-templates-none").hidden = integrations.length > 0;
    await Promise.all(sections.map((s) => s.load()));
  } catch (exc) {
    showError(failed, exc);
  }
}

load();
