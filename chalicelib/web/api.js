/* The API client: every request goes to a URL relative to where the console is served (so it
 * works under `chalice local` at /console and behind API Gateway's stage prefix at
 * /api/console), with the credential as "Authorization: Bearer", never in a URL. An error is
 * an ApiError carrying the contract's code and message. */

import { state } from "./state.js";

export const API_ROOT = location.pathname.replace(/console\/?$/, "");

export class ApiError extends Error {
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

/**
 * One request. ``key`` is the credential: by default the signed-in one (an API key, the operator
 * key or an account's access token, refreshed first when it is about to expire, with the tenant
 * it acts in as X-Tenant-Id); ``null`` for the anonymous account routes (register, sign in...).
 */
export async function request(method, path, { params, body, key } = {}) {
  const signedIn = key === undefined;
  if (signedIn) await hooks.fresh();
  const credential = signedIn ? state.key : key;
  // Signed out meanwhile (a refused refresh token): nothing to send.
  if (signedIn && !credential) throw new ApiError(401, "UNAUTHORIZED", "You are signed out.");
  const url = new URL(API_ROOT + path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const headers = { Accept: "application/json, text/csv" };
  if (credential) headers.Authorization = `Bearer ${credential}`;
  if (signedIn && state.tenantId) headers["X-Tenant-Id"] = state.tenantId;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
  } catch {
    throw new ApiError(0, "NETWORK", "The service cannot be reached. Check the connection and try again.");
  }
  const text = await response.text();
  if (response.ok) return { response, text };
  let parsed = null;
  try { parsed = JSON.parse(text); } catch { parsed = null; }
  const error = parsed && typeof parsed === "object" && parsed.error ? parsed.error : null;
  throw new ApiError(response.status, (error && error.code) || `HTTP_${response.status}`,
    (error && error.message) || STATUS_TEXT[response.status] || `The service answered ${response.status}.`,
    error && error.detail);
}

/** A signed-in request's JSON answer. A refused access token is renewed once and the request
 * sent again; a credential still refused signs the console out. */
export async function api(method, path, params, body) {
  try {
    return parse(await request(method, path, { params, body }));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && await hooks.renew()) {
      try {
        return parse(await request(method, path, { params, body }));
      } catch (again) {
        refused(again);
        throw again;
      }
    }
    refused(e);
    throw e;
  }
}

/** An anonymous request (the account routes that need no credential): its JSON answer. */
export async function anonymous(method, path, body) {
  return parse(await request(method, path, { body, key: null }));
}

function parse({ text }) {
  return text ? JSON.parse(text) : {};
}

const hooks = { fresh: async () => {}, renew: async () => false };

/** How the signed-in credential is kept fresh: ``fresh()`` before each request, ``renew()``
 * after a 401 (true when a new credential is worth a second try). session.js sets them. */
export function keepFresh(fresh, renew) {
  hooks.fresh = fresh;
  hooks.renew = renew;
}

let onRefused = () => {};

/** What to do when the service no longer accepts the credential (the console signs out). */
export function whenRefused(handler) { onRefused = handler; }

/** A 401 on a signed-in request: the credential is no longer valid. */
export function refused(error) {
  if (error instanceof ApiError && error.status === 401 && state.key) onRefused(error);
}

/** The list a response names (``[]`` when it has none): the API's lists are always under a key. */
export function listOf(body, name) {
  return body && Array.isArray(body[name]) ? body[name] : [];
}
