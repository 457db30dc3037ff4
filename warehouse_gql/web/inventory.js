// Inventory: every stock record in a searchable table kept current by itemChanged, and a low-stock
// panel fed by the lowStock live query (ENTER / UPDATE / LEAVE) at an adjustable threshold.

import { allPages, h, plural, replace, showMessage } from "./dom.js";

const ITEM_FIELDS = "id sku name quantity bin { id location }";
const ITEMS = `query($first: Int, $after: String) {
  items(first: $first, after: $after) { edges { node { ${ITEM_FIELDS} } } pageInfo { hasNextPage endCursor } }
}`;
const ITEM_CHANGED = `subscription { itemChanged { kind item { ${ITEM_FIELDS} } } }`;
const LOW_STOCK = `subscription($threshold: Int!) { lowStock(threshold: $threshold) { kind item { ${ITEM_FIELDS} } } }`;

const bySkuThenBin = (a, b) =>
  a.sku.localeCompare(b.sku, undefined, { numeric: true }) ||
  a.bin.location.localeCompare(b.bin.location, undefined, { numeric: true });

export function mount(root, { api, live }) {
  const items = new Map();
  const changed = new Set();
  let truncated = false;

  const status = h("p", { class: "message", role: "status" });
  const search = h("input", { type: "search", id: "inventory-search", placeholder: "SKU or name", autocomplete: "off" });
  const count = h("p", { class: "hint", "aria-live": "polite" });
  const body = h("tbody", {});
  const table = h("table", { class: "table", id: "inventory-table" },
    h("caption", { class: "visually-hidden" }, "Stock records: one SKU in one bin"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "SKU"),
      h("th", { scope: "col" }, "Name"),
      h("th", { scope: "col" }, "Bin"),
      h("th", { scope: "col", class: "num" }, "Quantity"))),
    body);

  const threshold = h("input", { type: "number", id: "low-stock-threshold", min: 0, step: 1, value: 10, class: "narrow" });
  const lowList = h("ul", { class: "low-list", id: "low-stock-list" });
  const lowItems = new Map();

  root.append(
    h("section", { class: "screen", "aria-labelledby": "inventory-heading" },
      h("div", { class: "screen-head" },
        h("h1", { id: "inventory-heading" }, "Inventory"),
        h("button", { type: "button", class: "secondary", onclick: () => load() }, "Refresh")),
      status,
      h("div", { class: "inventory-layout" },
        h("div", {},
          h("div", { class: "search" }, h("label", { for: "inventory-search" }, "Search "), search),
          count,
          h("div", { class: "table-wrap" }, table)),
        h("aside", { class: "panel low-stock", "aria-labelledby": "low-stock-heading" },
          h("h2", { id: "low-stock-heading" }, "Low stock"),
          h("label", {}, "At or below ", threshold, " units"),
          lowList))));

  function matches(item, words) {
    const text = `${item.sku} ${item.name}`.toLowerCase();
    return words.every((word) => text.includes(word));
  }

  function render() {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = [...items.values()].filter((item) => matches(item, words)).sort(bySkuThenBin);
    replace(body, shown.map((item) =>
      h("tr", { dataset: { itemId: item.id, sku: item.sku }, class: changed.has(item.id) ? "changed" : null },
        h("td", {}, item.sku),
        h("td", {}, item.name),
        h("td", {}, item.bin.location),
        h("td", { class: "num quantity" }, String(item.quantity)))));
    if (!shown.length) {
      body.append(h("tr", {}, h("td", { colspan: 4 }, items.size ? "No stock matches this search." : "No stock yet: add items from the Bins screen.")));
    }
    count.textContent = words.length
      ? `${plural(shown.length, "record")} of ${items.size} match.`
      : `${plural(items.size, "stock record")}${truncated ? " (the first 2000)" : ""}.`;
  }

  function renderLow() {
    const rows = [...lowItems.values()].sort((a, b) => a.quantity - b.quantity || bySkuThenBin(a, b));
    replace(lowList, rows.length
      ? rows.map((item) => h("li", { dataset: { itemId: item.id, sku: item.sku } },
        h("strong", {}, item.sku), ` in ${item.bin.location}: `,
        h("span", { class: item.quantity === 0 ? "badge status-out" : "badge status-low" }, plural(item.quantity, "unit"))))
      : h("li", { class: "hint" }, "Nothing at or below the threshold."));
  }

  async function load() {
    try {
      const { nodes, complete } = await allPages(api, ITEMS, {}, "items");
      items.clear();
      for (const item of nodes) items.set(item.id, item);
      truncated = !complete;
      showMessage(status, "", "");
      render();
    } catch (error) {
      showMessage(status, "error", error.message);
    }
  }

  // Quantities update in place; the changed row is highlighted for a moment.
  let renderQueued = false;
  const unsubscribeItems = live.subscribe(ITEM_CHANGED, {}, {
    next: (data) => {
      const { kind, item } = data.itemChanged;
      if (kind === "DELETED") items.delete(item.id);
      else items.set(item.id, item);
      changed.add(item.id);
      setTimeout(() => {
        changed.delete(item.id);
        const row = body.querySelector(`tr[data-item-id="${item.id}"]`);
        if (row) row.classList.remove("changed");
      }, 2000);
      if (!renderQueued) {
        renderQueued = true;
        requestAnimationFrame(() => {
          renderQueued = false;
          render();
        });
      }
    },
    restarted: () => load(),
  });

  let unsubscribeLow = () => {};
  function watchLowStock() {
    unsubscribeLow();
    lowItems.clear();
    const value = Number.parseInt(threshold.value, 10);
    if (!Number.isFinite(value) || value < 0) {
      replace(lowList, h("li", { class: "message error" }, "The threshold is a whole number of units, 0 or more."));
      return;
    }
    replace(lowList, h("li", { class: "hint" }, "Watching…"));
    unsubscribeLow = live.subscribe(LOW_STOCK, { threshold: value }, {
      next: (data) => {
        const { kind, item } = data.lowStock;
        if (kind === "LEAVE") lowItems.delete(item.id);
        else lowItems.set(item.id, item);
        renderLow();
      },
      error: (error) => replace(lowList, h("li", { class: "message error" }, error.message)),
      // The live query starts over on a new connection: it sends an ENTER for every match again.
      restarted: () => lowItems.clear(),
    });
    // The server sends no ENTER when nothing matches: say so rather than "Watching…" forever.
    setTimeout(() => {
      if (!lowItems.size) renderLow();
    }, 1000);
  }

  let thresholdTimer = null;
  threshold.addEventListener("input", () => {
    clearTimeout(thresholdTimer);
    thresholdTimer = setTimeout(watchLowStock, 300);
  });
  search.addEventListener("input", render);

  load();
  watchLowStock();
  return () => {
    clearTimeout(thresholdTimer);
    unsubscribeItems();
    unsubscribeLow();
  };
}
