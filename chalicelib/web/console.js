/* Metered Licensing console: one page, no library, no build step.
 *
 * The key is kept in sessionStorage (this tab only) and sent as "Authorization: Bearer"; it is
 * never put in a URL. Every URL is relative to where the page is served, so the console works
 * under `chalice local` (/console) and behind API Gateway's stage prefix (/api/console).
 * Everything shown is built with DOM calls and textContent: nothing the API says is parsed as HTML.
 */
"use strict";

(() => {
  const KEY_ITEM = "licensing.console.key";
  const ROLE_ITEM = "licensing.console.role";
  const API_ROOT = location.pathname.replace(/console\/?$/, "");
  const PAGE_SIZE = 25;
  const EVENTS_PAGE = 50;
  const COLORS = ["#2f80d1", "#e07b00", "#2a9d55", "#8e44ad", "#c0392b", "#16a2b8", "#6d4c41", "#7f8c8d"];
  const SCREENS = {
    tenant: [["license", "License"], ["devices", "Devices"], ["usage", "Usage"], ["events", "Debug log"]],
    operator: [["tenants", "Tenants"], ["usage", "Usage"]],
  };
  const HOLDING = new Set(["PENDING", "ACTIVE"]);
  const SETTINGS_LABELS = {
    confirm_window_s: "Block an unconfirmed activation after",
    check_in_interval_s: "LoadMasters check in every",
    silent_after_s: "Deactivate a LoadMaster not heard from for",
    lease_s: "A LoadMaster keeps working without a check-in for",
  };
  const OVERAGE_TEXT = {
    NO_OVERAGE: "no overage: refused at capacity",
    ALLOW_1_25X: "overage allowed up to 1.25× capacity",
    ALLOW_1_5X: "overage allowed up to 1.5× capacity",
    ALLOW_2X: "overage allowed up to 2× capacity",
    ALWAYS_ALLOW: "overage always allowed",
  };
  const STATE_TEXT = {
    UNLICENSED: "Kemp 360 is unlicensed.",
    TRIAL: "Trial license",
    LICENSED: "Metered Licensing contract",
    EXPIRED: "Trial has Expired.",
    TERMINATED: "The contract was terminated.",
  };

  const state = {
    key: null,
    role: null,
    screen: null,
    types: new Map(),        // lic_type_id -> license type
    settings: null,
    devices: { cursors: [null], page: 0, filters: {} },
    events: { next: null, deviceId: "" },
    tenants: { next: null },
    usage: { month: null, body: null },
  };

  const $ = (selector, root = document) => root.querySelector(selector);

  // -- DOM helpers --------------------------------------------------------------------------

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    setProps(el, props);
    append(el, children);
    return el;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined) el.setAttribute(k, String(v));
    }
    append(el, children);
    return el;
  }

  function setProps(el, props) {
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
  }

  function announce(text) {
    const status = $("#status");
    status.textContent = "";
    window.setTimeout(() => { status.textContent = text; }, 30);
  }

  // -- formatting -----------------------------------------------------------------------------

  const pad = (n) => String(n).padStart(2, "0");

  function parseTime(value) {
    if (!value) return null;
    const t = new Date(value);
    return Number.isNaN(t.getTime()) ? null : t;
  }

  function fmtTime(value) {
    const t = parseTime(value);
    if (!t) return "—";
    return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())} ` +
      `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())} UTC`;
  }

  function fmtAgo(value) {
    const t = parseTime(value);
    if (!t) return "";
    const seconds = Math.round((Date.now() - t.getTime()) / 1000);
    const future = seconds < 0;
    const abs = Math.abs(seconds);
    let text;
    if (abs < 60) return future ? "in a moment" : "just now";
    if (abs < 3600) text = `${Math.round(abs / 60)} min`;
    else if (abs < 172800) text = `${Math.round(abs / 3600)} h`;
    else text = `${Math.round(abs / 86400)} days`;
    return future ? `in ${text}` : `${text} ago`;
  }

  function fmtDuration(seconds) {
    const n = Number(seconds);
    if (!Number.isFinite(n)) return "—";
    if (n % 86400 === 0) return `${n / 86400} day${n === 86400 ? "" : "s"}`;
    if (n % 3600 === 0) return `${n / 3600} hour${n === 3600 ? "" : "s"}`;
    if (n % 60 === 0) return `${n / 60} minute${n === 60 ? "" : "s"}`;
    return `${n} seconds`;
  }

  const fmtNumber = (n) => (Number.isFinite(Number(n)) ? Number(n).toLocaleString("en-US", { maximumFractionDigits: 2 }) : "—");

  function humanKind(kind) {
    if (!kind) return "Event";
    const text = String(kind).replace(/[._]+/g, " ").trim();
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function typeName(licTypeId) {
    const t = state.types.get(licTypeId);
    return t ? t.name : licTypeId || "—";
  }

  function timeUtc(value) {
    const t = parseTime(value);
    return t ? h("time", { datetime: t.toISOString(), title: fmtTime(value) }, fmtAgo(value)) : "—";
  }

  /** For the debug log: to the second, with "5 min ago" as its tooltip. */
  function timeExact(value) {
    const t = parseTime(value);
    if (!t) return "—";
    return h("time", { datetime: t.toISOString(), title: fmtAgo(value) },
      `${fmtTime(value).replace(" UTC", "")}:${pad(t.getUTCSeconds())}`);
  }

  function currentMonth() {
    const now = new Date();
    return `${now.getUTCFullYear()}-${pad(now.getUTCMonth() + 1)}`;
  }

  function shiftMonth(month, delta) {
    const [y, m] = month.split("-").map(Number);
    const d = new Date(Date.UTC(y, m - 1 + delta, 1));
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`;
  }

  // -- API ------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message, detail) {
      super(message);
      this.status = status;
      this.code = code;
      this.detail = detail || {};
    }

    /** The contract's message, with the fields a VALIDATION_ERROR names. */
    get text() {
      const fields = this.detail && this.detail.fields;
      if (fields && typeof fields === "object" && Object.keys(fields).length) {
        const parts = Object.entries(fields).map(([k, v]) => `${k}: ${v}`);
        return `${this.message} (${parts.join("; ")})`;
      }
      return this.message;
    }
  }

  const STATUS_TEXT = {
    400: "The request was not accepted.",
    401: "The key was not accepted.",
    403: "This key may not do that.",
    404: "Not found.",
    409: "That conflicts with the current state.",
    429: "Too many requests; try again in a moment.",
    500: "The service had an internal error.",
    502: "The service is not answering properly; try again in a moment.",
    503: "The service is temporarily unavailable; try again in a moment.",
    504: "The service took too long to answer; try again in a moment.",
  };

  async function request(method, path, params, key = state.key) {
    const url = new URL(API_ROOT + path, location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
    }
    let response;
    try {
      response = await fetch(url, {
        method,
        headers: { Authorization: `Bearer ${key}`, Accept: "application/json, text/csv" },
        cache: "no-store",
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
    } catch {
      throw new ApiError(0, "NETWORK", "The service cannot be reached. Check the connection and try again.");
    }
    const text = await response.text();
    if (response.ok) return { response, text };
    let body = null;
    try { body = JSON.parse(text); } catch { body = null; }
    const error = body && typeof body === "object" && body.error ? body.error : null;
    throw new ApiError(response.status, (error && error.code) || `HTTP_${response.status}`,
      (error && error.message) || STATUS_TEXT[response.status] || `The service answered ${response.status}.`,
      error && error.detail);
  }

  async function api(method, path, params) {
    try {
      const { text } = await request(method, path, params);
      return text ? JSON.parse(text) : {};
    } catch (e) {
      if (e instanceof ApiError && e.status === 401 && state.key) {
        signOut(`You were signed out: ${e.text}`);
      }
      throw e;
    }
  }

  function errorBox(box, error, what) {
    box.replaceChildren();
    if (!error) { box.hidden = true; return; }
    const message = error instanceof ApiError ? error.text : "Something went wrong in the console.";
    append(box, [what ? `${what}: ` : "", message]);
    if (error instanceof ApiError && error.code && !error.code.startsWith("HTTP_") && error.code !== "NETWORK") {
      box.append(h("span", { class: "code" }, error.code));
    }
    box.hidden = false;
    if (!(error instanceof ApiError)) console.warn(error);
  }

  function banner(message, kind = "error") {
    const el = $("#banner");
    el.replaceChildren(h("span", {}, message),
      h("button", { type: "button", class: "ghost small", onclick: () => { el.hidden = true; } }, "Dismiss"));
    el.className = kind === "ok" ? "banner ok" : "banner";
    el.setAttribute("role", kind === "ok" ? "status" : "alert");
    el.hidden = false;
  }

  function clearBanner() { $("#banner").hidden = true; }

  function pickArray(body, names) {
    if (Array.isArray(body)) return body;
    for (const name of names) if (body && Array.isArray(body[name])) return body[name];
    return [];
  }

  // -- sign-in and navigation -----------------------------------------------------------------

  async function probe(role, key) {
    if (role === "tenant") await request("GET", "v1/license", {}, key);
    else await request("GET", "v1/tenants", { limit: 1 }, key);
  }

  async function signIn(key, choice) {
    // Try the likely role first, so that the usual sign-in makes no refused request.
    let order = key.startsWith("lk_api.") ? ["tenant", "operator"] : ["operator", "tenant"];
    if (choice === "tenant" || choice === "operator") order = [choice];
    let last = null;
    for (const role of order) {
      try {
        await probe(role, key);
        return role;
      } catch (e) {
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) { last = e; continue; }
        throw e;
      }
    }
    throw last;
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY_ITEM);
    sessionStorage.removeItem(ROLE_ITEM);
    state.key = null;
    state.role = null;
    state.types = new Map();
    state.settings = null;
    state.usage = { month: null, body: null };
    clearBanner();
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    showSignIn(message);
  }

  function showSignIn(message) {
    $("#nav").hidden = true;
    $("#who").hidden = true;
    for (const screen of document.querySelectorAll(".screen")) screen.hidden = true;
    $("#screen-signin").hidden = false;
    const error = $("#signin-error");
    error.textContent = message || "";
    error.hidden = !message;
    document.title = "Sign in · Metered Licensing console";
    $("#signin-key").focus();
  }

  function buildNav() {
    const nav = $("#nav");
    nav.replaceChildren(...SCREENS[state.role].map(([id, label]) => h("a", { href: `#${id}`, "data-screen": id }, label)));
    nav.hidden = false;
    $("#who-label").textContent = state.role === "operator" ? "Operator" : "Tenant administrator";
    $("#who").hidden = false;
  }

  function route() {
    if (!state.key) { showSignIn(); return; }
    const allowed = SCREENS[state.role].map(([id]) => id);
    let screen = location.hash.replace(/^#/, "");
    if (!allowed.includes(screen)) {
      screen = allowed[0];
      history.replaceState(null, "", `#${screen}`);
    }
    const first = state.screen === null;
    state.screen = screen;
    for (const el of document.querySelectorAll(".screen")) el.hidden = el.id !== `screen-${screen}`;
    for (const link of document.querySelectorAll("#nav a")) {
      if (link.dataset.screen === screen) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    const label = SCREENS[state.role].find(([id]) => id === screen)[1];
    document.title = `${label} · Metered Licensing console`;
    if (!first) $("#main").focus({ preventScroll: true });
    load(screen);
  }

  function load(screen) {
    const loaders = { license: loadLicense, devices: loadDevices, usage: loadUsage, events: loadEvents, tenants: loadTenants };
    Promise.resolve(loaders[screen]()).catch((e) => banner(e instanceof ApiError ? e.text : "Something went wrong in the console."));
  }

  // -- License --------------------------------------------------------------------------------

  async function loadTypes() {
    const body = await api("GET", "v1/license-types");
    const types = pickArray(body, ["license_types", "items"]);
    state.types = new Map(types.map((t) => [t.lic_type_id, t]));
    return types;
  }

  async function loadSettings() {
    if (state.settings) return state.settings;
    state.settings = await api("GET", "v1/settings");
    return state.settings;
  }

  function card(label, value, sub, badgeClass) {
    return h("div", { class: "card" },
      h("div", { class: "label" }, label),
      h("div", { class: "value" }, badgeClass ? h("span", { class: `badge ${badgeClass}` }, value) : value),
      sub ? h("div", { class: "sub" }, sub) : null);
  }

  function licenseCards(lic) {
    const cards = [card("State", lic.state, STATE_TEXT[lic.state] || "", lic.state)];
    if (lic.state === "TRIAL" || (lic.state === "EXPIRED" && lic.trial_expires_at)) {
      const end = parseTime(lic.trial_expires_at);
      const days = end ? Math.max(0, Math.ceil((end.getTime() - Date.now()) / 86400000)) : null;
      cards.push(card("Trial days left", days === null ? "—" : String(days), end ? `until ${fmtTime(lic.trial_expires_at)}` : ""));
    }
    if (lic.contract_id) {
      cards.push(card("Contract", lic.contract_id, lic.contract_ends_at ? `ends ${fmtTime(lic.contract_ends_at)}` : "no end date"));
    }
    const capacity = Number(lic.capacity) || 0;
    const inUse = Number(lic.in_use) || 0;
    cards.push(card("Capacity", fmtNumber(capacity), "instances"));
    cards.push(card("In use", fmtNumber(inUse),
      inUse > capacity ? `${fmtNumber(inUse - capacity)} above capacity` : `${fmtNumber(capacity - inUse)} available`));
    return cards;
  }

  function capacityBar(inUse, capacity) {
    const bar = h("div", { class: "bar", role: "img", "aria-label": `${inUse} of ${capacity} instances in use` });
    const scale = Math.max(capacity, inUse, 1);
    const fill = h("div", { class: "fill" });
    fill.style.width = `${(Math.min(inUse, capacity) / scale) * 100}%`;
    bar.append(fill);
    if (inUse > capacity) {
      const over = h("div", { class: "over" });
      over.style.left = `${(capacity / scale) * 100}%`;
      over.style.width = `${((inUse - capacity) / scale) * 100}%`;
      bar.append(over);
    } else if (capacity > 0 && inUse >= capacity) {
      bar.classList.add("full");
    }
    return bar;
  }

  function typeCard(t) {
    const inUse = Number(t.in_use) || 0;
    const capacity = Number(t.capacity) || 0;
    const over = Number.isFinite(Number(t.overage)) ? Number(t.overage) : Math.max(0, inUse - capacity);
    const tags = [t.trial ? h("span", { class: "badge warn" }, "trial") : null,
      over ? h("span", { class: "badge bad" }, "overage") : null];
    return h("div", { class: "type", "data-lic-type-id": t.lic_type_id },
      h("div", { class: "row" },
        h("div", {}, h("span", { class: "name" }, t.name || t.lic_type_id), " ", h("span", { class: "muted mono" }, t.sku), " ", tags),
        h("div", {}, h("strong", {}, `${fmtNumber(inUse)} / ${fmtNumber(capacity)}`), " in use")),
      capacityBar(inUse, capacity),
      h("div", { class: "row detail" },
        h("span", {}, over ? h("span", { class: "over-text" }, `Overage: ${fmtNumber(over)} instance${over === 1 ? "" : "s"} above capacity`)
          : `${fmtNumber(Math.max(capacity - inUse, 0))} available`),
        h("span", {}, t.overage_policy ? `${OVERAGE_TEXT[t.overage_policy] || t.overage_policy} · ` : "",
          h("span", { class: "mono" }, t.lic_type_id))));
  }

  async function loadLicense() {
    const cards = $("#license-cards");
    const typesBox = $("#license-types");
    const settingsBox = $("#settings");
    const [lic, types, settings] = await Promise.allSettled([api("GET", "v1/license"), loadTypes(), loadSettings()]);
    cards.setAttribute("aria-busy", "false");
    if (lic.status === "fulfilled") cards.replaceChildren(...licenseCards(lic.value));
    else cards.replaceChildren(errorEl(lic.reason, "The license could not be loaded"));
    if (types.status === "fulfilled") {
      typesBox.replaceChildren(...(types.value.length ? types.value.map(typeCard)
        : [h("p", { class: "muted" }, "No license types yet.")]));
    } else {
      typesBox.replaceChildren(errorEl(types.reason, "The license types could not be loaded"));
    }
    if (settings.status === "fulfilled") {
      settingsBox.replaceChildren(...Object.entries(SETTINGS_LABELS).flatMap(([k, label]) =>
        [h("dt", {}, label), h("dd", { "data-setting": k }, fmtDuration(settings.value[k]))]));
    } else {
      settingsBox.replaceChildren(h("dd", {}, errorEl(settings.reason, "The settings could not be loaded")));
    }
    announce("License loaded");
  }

  function errorEl(error, what) {
    const box = h("div", { class: "error", role: "alert" });
    errorBox(box, error, what);
    return box;
  }

  // -- Devices --------------------------------------------------------------------------------

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

  async function loadDevices() {
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
    const devices = pickArray(body, ["devices", "items"]);
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
    const actions = h("div", { class: "actions" },
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

  function confirmAction(title, text, okLabel) {
    const dialog = $("#confirm");
    $("#confirm-title").textContent = title;
    $("#confirm-text").textContent = text;
    $("#confirm-ok").textContent = okLabel;
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
      $("#confirm-cancel").focus();
    });
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

  // -- Usage ----------------------------------------------------------------------------------

  function seriesKey(row) {
    return row.tenant_id ? `${row.tenant_id}#${row.lic_type_id}` : String(row.lic_type_id);
  }

  function seriesLabel(row) {
    const name = row.name || typeName(row.lic_type_id);
    return row.tenant_name || row.tenant_id ? `${row.tenant_name || row.tenant_id} · ${name}` : name;
  }

  async function loadUsage() {
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
    let totals = body ? pickArray(body, ["license_types", "usage", "types", "items"]) : [];
    if (body && Array.isArray(body.tenants)) {
      // The operator's report: every tenant's license types.
      totals = body.tenants.flatMap((tenant) => pickArray(tenant, ["license_types"]).map((row) =>
        ({ ...row, tenant_id: tenant.tenant_id, tenant_name: tenant.name })));
    }
    const hours = body ? pickArray(body, ["hours", "points"]) : [];
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

  function hourIndex(value, start) {
    const t = parseTime(typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d$/.test(value) ? `${value}:00:00Z` : value);
    return t ? Math.floor((t.getTime() - start) / 3600000) : null;
  }

  const TICK_STEPS = [1, 2, 3, 6, 12, 24, 48, 72, 168];

  function drawChart(month, hours, keys, color, labels, loaded, whole) {
    const [y, m] = month.split("-").map(Number);
    const start = Date.UTC(y, m - 1, 1);
    const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
    const total = days * 24;
    const W = 960;
    const H = 310;
    const L = 44;
    const R = 18;
    const T = 14;
    const B = 46;
    const pw = W - L - R;
    const ph = H - T - B;

    const points = new Map(keys.map((k) => [k, []]));
    let top = 1;
    let first = total;
    let last = -1;
    for (const p of hours) {
      const i = hourIndex(p.hour, start);
      if (i === null || i < 0 || i >= total) continue;
      const key = seriesKey(p);
      if (!points.has(key)) points.set(key, []);
      points.get(key).push({ i, inUse: Number(p.in_use) || 0, capacity: Number(p.capacity) || 0 });
      top = Math.max(top, Number(p.in_use) || 0, Number(p.capacity) || 0);
      first = Math.min(first, i);
      last = Math.max(last, i);
    }
    // The whole month, or the metered hours only (at least six hours wide).
    let lo = 0;
    let hi = total;
    if (!whole && last >= 0) {
      lo = first;
      hi = last + 1;
      while (hi - lo < 6) {
        if (hi < total) hi += 1;
        if (hi - lo < 6 && lo > 0) lo -= 1;
      }
    }
    const step = Math.max(1, Math.ceil(top / 5));
    const yMax = step * Math.ceil(top / step) + (top % step === 0 ? step : 0);
    const x = (i) => L + ((i - lo) / (hi - lo)) * pw;
    const yy = (v) => T + ph - (v / yMax) * ph;

    const title = `Hourly instances in use per license type, ${month}`;
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "usage-chart-title", class: "usage-svg" },
      s("title", { id: "usage-chart-title" }, title));
    const grid = s("g", { class: "grid" });
    for (let v = 0; v <= yMax; v += step) {
      grid.append(s("line", { class: "grid-line", x1: L, x2: W - R, y1: yy(v), y2: yy(v) }),
        s("text", { x: L - 8, y: yy(v) + 4, "text-anchor": "end" }, String(v)));
    }
    const monthName = new Date(start).toLocaleString("en-US", { month: "short", timeZone: "UTC" });
    const ticks = [];
    if (lo === 0 && hi === total) {
      for (const day of [1, 5, 10, 15, 20, 25, days]) ticks.push([(day - 1) * 24, day === 1 ? `${monthName} 1` : String(day)]);
    } else {
      const every = TICK_STEPS.find((n) => (hi - lo) / n <= 8) || 168;
      for (let i = Math.ceil(lo / every) * every; i <= hi; i += every) {
        const at = new Date(start + i * 3600000);
        const day = `${monthName} ${at.getUTCDate()}`;
        const hour = `${pad(at.getUTCHours())}:00`;
        ticks.push([i, every >= 24 ? day : (ticks.length === 0 || at.getUTCHours() === 0 ? `${day} ${hour}` : hour)]);
      }
    }
    for (const [i, label] of ticks) {
      const anchor = x(i) - L < 30 ? "start" : W - R - x(i) < 30 ? "end" : "middle";
      grid.append(s("line", { class: "axis", x1: x(i), x2: x(i), y1: T + ph, y2: T + ph + 5 }),
        s("text", { x: x(i), y: T + ph + 19, "text-anchor": anchor }, label));
    }
    grid.append(s("line", { class: "axis", x1: L, x2: W - R, y1: T + ph, y2: T + ph }),
      s("text", { x: L, y: H - 2 }, "instances in use, per hour (UTC)"));
    svg.append(grid);

    if (!hours.length) {
      svg.append(s("text", { x: L + pw / 2, y: T + ph / 2, "text-anchor": "middle", class: "none" },
        loaded ? `No hours metered in ${month} yet.` : "The usage could not be loaded."));
      return svg;
    }

    for (const [key, list] of points) {
      list.sort((a, b) => a.i - b.i);
      const c = color.get(key) || COLORS[0];
      const runs = [];
      for (const p of list) {
        const run = runs[runs.length - 1];
        if (run && run[run.length - 1].i === p.i - 1) run.push(p); else runs.push([p]);
      }
      const line = [];
      const capacity = [];
      const area = [];
      const over = [];
      for (const run of runs) {
        const first = run[0];
        line.push(`M${x(first.i)},${yy(first.inUse)}`);
        capacity.push(`M${x(first.i)},${yy(first.capacity)}`);
        area.push(`M${x(first.i)},${yy(0)}`);
        for (const p of run) {
          line.push(`V${yy(p.inUse)}H${x(p.i + 1)}`);
          capacity.push(`V${yy(p.capacity)}H${x(p.i + 1)}`);
          area.push(`V${yy(p.inUse)}H${x(p.i + 1)}`);
          if (p.inUse > p.capacity) {
            over.push(`M${x(p.i)},${yy(p.inUse)}H${x(p.i + 1)}V${yy(p.capacity)}H${x(p.i)}Z`);
          }
        }
        area.push(`V${yy(0)}H${x(first.i)}Z`);
      }
      const g = s("g", { class: "series", "data-series": key },
        s("title", {}, labels.get(key) || key),
        s("path", { class: "area", d: area.join(""), fill: c, "fill-opacity": 0.12, stroke: "none" }),
        s("path", { class: "capacity", d: capacity.join(""), fill: "none", stroke: c, "stroke-width": 1.5, "stroke-dasharray": "5 4", "stroke-opacity": 0.7 }),
        over.length ? s("path", { class: "overage", d: over.join(""), fill: "#c0392b", "fill-opacity": 0.35, stroke: "none" }) : null,
        s("path", { class: "in-use", d: line.join(""), fill: "none", stroke: c, "stroke-width": 2, "stroke-linejoin": "round" }));
      svg.append(g);
    }
    return svg;
  }

  async function downloadCsv() {
    const month = $("#usage-month").value || currentMonth();
    const button = $("#usage-csv");
    button.disabled = true;
    try {
      const { text } = await request("GET", "v1/usage.csv", { month });
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
      if (e instanceof ApiError && e.status === 401) signOut(`You were signed out: ${e.text}`);
    } finally {
      button.disabled = false;
    }
  }

  // -- Debug log ------------------------------------------------------------------------------

  function eventDetail(ev) {
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

  async function loadEvents(more = false) {
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
    const events = pickArray(body, ["events", "items"]);
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

  // -- Tenants (operator) ---------------------------------------------------------------------

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

  async function loadTenants(more = false) {
    const tbody = $("#tenants-table tbody");
    let body;
    try {
      body = await api("GET", "v1/tenants", { limit: 50, next: more ? state.tenants.next : null });
      errorBox($("#tenants-error"), null);
    } catch (e) {
      errorBox($("#tenants-error"), e, "The tenants could not be loaded");
      return;
    }
    const tenants = pickArray(body, ["tenants", "items"]);
    state.tenants.next = body.next || null;
    const rows = tenants.map(tenantRow);
    if (more) tbody.append(...rows);
    else tbody.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No tenant yet."))]));
    $("#tenants-more").disabled = !state.tenants.next;
    announce(`${tenants.length} tenant${tenants.length === 1 ? "" : "s"} shown`);
  }

  // -- wiring ---------------------------------------------------------------------------------

  function formFilters(form) {
    const filters = {};
    for (const [k, v] of new FormData(form).entries()) {
      const value = String(v).trim();
      if (value) filters[k] = value;
    }
    return filters;
  }

  function wire() {
    $("#signin-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      const key = $("#signin-key").value.trim();
      const error = $("#signin-error");
      if (!key) {
        error.textContent = "Enter an API key.";
        error.hidden = false;
        return;
      }
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      error.hidden = true;
      try {
        const role = await signIn(key, new FormData(form).get("role"));
        state.key = key;
        state.role = role;
        sessionStorage.setItem(KEY_ITEM, key);
        sessionStorage.setItem(ROLE_ITEM, role);
        $("#signin-key").value = "";
        $("#screen-signin").hidden = true;
        buildNav();
        state.screen = null;
        if (location.hash) history.replaceState(null, "", location.pathname + location.search);
        route();
      } catch (e) {
        error.textContent = e instanceof ApiError ? `Sign-in failed: ${e.text}` : "Sign-in failed.";
        error.hidden = false;
        $("#signin-key").focus();
      } finally {
        button.disabled = false;
      }
    });

    $("#sign-out").addEventListener("click", () => signOut());
    window.addEventListener("hashchange", () => { if (state.key) route(); });
    for (const button of document.querySelectorAll("[data-reload]")) {
      button.addEventListener("click", () => {
        if (button.dataset.reload === "license") state.settings = null;
        load(button.dataset.reload);
      });
    }

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
    $("#tenants-more").addEventListener("click", () => loadTenants(true));

    window.addEventListener("unhandledrejection", (event) => {
      event.preventDefault();
      banner("Something went wrong in the console. Reload the page to try again.");
    });
  }

  function start() {
    wire();
    state.key = sessionStorage.getItem(KEY_ITEM);
    state.role = sessionStorage.getItem(ROLE_ITEM);
    if (state.key && SCREENS[state.role]) {
      buildNav();
      route();
    } else {
      state.key = null;
      showSignIn();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
