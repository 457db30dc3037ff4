// The stock ledger of one item or one bin, newest first, a page at a time.

import { count, formatTime, h, moreButton, Pager, replace } from "./dom.js";

const MOVEMENTS = `query($first: Int, $after: String, $withCount: Boolean!, $itemId: ID, $binId: ID) {
  movements(first: $first, after: $after, itemId: $itemId, binId: $binId, newestFirst: true) {
    totalCount @include(if: $withCount)
    edges { node { id sku delta quantityAfter reason orderId createdAt bin { location } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** A "History" section for `{ itemId }` or `{ binId }`; returns { element, reload }. */
export function historySection(api, filter, label) {
  const pager = new Pager(api, MOVEMENTS, "movements", 20);
  const body = h("tbody", {});
  const summary = h("p", { class: "hint" });
  const message = h("p", { class: "message", role: "status" });
  const more = moreButton("Older movements", async () => {
    await pager.more();
    render();
  });
  const showSku = "binId" in filter;
  const element = h("section", { class: "history", "aria-label": `History of ${label}` },
    h("h3", {}, "History"),
    summary,
    h("div", { class: "table-wrap" },
      h("table", { class: "table history-table" },
        h("caption", { class: "visually-hidden" }, `Stock movements of ${label}, newest first`),
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "When"),
          showSku ? h("th", { scope: "col" }, "SKU") : h("th", { scope: "col" }, "Bin"),
          h("th", { scope: "col", class: "num" }, "Change"),
          h("th", { scope: "col", class: "num" }, "After"),
          h("th", { scope: "col" }, "Reason"))),
        body)),
    more,
    message);

  function render() {
    replace(body, pager.nodes.map((m) =>
      h("tr", { dataset: { movementId: m.id, reason: m.reason } },
        h("td", {}, formatTime(m.createdAt)),
        h("td", {}, showSku ? m.sku : m.bin.location),
        h("td", { class: `num delta ${m.delta < 0 ? "negative" : "positive"}` }, m.delta > 0 ? `+${m.delta}` : String(m.delta)),
        h("td", { class: "num" }, String(m.quantityAfter)),
        h("td", {}, m.reason, m.orderId ? h("span", { class: "meta" }, ` · order ${m.orderId.slice(-6)}`) : null))));
    if (!pager.nodes.length) body.append(h("tr", {}, h("td", { colspan: 5 }, "No movements yet.")));
    summary.textContent = `${count(pager.total)} movement${pager.total === 1 ? "" : "s"}, newest first.`;
    more.hidden = !pager.hasNext;
  }

  async function reload() {
    try {
      if (await pager.reset(filter)) render();
    } catch (error) {
      message.className = "message error";
      message.textContent = error.message;
    }
  }

  reload();
  return { element, reload };
}
