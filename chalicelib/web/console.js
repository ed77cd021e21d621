/* Metered Licensing console: one page, no library, no build step; ES modules served by the app
 * itself (chalicelib/api/console.py serves each file of this directory that it lists).
 *
 * This module is the entry point: the navigation between screens and the wiring of each. The
 * others, by what they do: api.js (requests and errors), signin.js (signing in and out),
 * license.js, devices.js, usage.js with chart.js, events.js, tenants.js (one screen each),
 * feedback.js (errors, banner, confirmation), dom.js, format.js and state.js.
 */

import { ApiError, whenRefused } from "./api.js";
import { loadDevices, wireDevices } from "./devices.js";
import { $, h } from "./dom.js";
import { loadEvents, wireEvents } from "./events.js";
import { banner } from "./feedback.js";
import { loadLicense } from "./license.js";
import { restoreSession, showSignIn, signOut, wireSignIn } from "./signin.js";
import { state } from "./state.js";
import { loadTenants, wireTenants } from "./tenants.js";
import { loadUsage, wireUsage } from "./usage.js";

const SCREENS = {
  tenant: [["license", "License"], ["devices", "Devices"], ["usage", "Usage"], ["events", "Debug log"]],
  operator: [["tenants", "Tenants"], ["usage", "Usage"]],
};

const LOADERS = { license: loadLicense, devices: loadDevices, usage: loadUsage, events: loadEvents, tenants: loadTenants };

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
  whenRefused((e) => signOut(`You were signed out: ${e.text}`));
  window.addEventListener("hashchange", () => { if (state.key) route(); });
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

function start() {
  wire();
  if (restoreSession(Object.keys(SCREENS))) {
    buildNav();
    route();
  } else {
    showSignIn();
  }
}

start();  // a module runs once the document is parsed
