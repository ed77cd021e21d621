/* Metered Licensing console: one page, no library, no build step; ES modules served by the app
 * itself (chalicelib/api/console.py serves each file of this directory that it lists).
 *
 * This module is the entry point: who sees which screens, the navigation between them, and the
 * wiring of each. The others, by what they do: api.js (requests and errors), session.js (an
 * account's tokens), signin.js (signing in and out), accounts.js (register, confirm, reset a
 * password), tenant.js (an account's tenants: pick, create, start the trial), license.js,
 * devices.js, usage.js with chart.js, events.js, members.js, tenants.js (one screen each),
 * feedback.js (errors, banner, confirmation), dom.js, format.js and state.js.
 */

import { showAccountScreen, wireAccounts } from "./accounts.js";
import { ApiError, whenRefused } from "./api.js";
import { loadDevices, wireDevices } from "./devices.js";
import { $, h } from "./dom.js";
import { loadEvents, wireEvents } from "./events.js";
import { banner } from "./feedback.js";
import { loadLicense } from "./license.js";
import { loadMembers, wireMembers } from "./members.js";
import { whenExpired } from "./session.js";
import { PUBLIC_SCREENS, restoreSession, showSignIn, signOut, wireSignIn } from "./signin.js";
import { state } from "./state.js";
import { needsTenant, showTenantScreen, switchTenant, tenantName, wireTenant } from "./tenant.js";
import { loadTenants, wireTenants } from "./tenants.js";
import { loadUsage, wireUsage } from "./usage.js";

const TENANT_SCREENS = [["license", "License"], ["devices", "Devices"], ["usage", "Usage"], ["events", "Debug log"]];
const SCREENS = {
  tenant: TENANT_SCREENS,
  operator: [["tenants", "Tenants"], ["usage", "Usage"]],
  account: TENANT_SCREENS,
};
const MEMBERS = ["members", "Members"];
const ROLE_LABEL = { tenant: "Tenant administrator", operator: "Operator" };

const LOADERS = {
  license: loadLicense, devices: loadDevices, usage: loadUsage, events: loadEvents, tenants: loadTenants, members: loadMembers,
};

/** The screens of whoever is signed in: the owner and admins of a tenant also see its members. */
function screens() {
  const list = SCREENS[state.role];
  return state.role === "account" && (state.member === "owner" || state.member === "admin") ? [...list, MEMBERS] : list;
}

function buildWho() {
  const label = $("#who-label");
  const switcher = $("#tenant-switch");
  if (state.role === "account") {
    const account = state.account || {};
    const who = account.name || account.email || (state.session && state.session.email) || "";
    const tenants = account.tenants || [];
    // "Name · role of Tenant"; with several tenants, the tenant is the switcher's choice.
    label.textContent = !state.member ? who : tenants.length > 1 ? `${who} · ${state.member}` : `${who} · ${state.member} of ${tenantName()}`;
    label.title = account.email || "";
    switcher.replaceChildren(...tenants.map((t) => h("option", { value: t.tenant_id, selected: t.tenant_id === state.tenantId },
      `${t.name} (${t.role})`)));
    switcher.hidden = tenants.length < 2 || needsTenant();
  } else {
    label.textContent = ROLE_LABEL[state.role];
    label.removeAttribute("title");
    switcher.hidden = true;
  }
  $("#who").hidden = false;
}

function buildNav() {
  const nav = $("#nav");
  nav.replaceChildren(...screens().map(([id, label]) => h("a", { href: `#${id}`, "data-screen": id }, label)));
  nav.hidden = needsTenant();
  buildWho();
}

function route() {
  const hash = location.hash.replace(/^#/, "");
  if (!state.key) {
    if (hash === "signin" || !(hash in PUBLIC_SCREENS)) showSignIn();
    else showAccountScreen(hash);
    return;
  }
  if (needsTenant()) {
    buildNav();
    for (const el of document.querySelectorAll(".screen")) el.hidden = el.id !== "screen-tenant";
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    showTenantScreen();
    return;
  }
  const allowed = screens().map(([id]) => id);
  let screen = hash;
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
  const label = screens().find(([id]) => id === screen)[1];
  document.title = `${label} · Metered Licensing console`;
  if (!first) $("#main").focus({ preventScroll: true });
  load(screen);
}

function load(screen) {
  Promise.resolve(LOADERS[screen]()).catch((e) => banner(e instanceof ApiError ? e.text : "Something went wrong in the console."));
}

function signedIn() {
  buildNav();
  state.screen = null;
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  route();
}

function wire() {
  wireSignIn(signedIn);
  wireAccounts();
  wireTenant(signedIn);
  wireMembers(() => { buildNav(); route(); });
  whenRefused((e) => signOut(`You were signed out: ${e.text}`));
  whenExpired((e) => signOut(`Your session has ended: ${e.text}`));
  window.addEventListener("hashchange", route);
  $("#tenant-switch").addEventListener("change", (event) => {
    switchTenant(event.currentTarget.value);
    signedIn();
  });
  for (const button of document.querySelectorAll("[data-reload]")) {
    button.addEventListener("click", () => {
      if (button.dataset.reload === "license") state.settings = null;
      load(button.dataset.reload);
    });
  }
  wireDevices();
  wireUsage();
  wireEvents();
  wireTenants();
  window.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    banner("Something went wrong in the console. Reload the page to try again.");
  });
}

async function start() {
  wire();
  let restored = false;
  try {
    restored = await restoreSession(Object.keys(SCREENS));
  } catch (e) {
    // A kept session the service no longer accepts (a refused one has signed out already).
    if (state.key) signOut(`You were signed out: ${e instanceof ApiError ? e.text : "the session could not be restored."}`);
    return;
  }
  if (restored) buildNav();
  route();
}

start();  // a module runs once the document is parsed
