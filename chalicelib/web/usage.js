/* The Usage screen: the month's chart, its totals per license type, and the CSV download. */

import { api, listOf, refused, request } from "./api.js";
import { COLORS, drawChart, seriesKey } from "./chart.js";
import { $, announce, h } from "./dom.js";
import { errorBox } from "./feedback.js";
import { currentMonth, fmtNumber, shiftMonth } from "./format.js";
import { loadTypes } from "./license.js";
import { state, typeName } from "./state.js";

function seriesLabel(row) {
  const name = row.name || typeName(row.lic_type_id);
  return row.tenant_name || row.tenant_id ? `${row.tenant_name || row.tenant_id} · ${name}` : name;
}

export async function loadUsage() {
  const input = $("#usage-month");
  if (!input.value) input.value = state.usage.month || currentMonth();
  const month = input.value;
  state.usage.month = month;
  $("#usage-next").disabled = month >= currentMonth();
  if (state.role === "tenant" && !state.types.size) { try { await loadTypes(); } catch { /* ids instead of names */ } }
  const errorEl2 = $("#usage-error");
  let body;
  try {
    body = await api("GET", "v1/usage", { month });
    errorBox(errorEl2, null);
  } catch (e) {
    errorBox(errorEl2, e, "The usage could not be loaded");
    body = null;
  }
  state.usage.body = body;
  if (month !== $("#usage-month").value) return;  // the user moved on meanwhile
  renderUsage(month, body);
  announce(`Usage of ${month} loaded`);
}

function renderUsage(month, body) {
  let totals = body ? listOf(body, "license_types") : [];
  if (body && Array.isArray(body.tenants)) {
    // The operator's report: every tenant's license types.
    totals = body.tenants.flatMap((tenant) => listOf(tenant, "license_types").map((row) =>
      ({ ...row, tenant_id: tenant.tenant_id, tenant_name: tenant.name })));
  }
  const hours = body ? listOf(body, "hours") : [];
  $("#usage-figure").hidden = state.role === "operator" && !hours.length;
  const keys = [];
  const labels = new Map();
  for (const row of [...totals, ...hours]) {
    const key = seriesKey(row);
    if (!labels.has(key)) { keys.push(key); labels.set(key, seriesLabel(row)); }
    if (row.name && !labels.get(key)) labels.set(key, seriesLabel(row));
  }
  const color = new Map(keys.map((k, i) => [k, COLORS[i % COLORS.length]]));
  $("#usage-chart").replaceChildren(drawChart(month, hours, keys, color, labels, body !== null, $("#usage-whole").checked));
  $("#usage-legend").replaceChildren(...keys.flatMap((k) => {
    const line = h("span", { class: "swatch" });
    line.style.background = color.get(k);
    const dash = h("span", { class: "swatch dashed" });
    dash.style.borderColor = color.get(k);
    return [h("span", { class: "key" }, line, labels.get(k), " in use"), h("span", { class: "key muted" }, dash, "capacity")];
  }));
  renderTotals(totals, color);
}

function renderTotals(totals, color) {
  const table = $("#usage-table");
  const withTenant = totals.some((r) => r.tenant_id);
  const columns = [
    ...(withTenant ? [["Tenant", (r) => r.tenant_name || r.tenant_id, ""]] : []),
    ["License type", (r) => {
      const swatch = h("span", { class: "swatch" });
      swatch.style.background = color.get(seriesKey(r));
      return h("span", { class: "key" }, swatch, " ", r.name || typeName(r.lic_type_id));
    }, ""],
    ["SKU", (r) => r.sku || (state.types.get(r.lic_type_id) || {}).sku || "—", "mono"],
    ["Instance hours", (r) => fmtNumber(r.instance_hours), "num"],
    ["Peak instances", (r) => fmtNumber(r.peak_instances), "num"],
    ["Capacity", (r) => fmtNumber(r.capacity), "num"],
    ["Overage hours", (r) => (Number(r.overage_hours) > 0
      ? h("span", { class: "over-text" }, fmtNumber(r.overage_hours)) : fmtNumber(r.overage_hours)), "num"],
  ];
  table.tHead.replaceChildren(h("tr", {}, columns.map(([label, , cls]) => h("th", { scope: "col", class: cls === "num" ? "num" : null }, label))));
  const tbody = table.tBodies[0];
  if (!totals.length) {
    tbody.replaceChildren(h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, "No usage metered in this month.")));
    return;
  }
  const rows = totals.map((r) => h("tr", {}, columns.map(([, get, cls]) => h("td", { class: cls || null }, get(r)))));
  const sum = (f) => totals.reduce((a, r) => a + (Number(r[f]) || 0), 0);
  const lead = withTenant ? 3 : 2;
  rows.push(h("tr", { class: "total" },
    h("th", { scope: "row", colspan: lead }, "Total"),
    h("td", { class: "num" }, h("strong", {}, fmtNumber(sum("instance_hours")))),
    h("td", { class: "num" }, "—"),
    h("td", { class: "num" }, "—"),
    h("td", { class: "num" }, h("strong", {}, fmtNumber(sum("overage_hours"))))));
  tbody.replaceChildren(...rows);
}



async function downloadCsv() {
  const month = $("#usage-month").value || currentMonth();
  const button = $("#usage-csv");
  button.disabled = true;
  try {
    const { text } = await request("GET", "v1/usage.csv", { params: { month } });
    const blob = new Blob([text], { type: "text/csv" });
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: `usage-${month}.csv`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10000);
    announce(`usage-${month}.csv downloaded`);
  } catch (e) {
    errorBox($("#usage-error"), e, "The CSV could not be downloaded");
    refused(e);
  } finally {
    button.disabled = false;
  }
}

export function wireUsage() {
  const usageForm = $("#usage-form");
  usageForm.addEventListener("submit", (event) => { event.preventDefault(); loadUsage(); });
  $("#usage-month").addEventListener("change", () => { if ($("#usage-month").value) loadUsage(); });
  $("#usage-prev").addEventListener("click", () => {
    $("#usage-month").value = shiftMonth($("#usage-month").value || currentMonth(), -1);
    loadUsage();
  });
  $("#usage-next").addEventListener("click", () => {
    $("#usage-month").value = shiftMonth($("#usage-month").value || currentMonth(), 1);
    loadUsage();
  });
  $("#usage-csv").addEventListener("click", downloadCsv);
  $("#usage-whole").addEventListener("change", () => {
    if (state.usage.month) renderUsage(state.usage.month, state.usage.body);
  });
}
