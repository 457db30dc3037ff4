// Orders by status. Pickers and managers fulfil a pending order with one click and see what to take
// from which bin; customers see their own orders only and place new ones.

import { count, formatTime, h, moreButton, Pager, plural, randomKey, replace, showMessage } from "./dom.js";

const ORDER_FIELDS = `id customerName status createdAt
  items { sku quantity } picks { sku quantity bin { location } }
  createdBy { username } shipments { id carrier trackingNumber status }`;
const ORDERS = `query($first: Int, $after: String, $withCount: Boolean!, $status: OrderStatus, $newestFirst: Boolean) {
  orders(first: $first, after: $after, status: $status, newestFirst: $newestFirst) {
    totalCount @include(if: $withCount)
    edges { node { ${ORDER_FIELDS} } } pageInfo { hasNextPage endCursor }
  }
}`;
const ORDER = `query($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`;
const PAGE = 20;
const FULFILL = `mutation($id: ID!) { fulfillOrder(id: $id) { ${ORDER_FIELDS} } }`;
const CANCEL = `mutation($id: ID!) { cancelOrder(id: $id) { ${ORDER_FIELDS} } }`;
const CREATE_ORDER = `mutation($i: CreateOrderInput!) { createOrder(input: $i) { ${ORDER_FIELDS} } }`;
const SHIPMENT_CHANGED = "subscription { shipmentChanged { kind shipment { id order { id } } } }";

export const STATUSES = ["PENDING", "FULFILLED", "SHIPPED", "CANCELLED"];
export const STATUS_TEXT = { PENDING: "Pending", FULFILLED: "Fulfilled", SHIPPED: "Shipped", CANCELLED: "Cancelled" };

export function lineText(lines) {
  return lines.map((line) => `${line.quantity} × ${line.sku}`).join(", ");
}

