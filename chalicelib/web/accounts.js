/* The screens of someone without a session: register (name, email, password, with the password
 * policy shown), confirm the email with the code it received, and reset a forgotten password
 * (ask for a code, then set a new password with it). Where the API answers the same whether or
 * not an email has an account, the console shows that same answer (the API's own words). */

import { anonymous } from "./api.js";
import { $, h } from "./dom.js";
import { errorBox } from "./feedback.js";
import { showPublic } from "./signin.js";

// Whether a password meets each rule the API publishes (GET v1/accounts/password-policy), by
// the rule's name. Shown as a checklist while typing; the API's answer is what decides.
const MEETS = {
  minimum_length: (v, p) => [...v].length >= p.minimum_length,
  require_lowercase: (v) => /[a-z]/.test(v),
  require_uppercase: (v) => /[A-Z]/.test(v),
  require_numbers: (v) => /[0-9]/.test(v),
  require_symbols: (v, p) => [...v].some((c) => p.symbols.includes(c)),
};

const capitalised = (text) => text.charAt(0).toUpperCase() + text.slice(1);

function checklist(list, policy) {
  const input = document.getElementById(list.dataset.policyFor);
  const rules = policy.rules.filter((r) => MEETS[r.name]);
  const items = rules.map((r) => h("li", {}, capitalised(r.text)));
  list.replaceChildren(...items);
  const update = () => rules.forEach((r, i) => items[i].classList.toggle("met", MEETS[r.name](input.value, policy)));
  input.addEventListener("input", update);
  update();
}

/** The pool's password policy as the API publishes it, under each password field; when it cannot
 * be read, the field stands alone and a refusal names the rule. */
async function showPolicy() {
  let policy;
  try {
    policy = await anonymous("GET", "v1/accounts/password-policy");
  } catch {
    return;
  }
  for (const list of document.querySelectorAll("ul.policy[data-policy-for]")) checklist(list, policy);
}

function values(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) out[k] = k === "password" ? String(v) : String(v).trim();
  return out;
}

async function submit(form, errorEl, what, work) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  errorBox(errorEl, null);
  try {
    await work(values(form));
  } catch (e) {
    errorBox(errorEl, e, what);
  } finally {
    button.disabled = false;
  }
}

function notice(el, text) {
  el.textContent = text || "";
  el.hidden = !text;
}

/** The register, confirm and reset screens, shown as #register, #verify and #reset. */
export function showAccountScreen(screen) {
  showPublic(screen);
  if (screen === "verify") {
    const email = $("#confirm-account-email");
    email.value = email.value || $("#signin-email").value.trim();
    (email.value ? $("#confirm-account-code") : email).focus();
  } else if (screen === "register") {
    $("#register-name").focus();
  } else if (screen === "reset") {
    const email = $("#reset-email");
    email.value = $("#signin-email").value.trim() || email.value;
    $("#reset-form").hidden = false;
    $("#reset-confirm-form").hidden = true;
    notice($("#reset-notice"), "");
    errorBox($("#reset-error"), null);
    email.focus();
  }
}

function toSignIn(email, message) {
  $("#signin-email").value = email;
  $("#signin-password").value = "";
  history.replaceState(null, "", location.pathname + location.search);
  showPublic("signin", { notice: message });
}

export function wireAccounts() {
  showPolicy();

  $("#register-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    submit(form, $("#register-error"), "The account could not be created", async ({ name, email, password }) => {
      const reply = await anonymous("POST", "v1/accounts", { name, email, password });
      form.reset();
      $("#register-password").dispatchEvent(new Event("input"));
      $("#confirm-account-email").value = email;
      $("#confirm-account-code").value = "";
      notice($("#confirm-account-notice"), reply.message || "If the email can register, a validation code is on its way to it.");
      location.hash = "#verify";
    });
  });

  $("#confirm-account-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submit(event.currentTarget, $("#confirm-account-error"), "The email could not be confirmed", async ({ email, code }) => {
      const reply = await anonymous("POST", "v1/accounts/confirm", { email, code });
      $("#confirm-account-code").value = "";
      notice($("#confirm-account-notice"), "");
      toSignIn(email, reply.message || "The account is confirmed: sign in.");
    });
  });

  $("#reset-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submit(event.currentTarget, $("#reset-error"), "No code could be sent", async ({ email }) => {
      const reply = await anonymous("POST", "v1/accounts/password-reset", { email });
      notice($("#reset-notice"), reply.message || "If the email has an account, a reset code is on its way to it.");
      $("#reset-form").hidden = true;
      $("#reset-confirm-form").hidden = false;
      $("#reset-code").focus();
    });
  });

  $("#reset-confirm-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    submit(form, $("#reset-error"), "The password could not be changed", async ({ code, password }) => {
      const email = $("#reset-email").value.trim();
      const reply = await anonymous("POST", "v1/accounts/password-reset/confirm", { email, code, password });
      form.reset();
      toSignIn(email, reply.message || "The password is changed: sign in.");
    });
  });
}
