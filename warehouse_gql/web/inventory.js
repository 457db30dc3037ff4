// Inventory: stock records newest first, paged and filtered by the server (sku prefix, at most a
// quantity), kept current by itemChanged; a low-stock panel fed by the lowStock live query
// (ENTER / UPDATE / LEAVE) at an adjustable threshold. Live bursts are applied once per frame
// and what is on screen is capped, so thousands of events never block the page.

import { count, frameBatcher, h, moreButton, Pager, plural, replace, showMessage } from "./dom.js";
import * as itemPanel from "./item.js";

const ITEM_FIELDS = "id sku name quantity bin { id location }";
const ITEMS = `query($first: Int, $after: String, $withCount: Boolean!, $skuPrefix: String, $maxQuantity: Int) {
  items(first: $first, after: $after, skuPrefix: $skuPrefix, maxQuantity: $maxQuantity, newestFirst: true) {
    totalCount @include(if: $withCount)
    edges { node { ${ITEM_FIELDS} } } pageInfo { hasNextPage endCursor }
  }
}`;
const ITEM_CHANGED = `subscription { itemChanged { kind item { ${ITEM_FIELDS} } } }`;
const LOW_STOCK = `subscription($threshold: Int!) { lowStock(threshold: $threshold) { kind item { ${ITEM_FIELDS} } } }`;

// At most this many rows in the table and in the low-stock list; the counts say how many more.
export const MAX_ROWS = 200;
export const MAX_LOW = 100;
const HIGHLIGHT_MS = 2000;

const bySkuThenBin = (a, b) =>
  a.sku.localeCompare(b.sku, undefined, { numeric: true }) ||
  a.bin.location.localeCompare(b.bin.location, undefined, { numeric: true });