export function mount(root, { api, live, user, navigate }) {
  const staff = user.role === "MANAGER" || user.role === "PICKER";
  const canOrder = user.role === "MANAGER" || user.role === "CUSTOMER";
  const canCancel = user.role === "MANAGER" || user.role === "CUSTOMER";
  const orders = new Map();
  // The outcome of the last action on each order, kept across re-renders.
  const outcomes = new Map();
  // One server-side list per status: pending work oldest first, the rest newest first.
  const pagers = Object.fromEntries(STATUSES.map((s) => [s, new Pager(api, ORDERS, "orders", PAGE)]));
  // Orders that changed status here or live, shown at the top of their new group.
  const moved = Object.fromEntries(STATUSES.map((s) => [s, []]));

  const status = h("p", { class: "message", role: "status" });
  const filter = h("select", { id: "order-filter" },
    h("option", { value: "" }, "All statuses"),
    STATUSES.map((s) => h("option", { value: s }, STATUS_TEXT[s])));
  const list = h("div", { class: "order-groups", "aria-busy": "true" }, "Loading orders…");

  root.append(
    h("section", { class: "screen", "aria-labelledby": "orders-heading" },
      h("div", { class: "screen-head" },
        h("h1", { id: "orders-heading" }, user.role === "CUSTOMER" ? "My orders" : "Orders"),
        h("label", { for: "order-filter" }, "Show "), filter,
        h("button", { type: "button", class: "secondary", onclick: () => load() }, "Refresh")),
      canOrder ? orderForm() : null,
      status,
      list));

  function orderCard(order) {
    const outcome = outcomes.get(order.id);
    const actions = [];
    if (staff && order.status === "PENDING") {
      actions.push(h("button", { type: "button", class: "primary", onclick: () => act(order, FULFILL, "fulfillOrder") }, "Fulfil"));
    }
    if (canCancel && order.status === "PENDING") {
      actions.push(h("button", { type: "button", class: "secondary", onclick: () => act(order, CANCEL, "cancelOrder") }, "Cancel order"));
    }
    if (staff && order.status === "FULFILLED") {
      actions.push(h("button", { type: "button", class: "primary", onclick: () => navigate(`shipments?order=${order.id}`) }, "Ship…"));
    }
    return h("article", { class: "order card", tabindex: -1, dataset: { orderId: order.id, status: order.status } },
      h("header", { class: "card-head" },
        h("h3", {}, order.customerName),
        h("span", { class: `badge status-${order.status}` }, STATUS_TEXT[order.status])),
      h("p", { class: "meta" },
        `Placed ${formatTime(order.createdAt)}`,
        order.createdBy ? ` by ${order.createdBy.username}` : "",
        ` · order ${order.id.slice(-6)}`),
      h("p", { class: "lines" }, lineText(order.items)),
      // Picks are floor instructions: staff see them, customers see the status.
      staff && order.picks.length
        ? h("div", { class: "picks" },
          h("h4", {}, "Picks"),
          h("ul", {}, order.picks.map((pick) =>
            h("li", {}, `Take ${pick.quantity} × ${pick.sku} from bin `, h("strong", {}, pick.bin.location)))))
        : null,
      order.shipments.length
        ? h("p", { class: "meta" }, order.shipments.map((s) =>
          `${s.carrier} ${s.trackingNumber}: ${s.status === "DELIVERED" ? "delivered" : "in transit"}`).join("; "))
        : null,
      outcome ? h("p", { class: `message ${outcome.kind}`, role: outcome.kind === "error" ? "alert" : "status" }, outcome.text) : null,
      actions.length ? h("div", { class: "actions" }, actions) : null);
  }

  function groupOrders(s) {
    const ids = [...moved[s], ...pagers[s].nodes.map((o) => o.id)];
    const seen = new Set();
    return ids.filter((id) => {
      const order = orders.get(id);
      if (seen.has(id) || !order || order.status !== s) return false;
      seen.add(id);
      return true;
    }).map((id) => orders.get(id));
  }

  function render() {
    list.removeAttribute("aria-busy");
    const wanted = filter.value ? [filter.value] : STATUSES;
    const groups = wanted.map((s) => {
      const group = groupOrders(s);
      const pager = pagers[s];
      const more = moreButton(`More ${STATUS_TEXT[s].toLowerCase()} orders`, async () => {
        try {
          for (const order of await pager.more()) orders.set(order.id, order);
          render();
        } catch (error) {
          showMessage(status, "error", error.message);
        }
      });
      more.hidden = !pager.hasNext;
      more.dataset.status = s;
      return h("section", { class: "order-group", "aria-labelledby": `group-${s}`, dataset: { status: s } },
        h("h2", { id: `group-${s}` }, `${STATUS_TEXT[s]} `, h("span", { class: "count" }, `(${count(pager.total)})`)),
        h("p", { class: "hint" }, s === "PENDING" ? "Oldest first." : "Newest first.",
          group.length < pager.total ? ` Showing ${count(group.length)}.` : ""),
        group.length ? h("div", { class: "cards" }, group.map(orderCard)) : h("p", { class: "hint" }, "None."),
        more);
    });
    replace(list, groups);
  }

  /** An order now in another status: counted and shown there, gone from its old group. */
  function place(updated) {
    const before = orders.get(updated.id);
    orders.set(updated.id, updated);
    if (before && before.status !== updated.status) {
      pagers[before.status].total -= 1;
      pagers[updated.status].total += 1;
      moved[updated.status].unshift(updated.id);
    } else if (!before) {
      pagers[updated.status].total += 1;
      moved[updated.status].unshift(updated.id);
    }
  }

  async function act(order, mutation, field) {
    const card = list.querySelector(`[data-order-id="${order.id}"]`);
    for (const button of card.querySelectorAll("button")) button.disabled = true;
    try {
      const updated = (await api(mutation, { id: order.id }))[field];
      place(updated);
      outcomes.set(updated.id, field === "fulfillOrder"
        ? { kind: "ok", text: `Fulfilled: ${plural(updated.picks.length, "pick")} to take, listed above.` }
        : { kind: "ok", text: "Order cancelled." });
    } catch (error) {
      outcomes.set(order.id, { kind: "error", text: error.message });
    }
    render();
    const again = list.querySelector(`[data-order-id="${order.id}"]`);
    if (again) again.focus();
  }

  function orderForm() {
    const message = h("p", { class: "message", role: "status" });
    const lines = h("div", { class: "order-lines" });
    let idempotencyKey = randomKey();
    const addLine = () => {
      const row = h("div", { class: "order-line", role: "group", "aria-label": "Order line" },
        h("label", {}, "SKU ", h("input", { name: "sku", required: true, maxlength: 64, placeholder: "WID-BLUE", size: 14 })),
        h("label", {}, "Quantity ", h("input", { name: "quantity", type: "number", min: 1, step: 1, value: 1, required: true, class: "narrow" })),
        h("button", { type: "button", class: "secondary", onclick: () => {
          if (lines.children.length > 1) row.remove();
        } }, "Remove line"));
      lines.append(row);
      return row;
    };
    addLine();
    const form = h("form", { class: "stack", id: "order-form", "aria-label": "Place an order" },
      h("label", {}, "Customer name ", h("input", { name: "customerName", required: true, maxlength: 200, value: user.role === "CUSTOMER" ? user.username : "" })),
      lines,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => addLine().querySelector("input").focus() }, "Add line"),
        h("button", { type: "submit", class: "primary" }, "Place order")),
      message);
    // Editing the order makes it a new one; resubmitting an unchanged form returns the same order.
    form.addEventListener("input", () => {
      idempotencyKey = randomKey();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      const items = [...lines.children].map((row) => ({
        sku: row.querySelector("[name=sku]").value.trim(),
        quantity: Number(row.querySelector("[name=quantity]").value),
      }));
      try {
        const data = await api(CREATE_ORDER, {
          i: { customerName: form.elements.customerName.value, items, idempotencyKey },
        });
        place(data.createOrder);
        showMessage(message, "ok", `Order placed for ${data.createOrder.customerName}: ${lineText(data.createOrder.items)}.`);
        replace(lines);
        addLine();
        idempotencyKey = randomKey();
        render();
      } catch (error) {
        showMessage(message, "error", error.message);
      } finally {
        button.disabled = false;
      }
    });
    return h("details", { class: "panel", open: user.role === "CUSTOMER" }, h("summary", {}, "Place an order"), form);
  }

  async function load() {
    try {
      const loaded = await Promise.all(STATUSES.map((s) =>
        pagers[s].reset({ status: s, newestFirst: s !== "PENDING" })));
      if (!loaded.every(Boolean)) return;
      orders.clear();
      for (const s of STATUSES) {
        moved[s] = [];
        for (const order of pagers[s].nodes) orders.set(order.id, order);
      }
      showMessage(status, "", "");
      render();
    } catch (error) {
      showMessage(status, "error", error.message);
    }
  }

  // Orders have no feed of their own; a shipment event means its order changed: re-read that
  // order (a burst of many is one reload instead).
  const changedOrders = new Set();
  let reloadTimer = null;
  const reread = async () => {
    const ids = [...changedOrders];
    changedOrders.clear();
    if (ids.length > 20) {
      await load();
      return;
    }
    try {
      for (const id of ids) {
        const fresh = (await api(ORDER, { id })).order;
        if (fresh) place(fresh);
      }
      render();
    } catch (error) {
      showMessage(status, "error", error.message);
    }
  };
  const unsubscribe = live.subscribe(SHIPMENT_CHANGED, {}, {
    next: (data) => {
      changedOrders.add(data.shipmentChanged.shipment.order.id);
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(reread, 200);
    },
    restarted: () => load(),
  });
  filter.addEventListener("change", render);

  load();
  return () => {
    clearTimeout(reloadTimer);
    unsubscribe();
  };
}
