// Pick lists: choose pending and fulfilled orders, get one walk through the floor in walking
// order (pickList), print it. Pending orders are planned as fulfilment would pick them now.

import { h, replace, showMessage } from "./dom.js";
import { lineText } from "./orders.js";

const ORDERS = `query {
  pending: orders(status: PENDING, first: 100) { totalCount edges { node { id customerName createdAt items { sku quantity } } } }
  fulfilled: orders(status: FULFILLED, first: 100) { totalCount edges { node { id customerName createdAt items { sku quantity } } } }
}`;
const PICK_LIST = `query($ids: [ID!]!, $strategy: PickStrategy) {
  pickList(orderIds: $ids, strategy: $strategy) {
    strategy distance baselineDistance
    stops { sequence sku quantity orderId bin { location } }
  }
}`;
const STRATEGIES = {
  BEST: "Shortest found",
  LARGEST_GAP: "Largest gap",
  S_SHAPE: "S-shape",
  NEAREST_NEIGHBOUR: "Nearest neighbour",
  INPUT_ORDER: "As the orders list them",
};

export function mount(root, { api }) {
  const message = h("p", { class: "message", role: "status" });
  const choices = h("div", { class: "pick-orders", id: "pick-orders" }, "Loading orders…");
  const strategy = h("select", { id: "pick-strategy" },
    Object.entries(STRATEGIES).map(([value, text]) => h("option", { value }, text)));
  const walk = h("div", { class: "walk", id: "pick-walk" });
  const names = new Map();

  root.append(
    h("section", { class: "screen", "aria-labelledby": "picking-heading" },
      h("div", { class: "screen-head" },
        h("h1", { id: "picking-heading" }, "Pick list"),
        h("button", { type: "button", class: "secondary", onclick: () => load() }, "Refresh")),
      h("div", { class: "two-columns" },
        h("form", { class: "panel no-print", id: "pick-form", "aria-label": "Orders to pick" },
          h("h2", {}, "Orders to pick"),
          choices,
          h("label", {}, "Route ", strategy),
          h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Plan the walk")),
          message),
        walk)));

  function option(order, status) {
    names.set(order.id, order.customerName);
    return h("label", {},
      h("input", { type: "checkbox", name: "order", value: order.id, dataset: { status } }),
      h("span", {}, h("strong", {}, order.customerName), ` · ${lineText(order.items)} `, h("span", { class: `badge status-${status}` }, status.toLowerCase())));
  }

  async function load() {
    try {
      const data = await api(ORDERS);
      const pending = data.pending.edges.map((e) => option(e.node, "PENDING"));
      const fulfilled = data.fulfilled.edges.map((e) => option(e.node, "FULFILLED"));
      replace(choices,
        h("h3", {}, `Pending (${data.pending.totalCount})`), pending.length ? pending : h("p", { class: "hint" }, "None."),
        h("h3", {}, `Fulfilled, waiting to be picked (${data.fulfilled.totalCount})`), fulfilled.length ? fulfilled : h("p", { class: "hint" }, "None."),
        data.pending.totalCount > 100 || data.fulfilled.totalCount > 100 ? h("p", { class: "hint" }, "The 100 oldest of each are listed.") : null);
    } catch (error) {
      showMessage(message, "error", error.message);
    }
  }

  root.querySelector("#pick-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const ids = [...choices.querySelectorAll("input[name=order]:checked")].map((box) => box.value);
    if (!ids.length) {
      showMessage(message, "error", "Choose at least one order.");
      return;
    }
    try {
      const list = (await api(PICK_LIST, { ids, strategy: strategy.value })).pickList;
      showMessage(message, "", "");
      render(list, ids.length);
    } catch (error) {
      showMessage(message, "error", error.message);
    }
  });

  function render(list, orders) {
    const saved = list.baselineDistance > 0 ? Math.round((1 - list.distance / list.baselineDistance) * 100) : 0;
    replace(walk,
      h("section", { class: "panel", "aria-labelledby": "walk-heading" },
        h("div", { class: "card-head" },
          h("h2", { id: "walk-heading" }, `Walk for ${orders} order${orders === 1 ? "" : "s"}: ${list.stops.length} stops`),
          h("button", { type: "button", class: "secondary no-print", id: "print-walk", onclick: () => window.print() }, "Print")),
        h("p", { class: "walk-summary", id: "walk-summary" },
          `${list.distance} bay lengths (${STRATEGIES[list.strategy] || list.strategy}), `,
          saved > 0 ? `${saved}% shorter than in order (${list.baselineDistance}).` : `the same as in order (${list.baselineDistance}).`),
        h("p", { class: "print-only" }, `Printed ${new Date().toLocaleString()}.`),
        h("div", { class: "table-wrap" }, h("table", { class: "table", id: "walk-table" },
          h("caption", { class: "visually-hidden" }, "Stops in walking order"),
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "#"), h("th", { scope: "col" }, "Bin"), h("th", { scope: "col" }, "SKU"),
            h("th", { scope: "col", class: "num" }, "Take"), h("th", { scope: "col" }, "For"),
            h("th", { scope: "col", class: "print-only" }, "Done"))),
          h("tbody", {}, list.stops.map((stop) => h("tr", { dataset: { location: stop.bin.location } },
            h("td", { class: "stop" }, String(stop.sequence)),
            h("td", {}, h("strong", {}, stop.bin.location)),
            h("td", {}, stop.sku),
            h("td", { class: "num" }, String(stop.quantity)),
            h("td", {}, names.get(stop.orderId) || stop.orderId.slice(-6)),
            h("td", { class: "print-only" }, h("span", { class: "check-box" })))))))));
  }

  load();
  return () => {};
}
