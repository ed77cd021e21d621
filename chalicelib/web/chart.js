/* The usage chart: hourly instances in use and capacity per license type, as an inline SVG. */

import { s } from "./dom.js";
import { pad, parseTime } from "./format.js";

export function seriesKey(row) {
  return row.tenant_id ? `${row.tenant_id}#${row.lic_type_id}` : String(row.lic_type_id);
}

export const COLORS = ["#2f80d1", "#e07b00", "#2a9d55", "#8e44ad", "#c0392b", "#16a2b8", "#6d4c41", "#7f8c8d"];

function hourIndex(value, start) {
  const t = parseTime(typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d$/.test(value) ? `${value}:00:00Z` : value);
  return t ? Math.floor((t.getTime() - start) / 3600000) : null;
}

const TICK_STEPS = [1, 2, 3, 6, 12, 24, 48, 72, 168];

export function drawChart(month, hours, keys, color, labels, loaded, whole) {
  const [y, m] = month.split("-").map(Number);
  const start = Date.UTC(y, m - 1, 1);
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const total = days * 24;
  const W = 960;
  const H = 310;
  const L = 44;
  const R = 18;
  const T = 14;
  const B = 46;
  const pw = W - L - R;
  const ph = H - T - B;

  const points = new Map(keys.map((k) => [k, []]));
  let top = 1;
  let first = total;
  let last = -1;
  for (const p of hours) {
    const i = hourIndex(p.hour, start);
    if (i === null || i < 0 || i >= total) continue;
    const key = seriesKey(p);
    if (!points.has(key)) points.set(key, []);
    points.get(key).push({ i, inUse: Number(p.in_use) || 0, capacity: Number(p.capacity) || 0 });
    top = Math.max(top, Number(p.in_use) || 0, Number(p.capacity) || 0);
    first = Math.min(first, i);
    last = Math.max(last, i);
  }
  // The whole month, or the metered hours only (at least six hours wide).
  let lo = 0;
  let hi = total;
  if (!whole && last >= 0) {
    lo = first;
    hi = last + 1;
    while (hi - lo < 6) {
      if (hi < total) hi += 1;
      if (hi - lo < 6 && lo > 0) lo -= 1;
    }
  }
  const step = Math.max(1, Math.ceil(top / 5));
  const yMax = step * Math.ceil(top / step) + (top % step === 0 ? step : 0);
  const x = (i) => L + ((i - lo) / (hi - lo)) * pw;
  const yy = (v) => T + ph - (v / yMax) * ph;

  const title = `Hourly instances in use per license type, ${month}`;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "usage-chart-title", class: "usage-svg" },
    s("title", { id: "usage-chart-title" }, title));
  const grid = s("g", { class: "grid" });
  for (let v = 0; v <= yMax; v += step) {
    grid.append(s("line", { class: "grid-line", x1: L, x2: W - R, y1: yy(v), y2: yy(v) }),
      s("text", { x: L - 8, y: yy(v) + 4, "text-anchor": "end" }, String(v)));
  }
  const monthName = new Date(start).toLocaleString("en-US", { month: "short", timeZone: "UTC" });
  const ticks = [];
  if (lo === 0 && hi === total) {
    for (const day of [1, 5, 10, 15, 20, 25, days]) ticks.push([(day - 1) * 24, day === 1 ? `${monthName} 1` : String(day)]);
  } else {
    const every = TICK_STEPS.find((n) => (hi - lo) / n <= 8) || 168;
    for (let i = Math.ceil(lo / every) * every; i <= hi; i += every) {
      const at = new Date(start + i * 3600000);
      const day = `${monthName} ${at.getUTCDate()}`;
      const hour = `${pad(at.getUTCHours())}:00`;
      ticks.push([i, every >= 24 ? day : (ticks.length === 0 || at.getUTCHours() === 0 ? `${day} ${hour}` : hour)]);
    }
  }
  for (const [i, label] of ticks) {
    const anchor = x(i) - L < 30 ? "start" : W - R - x(i) < 30 ? "end" : "middle";
    grid.append(s("line", { class: "axis", x1: x(i), x2: x(i), y1: T + ph, y2: T + ph + 5 }),
      s("text", { x: x(i), y: T + ph + 19, "text-anchor": anchor }, label));
  }
  grid.append(s("line", { class: "axis", x1: L, x2: W - R, y1: T + ph, y2: T + ph }),
    s("text", { x: L, y: H - 2 }, "instances in use, per hour (UTC)"));
  svg.append(grid);

  if (!hours.length) {
    svg.append(s("text", { x: L + pw / 2, y: T + ph / 2, "text-anchor": "middle", class: "none" },
      loaded ? `No hours metered in ${month} yet.` : "The usage could not be loaded."));
    return svg;
  }

  for (const [key, list] of points) {
    list.sort((a, b) => a.i - b.i);
    const c = color.get(key) || COLORS[0];
    const runs = [];
    for (const p of list) {
      const run = runs[runs.length - 1];
      if (run && run[run.length - 1].i === p.i - 1) run.push(p); else runs.push([p]);
    }
    const line = [];
    const capacity = [];
    const area = [];
    const over = [];
    for (const run of runs) {
      const first = run[0];
      line.push(`M${x(first.i)},${yy(first.inUse)}`);
      capacity.push(`M${x(first.i)},${yy(first.capacity)}`);
      area.push(`M${x(first.i)},${yy(0)}`);
      for (const p of run) {
        line.push(`V${yy(p.inUse)}H${x(p.i + 1)}`);
        capacity.push(`V${yy(p.capacity)}H${x(p.i + 1)}`);
        area.push(`V${yy(p.inUse)}H${x(p.i + 1)}`);
        if (p.inUse > p.capacity) {
          over.push(`M${x(p.i)},${yy(p.inUse)}H${x(p.i + 1)}V${yy(p.capacity)}H${x(p.i)}Z`);
        }
      }
      area.push(`V${yy(0)}H${x(first.i)}Z`);
    }
    const g = s("g", { class: "series", "data-series": key },
      s("title", {}, labels.get(key) || key),
      s("path", { class: "area", d: area.join(""), fill: c, "fill-opacity": 0.12, stroke: "none" }),
      s("path", { class: "capacity", d: capacity.join(""), fill: "none", stroke: c, "stroke-width": 1.5, "stroke-dasharray": "5 4", "stroke-opacity": 0.7 }),
      over.length ? s("path", { class: "overage", d: over.join(""), fill: "#c0392b", "fill-opacity": 0.35, stroke: "none" }) : null,
      s("path", { class: "in-use", d: line.join(""), fill: "none", stroke: c, "stroke-width": 2, "stroke-linejoin": "round" }));
    svg.append(g);
  }
  return svg;
}
