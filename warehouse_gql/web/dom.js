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

/**
 * One server-side list, a page at a time: `query` takes $first, $after and $withCount and
 * selects `totalCount @include(if: $withCount)`, so the count (a scan on the server) is asked
 * for once per filter, not per page. A reset while a page is loading drops that page.
 */
export class Pager {
  constructor(api, query, field, pageSize = 50) {
    this.api = api;
    this.query = query;
    this.field = field;
    this.pageSize = pageSize;
    this.variables = {};
    this.nodes = [];
    this.total = 0;
    this.hasNext = false;
    this.cursor = null;
    this.generation = 0;
    this.loading = false;
  }

  async reset(variables = this.variables) {
    this.variables = variables;
    this.generation += 1;
    const generation = this.generation;
    this.loading = true;
    try {
      const page = await this.fetch(null, true);
      if (generation !== this.generation) return false;
      this.nodes = page.edges.map((edge) => edge.node);
      this.total = page.totalCount;
      this.take(page);
      return true;
    } finally {
      if (generation === this.generation) this.loading = false;
    }
  }

  /** The next page; returns its nodes ([] when another reset overtook it). */
  async more() {
    if (!this.hasNext || this.loading) return [];
    const generation = this.generation;
    this.loading = true;
    try {
      const page = await this.fetch(this.cursor, false);
      if (generation !== this.generation) return [];
      const nodes = page.edges.map((edge) => edge.node);
      this.nodes.push(...nodes);
      this.take(page);
      return nodes;
    } finally {
      if (generation === this.generation) this.loading = false;
    }
  }

  async fetch(after, withCount) {
    const data = await this.api(this.query, { ...this.variables, first: this.pageSize, after, withCount });
    return data[this.field];
  }

  take(page) {
    this.hasNext = page.pageInfo.hasNextPage;
    this.cursor = page.pageInfo.endCursor || this.cursor;
  }
}

/** "Load more" under a paged list: hidden when the list is complete, disabled while loading. */
export function moreButton(label, onclick) {
  const button = h("button", { type: "button", class: "secondary load-more", hidden: true });
  button.textContent = label;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await onclick();
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/**
 * Run `render` at most once per animation frame however often `schedule` is called: a burst
 * of live events costs one DOM update per frame, not one per event.
 */
export function frameBatcher(render) {
  let queued = false;
  let frame = 0;
  const schedule = () => {
    if (queued) return;
    queued = true;
    frame = requestAnimationFrame(() => {
      queued = false;
      render();
    });
  };
  schedule.cancel = () => {
    cancelAnimationFrame(frame);
    queued = false;
  };
  return schedule;
}

/** "1,234" in the reader's locale. */
export function count(n) {
  return Number(n).toLocaleString();
}

/** Put a one-line outcome in a message element: kind "ok", "error" (an alert) or "" (clear). */
export function showMessage(element, kind, text) {
  element.className = `message ${kind}`;
  element.setAttribute("role", kind === "error" ? "alert" : "status");
  element.textContent = text;
}
