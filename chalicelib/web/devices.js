/* The Devices screen: the table of licenses with filters and paging, Unblock and Delete (after
 * a confirmation), and one device's details and history. */

import { ApiError, api, listOf } from "./api.js";
import { $, announce, formFilters, h } from "./dom.js";
import { eventDetail, loadEvents } from "./events.js";
import { banner, confirmAction, errorBox, errorEl } from "./feedback.js";
import { fmtAgo, fmtDuration, fmtTime, humanKind, parseTime, timeUtc } from "./format.js";
import { loadSettings, loadTypes } from "./license.js";
import { canWrite, state, typeName } from "./state.js";

const PAGE_SIZE = 25;

const HOLDING = new Set(["PENDING", "ACTIVE"]);

function silentAfter() {
  const interval = Number(state.settings && state.settings.check_in_interval_s) || 3600;
  return 2 * interval;   // two missed check-ins
}

function isSilent(d) {
  if (!HOLDING.has(d.status)) return false;
  const last = parseTime(d.last_check_in_at || d.confirmed_at || d.activated_at);
  return Boolean(last) && (Date.now() - last.getTime()) / 1000 > silentAfter();
}

function fillTypeFilter() {
  const select = $("#device-filters select[name=lic_type_id]");
  const chosen = select.value;
  select.replaceChildren(h("option", { value: "" }, "Any"),
    ...[...state.types.values()].map((t) => h("option", { value: t.lic_type_id }, `${t.name} (${t.sku})`)));
  select.value = chosen;
}

export async function loadDevices() {
  const errorBoxEl = $("#devices-error");
  const tbody = $("#devices-table tbody");
  const d = state.devices;
  if (!state.types.size) { try { await loadTypes(); } catch { /* the table still shows the ids */ } }
  if (!state.settings) { try { await loadSettings(); } catch { /* default interval */ } }
  fillTypeFilter();
  let body;
  try {
    body = await api("GET", "v1/devices", { limit: PAGE_SIZE, ...d.filters, next: d.cursors[d.page] });
    errorBox(errorBoxEl, null);
  } catch (e) {
    errorBox(errorBoxEl, e, "The devices could not be loaded");
    tbody.replaceChildren();
    return;
  }
  const devices = listOf(body, "devices");
  d.next = body.next || null;
  tbody.replaceChildren(...(devices.length ? devices.map(deviceRow)
    : [h("tr", {}, h("td", { colspan: 8, class: "empty" },
      Object.keys(d.filters).some((k) => k !== "limit") ? "No LoadMaster matches these filters."
        : "No LoadMaster has activated yet."))]));
  $("#devices-next").disabled = !d.next;
  $("#devices-first").disabled = d.page === 0;
  $("#devices-page").textContent = `Page ${d.page + 1}`;
  announce(`${devices.length} device${devices.length === 1 ? "" : "s"} shown`);
}

function deviceRow(d) {
  const silent = isSilent(d);
  const classes = [d.status === "BLOCKED" ? "blocked" : "", silent ? "silent" : "", d.status === "DEACTIVATED" ? "deactivated" : ""];
  const lastSeen = d.last_check_in_at
    ? timeUtc(d.last_check_in_at)
    : h("span", { class: "muted" }, "never", d.activated_at ? [" (activated ", timeUtc(d.activated_at), ")"] : null);
  const label = `${d.mac} (${d.ip}:${d.port})`;
  // A viewer reads only: no write action is offered (the API would refuse it anyway).
  const actions = canWrite() && h("div", { class: "actions" },
    d.status === "BLOCKED"
      ? h("button", { type: "button", class: "small primary", "data-action": "unblock", "aria-label": `Unblock ${label}`, onclick: () => unblockDevice(d) }, "Unblock")
      : null,
    h("button", { type: "button", class: "small ghost", "data-action": "delete", "aria-label": `Delete ${label}`, onclick: () => deleteDevice(d) }, "Delete"));
  return h("tr", { class: classes.filter(Boolean).join(" ") || null, "data-device-id": d.device_id, "data-status": d.status },
    h("td", {}, h("span", { class: `badge ${d.status}` }, d.status),
      silent ? h("span", { class: "badge warn", title: `no check-in for more than ${fmtDuration(silentAfter())}` }, "silent") : null),
    h("td", { class: "mono" }, d.mac),
    h("td", { class: "mono" }, `${d.ip}:${d.port}`),
    h("td", { class: "mono" }, d.sku),
    h("td", {}, typeName(d.lic_type_id)),
    h("td", {}, lastSeen),
    h("td", {}, h("button", { type: "button", class: "link mono", title: "Details", onclick: () => showDevice(d.device_id) },
      String(d.device_id).slice(0, 8))),
    h("td", {}, actions));
}



