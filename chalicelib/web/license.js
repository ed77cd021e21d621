/* The License screen: the tenant's licensing state, its license types (pools) with capacity
 * bars, and its licensing settings. */

import { api, listOf } from "./api.js";
import { $, announce, h } from "./dom.js";
import { errorEl } from "./feedback.js";
import { fmtDuration, fmtNumber, fmtTime, parseTime } from "./format.js";
import { isOwner, state } from "./state.js";
import { startTrial } from "./tenant.js";

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

export async function loadTypes() {
  const body = await api("GET", "v1/license-types");
  const types = listOf(body, "license_types");
  state.types = new Map(types.map((t) => [t.lic_type_id, t]));
  return types;
}

export async function loadSettings() {
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

/** The owner of a tenant with no trial and no contract may start its one trial. */
function trialCard() {
  const button = h("button", { type: "button", class: "primary", id: "license-trial" }, "Start your trial");
  button.addEventListener("click", async () => {
    button.disabled = true;
    if (await startTrial()) {
      state.settings = null;
      await loadLicense();
    } else {
      button.disabled = false;
    }
  });
  return h("div", { class: "card" }, h("div", { class: "label" }, "Trial"),
    h("div", { class: "sub" }, "Try Metered Licensing with your LoadMasters: the tenant's one trial."), h("div", { class: "value" }, button));
}

export async function loadLicense() {
  const cards = $("#license-cards");
  const typesBox = $("#license-types");
  const settingsBox = $("#settings");
  const [lic, types, settings] = await Promise.allSettled([api("GET", "v1/license"), loadTypes(), loadSettings()]);
  cards.setAttribute("aria-busy", "false");
  if (lic.status === "fulfilled") {
    cards.replaceChildren(...licenseCards(lic.value));
    if (lic.value.state === "UNLICENSED" && isOwner()) cards.append(trialCard());
  }
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
