/* What the console knows between screens: who is signed in and what each screen loaded. */

export const state = {
  key: null,               // the credential sent as Bearer: an API key, the operator key, or an access token
  role: null,              // "tenant" (API key), "operator", or "account" (a person, signed in with a password)
  session: null,           // an account's tokens: { refresh_token, expires_at (ms), email }
  account: null,           // GET /v1/account: { account_id, email, name, tenants: [{ tenant_id, name, role }] }
  tenantId: null,          // the tenant an account acts in (sent as X-Tenant-Id)
  member: null,            // the account's role in that tenant: "owner", "admin" or "viewer"
  screen: null,
  types: new Map(),        // lic_type_id -> license type
  settings: null,
  devices: { cursors: [null], page: 0, filters: {} },
  events: { next: null, deviceId: "" },
  tenants: { next: null },
  usage: { month: null, body: null },
};

export function typeName(licTypeId) {
  const t = state.types.get(licTypeId);
  return t ? t.name : licTypeId || "—";
}

/** May the signed-in credential change the tenant? A viewer reads only (the API refuses anyway). */
export function canWrite() {
  return state.role === "tenant" || (state.role === "account" && (state.member === "owner" || state.member === "admin"));
}

/** Only the owner manages the members, the ownership and the trial. */
export function isOwner() {
  return state.role === "account" && state.member === "owner";
}

/** What a tenant's screens loaded: forgotten when the tenant changes or nobody is signed in. */
export function forgetTenantData() {
  state.types = new Map();
  state.settings = null;
  state.devices = { cursors: [null], page: 0, filters: state.devices.filters };  // the filters as the form shows them
  state.events = { next: null, deviceId: state.events.deviceId };
  state.usage = { month: null, body: null };
}