async function unblockDevice(d) {
  const ok = await confirmAction("Unblock this LoadMaster?",
    `${d.mac} (${d.ip}:${d.port}) becomes DEACTIVATED: it may then activate again and take an instance.`, "Unblock");
  if (!ok) return;
  try {
    await api("POST", `v1/devices/${encodeURIComponent(d.device_id)}/unblock`);
    banner(`LoadMaster ${d.mac} unblocked: it may activate again.`, "ok");
  } catch (e) {
    banner(`Could not unblock ${d.mac}: ${e instanceof ApiError ? e.text : "unexpected error"}`);
  }
  await loadDevices();
}

async function deleteDevice(d) {
  const ok = await confirmAction("Delete this LoadMaster?",
    `${d.mac} (${d.ip}:${d.port}) is removed and its instance released. Its next check-in is refused until it activates again.`,
    "Delete");
  if (!ok) return;
  try {
    await api("DELETE", `v1/devices/${encodeURIComponent(d.device_id)}`);
    banner(`LoadMaster ${d.mac} deleted.`, "ok");
  } catch (e) {
    banner(`Could not delete ${d.mac}: ${e instanceof ApiError ? e.text : "unexpected error"}`);
  }
  await loadDevices();
}

function describeValue(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value)) return `${fmtTime(value)} (${fmtAgo(value)})`;
  if (Array.isArray(value)) {
    return value.length ? h("ul", {}, value.map((v) => h("li", {}, describeValue(v)))) : "none";
  }
  if (typeof value === "object") {
    return h("dl", { class: "settings" }, Object.entries(value).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, describeValue(v))]));
  }
  return String(value);
}

const DEVICE_FIELDS = [
  ["status", "Status"], ["mac", "MAC"], ["ip", "IP"], ["port", "Port"], ["sku", "SKU"], ["lic_type_id", "License type"],
  ["image", "Image"], ["version", "Version"], ["activated_at", "Activated"], ["confirm_by", "Confirm by"],
  ["confirmed_at", "Confirmed"], ["last_check_in_at", "Last check-in"], ["deactivated_at", "Deactivated"],
  ["reason", "Reason"], ["device_id", "Device id"],
];

async function showDevice(deviceId) {
  const dialog = $("#device-dialog");
  const body = $("#device-dialog-body");
  body.replaceChildren(h("dd", {}, "Loading…"));
  dialog.returnValue = "";
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "events") {
      state.events.deviceId = deviceId;
      $("#event-filters input[name=device_id]").value = deviceId;
      if (location.hash === "#events") loadEvents(); else location.hash = "#events";
    }
  }, { once: true });
  dialog.showModal();
  try {
    const device = await api("GET", `v1/devices/${encodeURIComponent(deviceId)}`);
    const known = new Set(DEVICE_FIELDS.map(([k]) => k).concat(["history"]));
    const fields = DEVICE_FIELDS.filter(([k]) => k in device)
      .concat(Object.keys(device).filter((k) => !known.has(k)).map((k) => [k, k.replace(/_/g, " ")]));
    const items = fields.flatMap(([k, label]) => {
      let value = describeValue(device[k]);
      if (k === "status") value = h("span", { class: `badge ${device.status}` }, device.status);
      if (k === "lic_type_id") value = `${typeName(device[k])} (${device[k]})`;
      return [h("dt", {}, label), h("dd", { class: k === "device_id" || k === "mac" ? "mono" : null }, value)];
    });
    const history = Array.isArray(device.history) ? device.history : [];
    items.push(h("dt", {}, "History"), h("dd", {}, history.length
      ? h("ul", { class: "history" }, history.map((ev) => h("li", {},
        h("span", { class: "muted" }, fmtTime(ev.at)), " ", h("strong", {}, humanKind(ev.kind)), " ", eventDetail(ev))))
      : "no event"));
    body.replaceChildren(...items);
  } catch (e) {
    body.replaceChildren(h("dd", {}, errorEl(e, "The device could not be loaded")));
  }
}

export function wireDevices() {
  const deviceForm = $("#device-filters");
  deviceForm.addEventListener("submit", (event) => {
    event.preventDefault();
    state.devices = { cursors: [null], page: 0, filters: formFilters(deviceForm) };
    loadDevices();
  });
  deviceForm.addEventListener("reset", () => {
    state.devices = { cursors: [null], page: 0, filters: {} };
    window.setTimeout(loadDevices, 0);
  });
  $("#devices-next").addEventListener("click", () => {
    const d = state.devices;
    if (!d.next) return;
    d.cursors = d.cursors.slice(0, d.page + 1).concat([d.next]);
    d.page += 1;
    loadDevices();
  });
  $("#devices-first").addEventListener("click", () => {
    state.devices.page = 0;
    loadDevices();
  });
}
