/* Signing in and out. People sign in with their email and password (an account's session,
 * session.js); the API key (a tenant's, or the operator key) stays as the other tab. Every
 * credential is kept in this tab's sessionStorage only, never in a URL or in localStorage;
 * signing out forgets it (and revokes an account's tokens). */

import { ApiError, anonymous, request } from "./api.js";
import { $ } from "./dom.js";
import { clearBanner } from "./feedback.js";
import { endSession, restoreSession as restoreAccount, startSession } from "./session.js";
import { forgetTenantData, state } from "./state.js";
import { forgetTenantScreen, loadAccount } from "./tenant.js";

const KEY_ITEM = "licensing.console.key";
const ROLE_ITEM = "licensing.console.role";
export const PUBLIC_SCREENS = {
  signin: "Sign in", register: "Create an account", verify: "Confirm your email", reset: "Reset your password",
};

let method = "account";   // the tab shown: "account" (email and password) or "key"

async function probe(role, key) {
  if (role === "tenant") await request("GET", "v1/license", { key });
  else await request("GET", "v1/tenants", { params: { limit: 1 }, key });
}

async function signInWithKey(key, choice) {
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

/** The credential this tab kept, if any: true when state now holds it (an account's is then
 * checked, and its tenants read, by GET /v1/account). */
export async function restoreSession(roles) {
  if (restoreAccount()) {
    await loadAccount();
    return true;
  }
  state.key = sessionStorage.getItem(KEY_ITEM);
  state.role = sessionStorage.getItem(ROLE_ITEM);
  if (state.key && roles.includes(state.role)) return true;
  state.key = null;
  state.role = null;
  return false;
}

/** Forget the credential (an account's tokens are revoked first when the person signs out). */
export function signOut(message) {
  if (state.role === "account" && !message) {
    // Every refresh token revoked; nothing to wait for (the credential is forgotten right below).
    request("DELETE", "v1/sessions", { key: state.key }).catch(() => {});
  }
  method = state.role === "account" || !state.role ? "account" : "key";
  sessionStorage.removeItem(KEY_ITEM);
  sessionStorage.removeItem(ROLE_ITEM);
  endSession();
  forgetTenantScreen();
  state.key = null;
  state.role = null;
  forgetTenantData();
  clearBanner();
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  showSignIn(message);
}

/** One of the screens of someone not signed in, with a message in words (``notice`` for good
 * news, ``error`` for a refusal). */
export function showPublic(screen, { error, notice } = {}) {
  $("#nav").hidden = true;
  $("#who").hidden = true;
  for (const el of document.querySelectorAll(".screen")) el.hidden = el.id !== `screen-${screen}`;
  document.title = `${PUBLIC_SCREENS[screen]} · Metered Licensing console`;
  if (screen === "signin") {
    const errorEl = $("#signin-error");
    errorEl.textContent = error || "";
    errorEl.hidden = !error;
    const noticeEl = $("#signin-notice");
    noticeEl.textContent = notice || "";
    noticeEl.hidden = !notice;
    showMethod(method);
  }
}

export function showSignIn(message) {
  showPublic("signin", { error: message });
}

function showMethod(which) {
  method = which;
  const account = which === "account";
  $("#account-form").hidden = !account;
  $("#signin-form").hidden = account;
  for (const [tab, selected] of [["#tab-account", account], ["#tab-key", !account]]) {
    $(tab).setAttribute("aria-selected", String(selected));
    $(tab).tabIndex = selected ? 0 : -1;
  }
  if (account) {
    const email = $("#signin-email");
    (email.value ? $("#signin-password") : email).focus();
  } else {
    $("#signin-key").focus();
  }
}

function failed(e) {
  const error = $("#signin-error");
  error.textContent = e instanceof ApiError ? `Sign-in failed: ${e.text}` : "Sign-in failed.";
  error.hidden = false;
  $("#signin-notice").hidden = true;
}

async function submitting(form, work) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  $("#signin-error").hidden = true;
  try {
    await work();
  } finally {
    button.disabled = false;
  }
}

/** The sign-in forms; ``signedIn()`` is called once a credential is accepted. */
export function wireSignIn(signedIn) {
  $("#signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const key = $("#signin-key").value.trim();
    if (!key) {
      failed(null);
      $("#signin-error").textContent = "Enter an API key.";
      return;
    }
    submitting(form, async () => {
      try {
        const role = await signInWithKey(key, new FormData(form).get("role"));
        state.key = key;
        state.role = role;
        sessionStorage.setItem(KEY_ITEM, key);
        sessionStorage.setItem(ROLE_ITEM, role);
        $("#signin-key").value = "";
        signedIn();
      } catch (e) {
        failed(e);
        $("#signin-key").focus();
      }
    });
  });

  $("#account-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const email = $("#signin-email").value.trim();
    const password = $("#signin-password").value;
    if (!email || !password) {
      failed(null);
      $("#signin-error").textContent = "Enter your email and your password.";
      (email ? $("#signin-password") : $("#signin-email")).focus();
      return;
    }
    submitting(form, async () => {
      try {
        startSession(await anonymous("POST", "v1/sessions", { email, password }), email);
        await loadAccount();
        $("#signin-password").value = "";
        signedIn();
      } catch (e) {
        if (state.role === "account") endSession();
        state.key = null;
        state.role = null;
        failed(e);
        if (e instanceof ApiError && e.status === 403) {
          // Not confirmed yet: the code is what it needs.
          $("#signin-error").append(" ", Object.assign(document.createElement("a"), { href: "#verify", textContent: "Enter the code" }));
        }
        $("#signin-password").focus();
      }
    });
  });

  for (const [tab, which] of [["#tab-account", "account"], ["#tab-key", "key"]]) {
    $(tab).addEventListener("click", () => showMethod(which));
    $(tab).addEventListener("keydown", (event) => {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) {
        event.preventDefault();
        showMethod(which === "account" ? "key" : "account");
        $(method === "account" ? "#tab-account" : "#tab-key").focus();
      }
    });
  }
  $("#sign-out").addEventListener("click", () => signOut());
}
