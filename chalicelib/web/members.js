/* The Members screen (the owner and admins see it): the tenant's people and their roles. Only
 * the owner invites (and withdraws an invitation), changes roles, removes members and transfers
 * ownership (removing and transferring after a confirmation); everyone else sees the list
 * read-only. */

import { ApiError, api, listOf } from "./api.js";
import { $, announce, h } from "./dom.js";
import { banner, confirmAction, errorBox } from "./feedback.js";
import { isOwner, state } from "./state.js";
import { loadAccount, tenantName } from "./tenant.js";

let onRoleChanged = () => {};

function you(m) {
  return Boolean(m.account_id) && state.account && m.account_id === state.account.account_id;
}

function memberRow(m) {
  const manageable = isOwner() && m.role !== "owner" && Boolean(m.account_id) && !you(m);
  const role = manageable
    ? h("select", { "data-action": "role", "aria-label": `Role of ${m.email}`, onchange: (e) => changeRole(m, e.currentTarget.value) },
      ["admin", "viewer"].map((r) => h("option", { value: r, selected: r === m.role }, r)))
    : h("span", { class: `badge${m.role === "owner" ? " ok" : ""}` }, m.role);
  const invited = m.status === "invited";
  const actions = manageable
    ? h("div", { class: "actions" },
      h("button", { type: "button", class: "small ghost", "data-action": "transfer", "aria-label": `Make ${m.email} the owner`,
        onclick: () => transfer(m) }, "Make owner"),
      h("button", { type: "button", class: "small ghost", "data-action": "remove", "aria-label": `Remove ${m.email}`,
        onclick: () => remove(m) }, "Remove"))
    : invited && isOwner()
      ? h("div", { class: "actions" },
        h("button", { type: "button", class: "small ghost", "data-action": "withdraw",
          "aria-label": `Withdraw the invitation of ${m.email}`, onclick: () => withdraw(m) }, "Withdraw"))
      : null;
  return h("tr", { "data-email": m.email, "data-role": m.role, "data-account-id": m.account_id || null, "data-status": m.status || "member" },
    h("td", {}, m.email, you(m) ? h("span", { class: "you" }, "(you)") : null),
    h("td", {}, role),
    h("td", {}, invited
      ? h("span", { class: "badge warn", title: "a member once this email registers and confirms" }, "invited")
      : "member"),
    h("td", {}, actions));
}

export async function loadMembers() {
  const owner = isOwner();
  $("#invite-form").hidden = !owner;
  $("#members-readonly").hidden = owner;
  const tbody = $("#members-table tbody");
  let body;
  try {
    body = await api("GET", "v1/members");
    errorBox($("#members-error"), null);
  } catch (e) {
    errorBox($("#members-error"), e, "The members could not be loaded");
    tbody.replaceChildren();
    return;
  }
  const members = listOf(body, "members");
  tbody.replaceChildren(...(members.length ? members.map(memberRow)
    : [h("tr", {}, h("td", { colspan: 4, class: "empty" }, "No member yet."))]));
  announce(`${members.length} member${members.length === 1 ? "" : "s"} shown`);
}

function failure(what, e) {
  banner(`${what}: ${e instanceof ApiError ? e.text : "unexpected error"}`);
}

async function changeRole(m, role) {
  try {
    await api("PATCH", `v1/members/${encodeURIComponent(m.account_id)}`, undefined, { role });
    banner(`${m.email} is now ${role}.`, "ok");
  } catch (e) {
    failure(`Could not change the role of ${m.email}`, e);
  }
  await loadMembers();
}

async function remove(m) {
  const ok = await confirmAction("Remove this member?",
    `${m.email} loses access to ${tenantName() || "this tenant"}. You can invite them again later.`, "Remove");
  if (!ok) return;
  try {
    await api("DELETE", `v1/members/${encodeURIComponent(m.account_id)}`);
    banner(`${m.email} was removed.`, "ok");
  } catch (e) {
    failure(`Could not remove ${m.email}`, e);
  }
  await loadMembers();
}

async function withdraw(m) {
  try {
    await api("DELETE", "v1/invitations", { email: m.email });
    banner(`The invitation of ${m.email} is withdrawn.`, "ok");
  } catch (e) {
    failure(`Could not withdraw the invitation of ${m.email}`, e);
  }
  await loadMembers();
}

async function transfer(m) {
  const ok = await confirmAction("Transfer the ownership?",
    `${m.email} becomes the owner of ${tenantName() || "this tenant"}. You become an admin: you can no longer manage ` +
    "the members or transfer the ownership back yourself.", "Transfer ownership");
  if (!ok) return;
  try {
    await api("POST", "v1/ownership", undefined, { account_id: m.account_id });
    banner(`${m.email} is now the owner; you are an admin.`, "ok");
  } catch (e) {
    failure(`Could not transfer the ownership to ${m.email}`, e);
    await loadMembers();
    return;
  }
  try { await loadAccount(); } catch { /* the members list still shows the change */ }
  onRoleChanged();
  await loadMembers();
}

async function invite(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const data = new FormData(form);
  const email = String(data.get("email") || "").trim();
  const role = String(data.get("role") || "viewer");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await api("POST", "v1/members", undefined, { email, role });
    banner(`${email} is invited as ${role}: a member as soon as that email has a confirmed account.`, "ok");
    form.reset();
  } catch (e) {
    errorBox($("#members-error"), e, `Could not invite ${email || "that email"}`);
    return;
  } finally {
    button.disabled = false;
  }
  await loadMembers();
}

/** ``roleChanged()`` after the owner gave the ownership away (the navigation and header follow). */
export function wireMembers(roleChanged) {
  onRoleChanged = roleChanged;
  $("#invite-form").addEventListener("submit", invite);
}
