/* An account's tenants: which one it acts in (several: it picks one, sent as X-Tenant-Id), and
 * for an account with none, "create your tenant" (it becomes the owner; the keys are shown
 * once) and then "start your trial". */

import { ApiError, api } from "./api.js";
import { $, h } from "./dom.js";
import { banner, errorBox } from "./feedback.js";
import { chooseTenant } from "./session.js";
import { forgetTenantData, state } from "./state.js";

let onReady = () => {};
let showingKeys = false;  // the new tenant's keys stay on screen until the owner moves on

/** GET /v1/account, and the tenant the account acts in: the one this tab chose if it is still a
 * member, its only tenant, or none (several: it picks; none: it creates one). */
export async function loadAccount() {
  state.account = await api("GET", "v1/account");
  const tenants = Array.isArray(state.account.tenants) ? state.account.tenants : [];
  let chosen = tenants.find((t) => t.tenant_id === state.tenantId);
  if (!chosen && tenants.length === 1) [chosen] = tenants;
  chooseTenant(chosen ? chosen.tenant_id : null);
  state.member = chosen ? chosen.role : null;
  return state.account;
}

/** Does the account still have to pick or create its tenant (or see its new keys)? */
export function needsTenant() {
  return state.role === "account" && (!state.tenantId || showingKeys);
}

export function tenantName() {
  const tenants = (state.account && state.account.tenants) || [];
  const t = tenants.find((x) => x.tenant_id === state.tenantId);
  return t ? t.name : "";
}

/** Act in another of the account's tenants. */
export function switchTenant(tenantId) {
  const t = ((state.account && state.account.tenants) || []).find((x) => x.tenant_id === tenantId);
  if (!t) return;
  chooseTenant(t.tenant_id);
  state.member = t.role;
  forgetTenantData();
}

export function showTenantScreen() {
  const tenants = (state.account && state.account.tenants) || [];
  $("#tenant-pick").hidden = showingKeys || tenants.length < 2;
  $("#tenant-form").hidden = showingKeys || tenants.length > 0;
  $("#tenant-created").hidden = !showingKeys;
  $("#tenant-title").textContent = showingKeys ? "Your tenant is ready" : tenants.length ? "Choose a tenant" : "Create your tenant";
  $("#tenant-list").replaceChildren(...tenants.map((t) => h("li", {},
    h("button", { type: "button", class: "ghost", "data-tenant-id": t.tenant_id, onclick: () => pick(t.tenant_id) },
      h("strong", {}, t.name), h("span", { class: "badge" }, t.role)))));
  errorBox($("#tenant-error"), null);
  document.title = "Your tenant · Metered Licensing console";
  const first = $("#screen-tenant").querySelector("#tenant-list button, #tenant-name, #tenant-trial");
  if (first && !first.closest("[hidden]")) first.focus();
}

function pick(tenantId) {
  switchTenant(tenantId);
  onReady();
}

async function createTenant(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const name = String(new FormData(form).get("name") || "").trim();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const created = await api("POST", "v1/account/tenant", undefined, { name });
    chooseTenant(created.tenant_id);
    await loadAccount();
    showingKeys = true;
    $("#tenant-keys").replaceChildren(
      h("dt", {}, "Tenant id"), h("dd", { class: "mono" }, created.tenant_id),
      h("dt", {}, "API key"), h("dd", { class: "mono", "data-key": "api" }, created.api_key),
      h("dt", {}, "Activation key"), h("dd", { class: "mono", "data-key": "activation" }, created.activation_key));
    form.reset();
    showTenantScreen();
    $("#tenant-trial").hidden = state.member !== "owner";
  } catch (e) {
    errorBox($("#tenant-error"), e, "The tenant could not be created");
  } finally {
    button.disabled = false;
  }
}

/** POST /v1/trial: the owner starts the tenant's one trial. True when it started. */
export async function startTrial() {
  try {
    await api("POST", "v1/trial", undefined, {});
    banner("Your trial has started: your LoadMasters can activate now.", "ok");
    return true;
  } catch (e) {
    banner(`The trial could not be started: ${e instanceof ApiError ? e.text : "unexpected error"}`);
    return false;
  }
}

function done() {
  showingKeys = false;
  $("#tenant-keys").replaceChildren();  // shown once: gone from the page
  onReady();
}

/** ``ready()`` once the account acts in a tenant. */
export function wireTenant(ready) {
  onReady = ready;
  $("#tenant-form").addEventListener("submit", createTenant);
  $("#tenant-trial").addEventListener("click", async () => {
    const button = $("#tenant-trial");
    button.disabled = true;
    try {
      if (await startTrial()) done();
    } finally {
      button.disabled = false;
    }
  });
  $("#tenant-continue").addEventListener("click", done);
}

export function forgetTenantScreen() {
  showingKeys = false;
  $("#tenant-keys").replaceChildren();
}
