/* Signing in and out. The key is kept in sessionStorage (this tab only), never in a URL or in
 * localStorage; signing out forgets it. */

import { ApiError, request } from "./api.js";
import { $ } from "./dom.js";
import { clearBanner } from "./feedback.js";
import { state } from "./state.js";

const KEY_ITEM = "licensing.console.key";
const ROLE_ITEM = "licensing.console.role";

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

/** The session this tab kept, if any: true when state now holds a credential. */
export function restoreSession(roles) {
  state.key = sessionStorage.getItem(KEY_ITEM);
  state.role = sessionStorage.getItem(ROLE_ITEM);
  if (state.key && roles.includes(state.role)) return true;
  state.key = null;
  state.role = null;
  return false;
}

export function signOut(message) {
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

export function showSignIn(message) {
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

/** The sign-in form; ``signedIn()`` is called once a credential is accepted. */
export function wireSignIn(signedIn) {
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
      signedIn();
    } catch (e) {
      error.textContent = e instanceof ApiError ? `Sign-in failed: ${e.text}` : "Sign-in failed.";
      error.hidden = false;
      $("#signin-key").focus();
    } finally {
      button.disabled = false;
    }
  });
  $("#sign-out").addEventListener("click", () => signOut());
}
