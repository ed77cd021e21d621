/* Formatting of times, durations, numbers and months (all in UTC). */

import { h } from "./dom.js";

export const pad = (n) => String(n).padStart(2, "0");

export function parseTime(value) {
  if (!value) return null;
  const t = new Date(value);
  return Number.isNaN(t.getTime()) ? null : t;
}

export function fmtTime(value) {
  const t = parseTime(value);
  if (!t) return "—";
  return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())} ` +
    `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())} UTC`;
}

export function fmtAgo(value) {
  const t = parseTime(value);
  if (!t) return "";
  const seconds = Math.round((Date.now() - t.getTime()) / 1000);
  const future = seconds < 0;
  const abs = Math.abs(seconds);
  let text;
  if (abs < 60) return future ? "in a moment" : "just now";
  if (abs < 3600) text = `${Math.round(abs / 60)} min`;
  else if (abs < 172800) text = `${Math.round(abs / 3600)} h`;
  else text = `${Math.round(abs / 86400)} days`;
  return future ? `in ${text}` : `${text} ago`;
}

export function fmtDuration(seconds) {
  const n = Number(seconds);
  if (!Number.isFinite(n)) return "—";
  if (n % 86400 === 0) return `${n / 86400} day${n === 86400 ? "" : "s"}`;
  if (n % 3600 === 0) return `${n / 3600} hour${n === 3600 ? "" : "s"}`;
  if (n % 60 === 0) return `${n / 60} minute${n === 60 ? "" : "s"}`;
  return `${n} seconds`;
}

export const fmtNumber = (n) => (Number.isFinite(Number(n)) ? Number(n).toLocaleString("en-US", { maximumFractionDigits: 2 }) : "—");

export function humanKind(kind) {
  if (!kind) return "Event";
  const text = String(kind).replace(/[._]+/g, " ").trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function timeUtc(value) {
  const t = parseTime(value);
  return t ? h("time", { datetime: t.toISOString(), title: fmtTime(value) }, fmtAgo(value)) : "—";
}

/** For the debug log: to the second, with "5 min ago" as its tooltip. */
export function timeExact(value) {
  const t = parseTime(value);
  if (!t) return "—";
  return h("time", { datetime: t.toISOString(), title: fmtAgo(value) },
    `${fmtTime(value).replace(" UTC", "")}:${pad(t.getUTCSeconds())}`);
}

export function currentMonth() {
  const now = new Date();
  return `${now.getUTCFullYear()}-${pad(now.getUTCMonth() + 1)}`;
}

export function shiftMonth(month, delta) {
  const [y, m] = month.split("-").map(Number);
  const d = new Date(Date.UTC(y, m - 1 + delta, 1));
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`;
}
