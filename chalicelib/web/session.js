/* An account's session: the access token (sent as Bearer) and the refresh token, kept in this
 * tab's sessionStorage only (never localStorage, never a URL), the access token renewed with the
 * refresh token a minute before it expires (on a timer, and before any request that would go
 * out with an expiring token), the tenant the account acts in (sent as X-Tenant-Id). */

import { ApiError, anonymous, keepFresh } from "./api.js";
import { state } from "./state.js";

const SESSION_ITEM = "licensing.console.session";
const TENANT_ITEM = "licensing.console.tenant";
const EARLY_MS = 60_000;  // renew this long before the access token expires

let timer = null;
let renewing = null;      // the refresh in flight, shared by every request waiting for it
let onExpired = () => {};

function save() {
  sessionStorage.setItem(SESSION_ITEM, JSON.stringify({ access_token: state.key, ...state.session }));
}

function schedule() {
  window.clearTimeout(timer);
  if (!state.session) return;
  const due = Math.max(1000, state.session.expires_at - EARLY_MS - Date.now());
  timer = window.setTimeout(() => { renew().catch(() => {}); }, due);
}

/** A new session from POST /v1/sessions (or a refresh): the tokens kept, the renewal scheduled. */
export function startSession(reply, email) {
  state.key = reply.access_token;
  state.role = "account";
  state.session = {
    refresh_token: reply.refresh_token || (state.session && state.session.refresh_token) || null,
    expires_at: Date.now() + (Number(reply.expires_in) || 3600) * 1000,
    email: email || (state.session && state.session.email) || "",
  };
  save();
  schedule();
}

/** The access token renewed with the refresh token: true when it was. A refused refresh token
 * ends the session (the console signs out, saying why). */
export function renew() {
  if (state.role !== "account" || !state.session || !state.session.refresh_token) return Promise.resolve(false);
  if (!renewing) {
    const refreshToken = state.session.refresh_token;
    renewing = anonymous("POST", "v1/sessions/refresh", { refresh_token: refreshToken })
      .then((reply) => {
        if (state.session && state.session.refresh_token === refreshToken) startSession(reply);
        return true;
      })
      .catch((e) => {
        if (e instanceof ApiError && (e.status === 400 || e.status === 401 || e.status === 403)) {
          onExpired(e);
          return false;
        }
        throw e;
      })
      .finally(() => { renewing = null; });
  }
  return renewing;
}

async function fresh() {
  if (state.role === "account" && state.session && state.session.expires_at - EARLY_MS <= Date.now()) await renew();
}

/** ``handler(error)`` when the session cannot be renewed. */
export function whenExpired(handler) { onExpired = handler; }

keepFresh(fresh, renew);

/** The session this tab kept, if any: true when state now holds it. */
export function restoreSession() {
  let kept = null;
  try { kept = JSON.parse(sessionStorage.getItem(SESSION_ITEM) || "null"); } catch { kept = null; }
  if (!kept || !kept.access_token) return false;
  state.key = kept.access_token;
  state.role = "account";
  state.session = { refresh_token: kept.refresh_token || null, expires_at: Number(kept.expires_at) || 0, email: kept.email || "" };
  state.tenantId = sessionStorage.getItem(TENANT_ITEM);
  schedule();
  return true;
}

/** The tenant the account acts in (null: none chosen yet). */
export function chooseTenant(tenantId) {
  state.tenantId = tenantId;
  if (tenantId) sessionStorage.setItem(TENANT_ITEM, tenantId);
  else sessionStorage.removeItem(TENANT_ITEM);
}

export function endSession() {
  window.clearTimeout(timer);
  timer = null;
  sessionStorage.removeItem(SESSION_ITEM);
  sessionStorage.removeItem(TENANT_ITEM);
  state.session = null;
  state.account = null;
  state.tenantId = null;
  state.member = null;
}
