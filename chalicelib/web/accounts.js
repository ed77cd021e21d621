/* The screens of someone without a session: register (name, email, password, with the password
 * policy shown), confirm the email with the code it received, and reset a forgotten password
 * (ask for a code, then set a new password with it). Where the API answers the same whether or
 * not an email has an account, the console shows that same answer (the API's own words). */

import { anonymous } from "./api.js";
import { $, h } from "./dom.js";
import { errorBox } from "./feedback.js";
import { showPublic } from "./signin.js";

// The user pool's password policy (infra/template.py PASSWORD_POLICY; local/accounts.py has the
// same). Shown as a checklist while typing; the API's answer is what decides.
const PASSWORD_RULES = [
  ["At least 12 characters", (v) => v.length >= 12],
  ["A lowercase letter", (v) => /[a-z]/.test(v)],
  ["An uppercase letter", (v) => /[A-Z]/.test(v)],
  ["A number", (v) => /[0-9]/.test(v)],
];

function policy(list) {
  const input = document.getElementById(list.dataset.policyFor);
  const items = PASSWORD_RULES.map(([text]) => h("li", {}, text));
  list.replaceChildren(...items);
  const update = () => PASSWORD_RULES.forEach(([, ok], i) => items[i].classList.toggle("met", ok(input.value)));
  input.addEventListener("input", update);
  update();
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
  for (const list of document.querySelectorAll("ul.policy[data-policy-for]")) policy(list);

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
