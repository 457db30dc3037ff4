// Building the page from data without innerHTML: every value from the server is text, never markup.

/** h("button", { class: "primary", onclick: f }, "Fulfil") — attributes, events, children. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (name === "style" && typeof value === "object") {
      Object.assign(element.style, value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
}

export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

/** Load level of a bin: the colour thresholds of the load bars. */
export function loadLevel(load, capacity) {
  if (capacity <= 0) return load > 0 ? "full" : "empty";
  const ratio = load / capacity;
  if (ratio >= 0.9) return "full";
  if (ratio >= 0.7) return "high";
  if (ratio > 0) return "ok";
  return "empty";
}

export function loadBar(load, capacity) {
  const percent = capacity > 0 ? Math.min(100, Math.round((load / capacity) * 100)) : load > 0 ? 100 : 0;
  const level = loadLevel(load, capacity);
  return h(
    "span",
    {
      class: `load-bar load-${level}`,
      role: "meter",
      "aria-valuemin": 0,
      "aria-valuemax": capacity,
      "aria-valuenow": load,
      "aria-label": `Load ${load} of ${capacity} (${percent}%)`,
      dataset: { level, percent: String(percent) },
    },
    h("span", { class: "load-fill", style: { width: `${percent}%` } }),
  );
}

/** A random key for createOrder, so a retried submission returns the same order. */
export function randomKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Read every page of a connection (100 at a time, at most `limit` nodes). */
export async function allPages(api, query, variables, field, limit = 2000) {
  const nodes = [];
  let after = null;
  for (;;) {
    const data = await api(query, { ...variables, first: 100, after });
    const page = data[field];
    for (const edge of page.edges) nodes.push(edge.node);
    if (!page.pageInfo.hasNextPage || nodes.length >= limit) return { nodes, complete: !page.pageInfo.hasNextPage };
    after = page.pageInfo.endCursor;
  }
}

/** Put a one-line outcome in a message element: kind "ok", "error" (an alert) or "" (clear). */
export function showMessage(element, kind, text) {
  element.className = `message ${kind}`;
  element.setAttribute("role", kind === "error" ? "alert" : "status");
  element.textContent = text;
}
