/* What the console knows between screens: who is signed in and what each screen loaded. */

export const state = {
  key: null,
  role: null,
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