export function mount(root, context) {
  const { api, live } = context;
  const pager = new Pager(api, ITEMS, "items", 50);
  // Items created live while this screen is open: newest first, above the loaded pages.
  let fresh = [];
  const byId = new Map();
  const changedAt = new Map();
  let filters = { skuPrefix: null, maxQuantity: null };

  const status = h("p", { class: "message", role: "status" });
  const search = h("input", { type: "search", id: "inventory-search", placeholder: "e.g. WID-", autocomplete: "off", spellcheck: "false" });
  const most = h("input", { type: "number", id: "inventory-max", min: 0, step: 1, class: "narrow", placeholder: "any" });
  const summary = h("p", { class: "hint", id: "inventory-count", "aria-live": "polite" });
  const body = h("tbody", {});
  const more = moreButton("Load more", async () => {
    try {
      const nodes = await pager.more();
      for (const item of nodes) byId.set(item.id, item);
      render();
    } catch (error) {
      showMessage(status, "error", error.message);
    }
  });
  more.id = "inventory-more";
  const table = h("table", { class: "table", id: "inventory-table" },
    h("caption", { class: "visually-hidden" }, "Stock records, newest first: one SKU in one bin"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "SKU"),
      h("th", { scope: "col" }, "Name"),
      h("th", { scope: "col" }, "Bin"),
      h("th", { scope: "col", class: "num" }, "Quantity"))),
    body);

  const threshold = h("input", { type: "number", id: "low-stock-threshold", min: 0, step: 1, value: 10, class: "narrow" });
  const lowCount = h("p", { class: "hint", id: "low-stock-count", "aria-live": "polite" });
  const lowList = h("ul", { class: "low-list", id: "low-stock-list" });
  const lowItems = new Map();
  const detail = h("div", { id: "item-detail" });

  root.append(
    h("section", { class: "screen", "aria-labelledby": "inventory-heading" },
      h("div", { class: "screen-head" },
        h("h1", { id: "inventory-heading" }, "Inventory"),
        h("button", { type: "button", class: "secondary", onclick: () => load() }, "Refresh")),
      status,
      h("div", { class: "inventory-layout" },
        h("div", {},
          h("div", { class: "search filters" },
            h("label", { for: "inventory-search" }, "SKU starts with "), search,
            h("label", { for: "inventory-max" }, "At most "), most, h("span", {}, " units")),
          summary,
          h("div", { class: "table-wrap" }, table),
          more,
          detail),
        h("aside", { class: "panel low-stock", "aria-labelledby": "low-stock-heading" },
          h("h2", { id: "low-stock-heading" }, "Low stock"),
          h("label", {}, "At or below ", threshold, " units"),
          lowCount,
          lowList))));

  function matches(item) {
    if (filters.skuPrefix && !item.sku.startsWith(filters.skuPrefix)) return false;
    if (filters.maxQuantity !== null && item.quantity > filters.maxQuantity) return false;
    return true;
  }

  function open(item) {
    itemPanel.show(detail, context, item.id, { onChange: () => load() });
  }

  function row(item, now) {
    const recent = now - (changedAt.get(item.id) || 0) < HIGHLIGHT_MS;
    return h("tr", { dataset: { itemId: item.id, sku: item.sku }, class: recent ? "changed" : null },
      h("td", {}, h("button", { type: "button", class: "link", onclick: () => open(item), "aria-label": `${item.sku} in ${item.bin.location}: details` }, item.sku)),
      h("td", {}, item.name),
      h("td", {}, item.bin.location),
      h("td", { class: "num quantity" }, String(item.quantity)));
  }

  function render() {
    const now = performance.now();
    const loaded = pager.nodes.filter((item) => byId.has(item.id));
    const shown = [...fresh, ...loaded].slice(0, MAX_ROWS).map((item) => byId.get(item.id));
    replace(body, shown.map((item) => row(item, now)));
    if (!shown.length) {
      const filtered = filters.skuPrefix || filters.maxQuantity !== null;
      body.append(h("tr", {}, h("td", { colspan: 4 }, filtered ? "No stock matches these filters." : "No stock yet: add items from the Bins screen.")));
    }
    const total = pager.total;
    const which = [
      filters.skuPrefix ? ` with a SKU starting ${filters.skuPrefix}` : "",
      filters.maxQuantity !== null ? ` at ${filters.maxQuantity} units or fewer` : "",
    ].join("");
    summary.textContent = `Showing ${count(shown.length)} of ${count(total)} stock record${total === 1 ? "" : "s"}${which}, newest first.`;
    more.hidden = !pager.hasNext || shown.length >= MAX_ROWS;
  }
  const schedule = frameBatcher(render);

  // The highlight of a changed row fades after HIGHLIGHT_MS: one timer for all rows.
  let fadeTimer = null;
  function highlight(id) {
    changedAt.set(id, performance.now());
    if (fadeTimer) return;
    fadeTimer = setTimeout(function fade() {
      const now = performance.now();
      for (const [key, at] of changedAt) if (now - at >= HIGHLIGHT_MS) changedAt.delete(key);
      fadeTimer = changedAt.size ? setTimeout(fade, HIGHLIGHT_MS) : null;
      schedule();
    }, HIGHLIGHT_MS);
  }

  function wanted() {
    return {
      skuPrefix: search.value.trim() || null,
      maxQuantity: most.value === "" ? null : Number.parseInt(most.value, 10),
    };
  }

  async function load() {
    filters = wanted();
    try {
      if (!(await pager.reset(filters))) return;
      fresh = [];
      byId.clear();
      for (const item of pager.nodes) byId.set(item.id, item);
      showMessage(status, "", "");
      render();
    } catch (error) {
      showMessage(status, "error", error.message);
    }
  }

  // Events only touch the maps; the table is redrawn at most once per frame.
  const unsubscribeItems = live.subscribe(ITEM_CHANGED, {}, {
    next: (data) => {
      const { kind, item } = data.itemChanged;
      const known = byId.has(item.id);
      if (kind === "DELETED") {
        if (known) {
          byId.delete(item.id);
          fresh = fresh.filter((f) => f.id !== item.id);
          pager.total -= 1;
        }
      } else if (known) {
        byId.set(item.id, item);
        highlight(item.id);
      } else if (kind === "CREATED" && matches(item)) {
        byId.set(item.id, item);
        fresh.unshift(item);
        if (fresh.length > MAX_ROWS) byId.delete(fresh.pop().id);
        pager.total += 1;
        highlight(item.id);
      }
      schedule();
    },
    restarted: () => load(),
  });

  function renderLow() {
    const rows = [...lowItems.values()].sort((a, b) => a.quantity - b.quantity || bySkuThenBin(a, b));
    const shown = rows.slice(0, MAX_LOW);
    replace(lowList, shown.length
      ? shown.map((item) => h("li", { dataset: { itemId: item.id, sku: item.sku } },
        h("strong", {}, item.sku), ` in ${item.bin.location}: `,
        h("span", { class: item.quantity === 0 ? "badge status-out" : "badge status-low" }, plural(item.quantity, "unit"))))
      : h("li", { class: "hint" }, "Nothing at or below the threshold."));
    lowCount.textContent = rows.length > MAX_LOW
      ? `${count(rows.length)} items, the ${MAX_LOW} lowest shown.`
      : rows.length ? plural(rows.length, "item") : "";
  }
  const scheduleLow = frameBatcher(renderLow);

  let unsubscribeLow = () => {};
  let quietTimer = null;
  function watchLowStock() {
    unsubscribeLow();
    scheduleLow.cancel();
    lowItems.clear();
    lowCount.textContent = "";
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
        scheduleLow();
      },
      error: (error) => replace(lowList, h("li", { class: "message error" }, error.message)),
      // The live query starts over on a new connection: it sends an ENTER for every match again.
      restarted: () => lowItems.clear(),
    });
    // The server sends no ENTER when nothing matches: say so rather than "Watching…" forever.
    clearTimeout(quietTimer);
    quietTimer = setTimeout(() => {
      if (!lowItems.size) renderLow();
    }, 1000);
  }

  let thresholdTimer = null;
  threshold.addEventListener("input", () => {
    clearTimeout(thresholdTimer);
    thresholdTimer = setTimeout(watchLowStock, 300);
  });
  let searchTimer = null;
  for (const input of [search, most]) {
    input.addEventListener("input", () => {
      clearTimeout(searchTimer);
      // Typing is debounced, and a search the list already shows is not asked for again.
      searchTimer = setTimeout(() => {
        if (JSON.stringify(wanted()) !== JSON.stringify(filters)) load();
      }, 250);
    });
  }

  load();
  watchLowStock();
  return () => {
    clearTimeout(thresholdTimer);
    clearTimeout(searchTimer);
    clearTimeout(quietTimer);
    clearTimeout(fadeTimer);
    schedule.cancel();
    scheduleLow.cancel();
    unsubscribeItems();
    unsubscribeLow();
    itemPanel.close(detail);
  };
}
