/* DOM helpers: elements built with DOM calls and textContent only (nothing the API says is
 * ever parsed as HTML), and the polite live region. */

export const $ = (selector, root = document) => root.querySelector(selector);

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function setProps(el, props) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function announce(text) {
  const status = $("#status");
  status.textContent = "";
  window.setTimeout(() => { status.textContent = text; }, 30);
}

export function formFilters(form) {
  const filters = {};
  for (const [k, v] of new FormData(form).entries()) {
    const value = String(v).trim();
    if (value) filters[k] = value;
  }
  return filters;
}
