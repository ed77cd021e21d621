/* The operator's Tenants screen. */

import { api, listOf } from "./api.js";
import { $, announce, h } from "./dom.js";
import { errorBox } from "./feedback.js";
import { fmtNumber, fmtTime, timeUtc } from "./format.js";
import { state } from "./state.js";

function tenantRow(t) {
  let term = "—";
  if (t.state === "TRIAL" || t.trial_expires_at) term = t.trial_expires_at ? `trial until ${fmtTime(t.trial_expires_at)}` : "trial";
  if (t.contract_id) term = `contract ${t.contract_id}${t.contract_ends_at ? ` until ${fmtTime(t.contract_ends_at)}` : ""}`;
  const over = (Number(t.in_use) || 0) > (Number(t.capacity) || 0);
  return h("tr", { "data-tenant-id": t.tenant_id },
    h("td", {}, h("strong", {}, t.name)),
    h("td", {}, h("span", { class: `badge ${t.state}` }, t.state)),
    h("td", {}, term),
    h("td", { class: "num" }, over ? h("span", { class: "over-text" }, `${fmtNumber(t.in_use)} / ${fmtNumber(t.capacity)}`)
      : `${fmtNumber(t.in_use)} / ${fmtNumber(t.capacity)}`),
    h("td", {}, t.owner_email),
    h("td", { class: "mono" }, t.tenant_id),
    h("td", {}, timeUtc(t.created_at)));
}

export async function loadTenants(more = false) {
  const tbody = $("#tenants-table tbody");
  let body;
  try {
    body = await api("GET", "v1/tenants", { limit: 50, next: more ? state.tenants.next : null });
    errorBox($("#tenants-error"), null);
  } catch (e) {
    errorBox($("#tenants-error"), e, "The tenants could not be loaded");
    return;
  }
  const tenants = listOf(body, "tenants");
  state.tenants.next = body.next || null;
  const rows = tenants.map(tenantRow);
  if (more) tbody.append(...rows);
  else tbody.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No tenant yet."))]));
  $("#tenants-more").disabled = !state.tenants.next;
  announce(`${tenants.length} tenant${tenants.length === 1 ? "" : "s"} shown`);
}

export function wireTenants() {
  $("#tenants-more").addEventListener("click", () => loadTenants(true));
}
