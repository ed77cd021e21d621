/* Errors in words, the banner, and the confirmation dialog before anything destructive. */

import { ApiError } from "./api.js";
import { $, append, h } from "./dom.js";

export function errorBox(box, error, what) {
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

export function banner(message, kind = "error") {
  const el = $("#banner");
  el.replaceChildren(h("span", {}, message),
    h("button", { type: "button", class: "ghost small", onclick: () => { el.hidden = true; } }, "Dismiss"));
  el.className = kind === "ok" ? "banner ok" : "banner";
  el.setAttribute("role", kind === "ok" ? "status" : "alert");
  el.hidden = false;
}

export function clearBanner() { $("#banner").hidden = true; }

export function errorEl(error, what) {
  const box = h("div", { class: "error", role: "alert" });
  errorBox(box, error, what);
  return box;
}

export function confirmAction(title, text, okLabel) {
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
