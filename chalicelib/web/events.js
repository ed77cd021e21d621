/* The Debug log screen: what happened to which device and why, newest first. */

import { api, listOf } from "./api.js";
import { $, announce, h } from "./dom.js";
import { errorBox } from "./feedback.js";
import { humanKind, timeExact } from "./format.js";
import { loadTypes } from "./license.js";
import { state, typeName } from "./state.js";

const EVENTS_PAGE = 50;

export function eventDetail(ev) {
  const detail = { ...(ev.detail && typeof ev.detail === "object" ? ev.detail : {}) };
  const parts = [];
  if (ev.code) parts.push(h("span", { class: "badge bad" }, ev.code));
  // The service gives a refusal's message (the seed's text) with the event.
  const message = ev.message || detail.message || null;
  delete detail.message;
  if (message) parts.push(" ", message);
  if (detail.ip && detail.port) {
    detail["ip:port"] = `${detail.ip}:${detail.port}`;
    delete detail.ip;
    delete detail.port;
  }
  if (detail.lic_type_id) {
    detail["license type"] = typeName(detail.lic_type_id);
    delete detail.lic_type_id;
  }
  const rest = Object.entries(detail).map(([k, v]) => `${k.replace(/_/g, " ")}: ${typeof v === "object" ? JSON.stringify(v) : v}`);
  if (rest.length) parts.push(h("span", { class: "detail" }, (message || ev.code ? " · " : "") + rest.join(" · ")));
  return parts.length ? parts : "—";
}

function eventRow(ev) {
  const at = ev.at || ev.time || ev.created_at || (ev.event_id ? String(ev.event_id).split("#")[0] : null);
  return h("tr", { "data-kind": ev.kind || ev.type || "" },
    h("td", { class: "nowrap" }, timeExact(at)),
    h("td", { class: "nowrap" }, humanKind(ev.kind || ev.type)),
    h("td", {}, ev.device_id
      ? h("button", { type: "button", class: "link mono", title: `Show only ${ev.device_id}`, onclick: () => filterEvents(ev.device_id) },
        String(ev.device_id).slice(0, 8))
      : "—"),
    h("td", {}, eventDetail(ev)));
}

function filterEvents(deviceId) {
  $("#event-filters input[name=device_id]").value = deviceId;
  state.events.deviceId = deviceId;
  loadEvents();
}

export async function loadEvents(more = false) {
  const tbody = $("#events-table tbody");
  const ev = state.events;
  if (state.role === "tenant" && !state.types.size) { try { await loadTypes(); } catch { /* ids */ } }
  let body;
  try {
    body = await api("GET", "v1/events", { limit: EVENTS_PAGE, device_id: ev.deviceId.trim(), next: more ? ev.next : null });
    errorBox($("#events-error"), null);
  } catch (e) {
    errorBox($("#events-error"), e, "The debug log could not be loaded");
    if (!more) tbody.replaceChildren();
    return;
  }
  const events = listOf(body, "events");
  ev.next = body.next || null;
  const rows = events.map(eventRow);
  if (more) tbody.append(...rows);
  else {
    tbody.replaceChildren(...(rows.length ? rows
      : [h("tr", {}, h("td", { colspan: 4, class: "empty" }, ev.deviceId ? "No event for this device." : "No event yet."))]));
  }
  $("#events-more").disabled = !ev.next;
  announce(`${events.length} event${events.length === 1 ? "" : "s"} shown`);
}

export function wireEvents() {
  const eventForm = $("#event-filters");
  eventForm.addEventListener("submit", (event) => {
    event.preventDefault();
    state.events.deviceId = String(new FormData(eventForm).get("device_id") || "").trim();
    loadEvents();
  });
  eventForm.addEventListener("reset", () => {
    state.events.deviceId = "";
    window.setTimeout(() => loadEvents(), 0);
  });
  $("#events-more").addEventListener("click", () => loadEvents(true));
}
