// Shipments, live from shipmentChanged: ship a fulfilled order, mark a shipment delivered.
// Customers see the shipments of their own orders only.

import { count, formatTime, frameBatcher, h, moreButton, Pager, replace, showMessage } from "./dom.js";
import { lineText } from "./orders.js";

const SHIPMENT_FIELDS = "id carrier trackingNumber status createdAt updatedAt order { id customerName status }";
const SHIPMENTS = `query($first: Int, $after: String, $withCount: Boolean!) {
  shipments(first: $first, after: $after, newestFirst: true) {
    totalCount @include(if: $withCount)
    edges { node { ${SHIPMENT_FIELDS} } } pageInfo { hasNextPage endCursor }
  }
}`;
// The fulfilled orders waiting longest, for the ship form; a preselected one is read by id.
const FULFILLED = `query {
  orders(first: 100, status: FULFILLED) { totalCount edges { node { id customerName createdAt items { sku quantity } } } }
}`;
const ORDER = "query($id: ID!) { order(id: $id) { id customerName status createdAt items { sku quantity } } }";
const MAX_ROWS = 500;
const CREATE_SHIPMENT = `mutation($i: CreateShipmentInput!) { createShipment(input: $i) { ${SHIPMENT_FIELDS} } }`;
const DELIVERED = `mutation($id: ID!) { updateShipmentStatus(id: $id, status: DELIVERED) { ${SHIPMENT_FIELDS} } }`;
const SHIPMENT_CHANGED = `subscription { shipmentChanged { kind shipment { ${SHIPMENT_FIELDS} } } }`;

const STATUS_TEXT = { IN_TRANSIT: "In transit", DELIVERED: "Delivered" };

export function mount(root, { api, live, user, params }) {
  const staff = user.role === "MANAGER" || user.role === "PICKER";
  const shipments = new Map();
  const pager = new Pager(api, SHIPMENTS, "shipments", 50);
  // Shipments created live while the screen is open, newest first above the loaded pages.
  let fresh = [];
  const summary = h("p", { class: "hint", id: "shipments-count", "aria-live": "polite" });
  const more = moreButton("Load more", async () => {
    try {
      for (const s of await pager.more()) shipments.set(s.id, s);
      render();
    } catch (error) {
      showMessage(status, "error", error.message);
    }
  });
  more.id = "shipments-more";
  const changed = new Set();
  const rowMessages = new Map();

  const status = h("p", { class: "message", role: "status" });
  const body = h("tbody", {});
  const table = h("table", { class: "table", id: "shipments-table" },
    h("caption", { class: "visually-hidden" }, "Shipments, newest first"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Tracking number"),
      h("th", { scope: "col" }, "Carrier"),
      h("th", { scope: "col" }, "Order"),
      h("th", { scope: "col" }, "Status"),
      h("th", { scope: "col" }, "Updated"),
      staff ? h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")) : null)),
    body);

  root.append(
    h("section", { class: "screen", "aria-labelledby": "shipments-heading" },
      h("div", { class: "screen-head" },
        h("h1", { id: "shipments-heading" }, user.role === "CUSTOMER" ? "My shipments" : "Shipments"),
        h("button", { type: "button", class: "secondary", onclick: () => load() }, "Refresh")),
      staff ? shipForm() : null,
      status,
      summary,
      h("div", { class: "table-wrap" }, table),
      more));

  function render() {
    const ids = [...new Set([...fresh, ...pager.nodes.map((n) => n.id)])];
    const rows = ids.map((id) => shipments.get(id)).filter(Boolean).slice(0, MAX_ROWS);
    summary.textContent = `Showing ${count(rows.length)} of ${count(pager.total)} shipment${pager.total === 1 ? "" : "s"}, newest first.`;
    more.hidden = !pager.hasNext || rows.length >= MAX_ROWS;
    replace(body, rows.map((s) => {
      const message = rowMessages.get(s.id);
      return h("tr", { dataset: { shipmentId: s.id, status: s.status }, class: changed.has(s.id) ? "changed" : null },
        h("td", {}, s.trackingNumber),
        h("td", {}, s.carrier),
        h("td", {}, s.order.customerName, h("span", { class: "meta" }, ` · ${s.order.id.slice(-6)}`)),
        h("td", {}, h("span", { class: `badge status-${s.status}` }, STATUS_TEXT[s.status])),
        h("td", {}, formatTime(s.updatedAt)),
        staff
          ? h("td", {},
            s.status === "IN_TRANSIT"
              ? h("button", { type: "button", onclick: (event) => markDelivered(s, event.currentTarget), "aria-label": `Mark ${s.carrier} ${s.trackingNumber} delivered` }, "Mark delivered")
              : null,
            message ? h("span", { class: "message error", role: "alert" }, message) : null)
          : null);
    }));
    if (!rows.length) {
      body.append(h("tr", {}, h("td", { colspan: staff ? 6 : 5 }, user.role === "CUSTOMER" ? "No shipments of your orders yet." : "No shipments yet.")));
    }
  }

  async function markDelivered(shipment, button) {
    button.disabled = true;
    rowMessages.delete(shipment.id);
    try {
      const updated = (await api(DELIVERED, { id: shipment.id })).updateShipmentStatus;
      shipments.set(updated.id, updated);
    } catch (error) {
      rowMessages.set(shipment.id, error.message);
    }
    render();
  }

  function shipForm() {
    const message = h("p", { class: "message", role: "status" });
    const orderSelect = h("select", { name: "orderId", required: true, id: "ship-order" });
    const form = h("form", { class: "stack", id: "ship-form", "aria-label": "Ship a fulfilled order" },
      h("label", {}, "Fulfilled order ", orderSelect),
      h("label", {}, "Carrier ", h("input", { name: "carrier", required: true, maxlength: 64, placeholder: "DHL" })),
      h("label", {}, "Tracking number ", h("input", { name: "trackingNumber", required: true, maxlength: 64, placeholder: "JD0146000001" })),
      h("button", { type: "submit", class: "primary" }, "Create shipment"),
      message);

    async function loadOrders(preselect) {
      try {
        const nodes = (await api(FULFILLED)).orders.edges.map((e) => e.node);
        if (preselect && !nodes.some((o) => o.id === preselect)) {
          const wanted = (await api(ORDER, { id: preselect })).order;
          if (wanted && wanted.status === "FULFILLED") nodes.unshift(wanted);
        }
        replace(orderSelect, nodes.length
          ? nodes.map((o) => h("option", { value: o.id, selected: o.id === preselect }, `${o.customerName}: ${lineText(o.items)} (order ${o.id.slice(-6)})`))
          : h("option", { value: "" }, "No fulfilled orders waiting"));
      } catch (error) {
        showMessage(message, "error", error.message);
      }
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const created = (await api(CREATE_SHIPMENT, {
          i: { orderId: orderSelect.value, carrier: form.elements.carrier.value, trackingNumber: form.elements.trackingNumber.value },
        })).createShipment;
        if (!shipments.has(created.id)) {
          fresh.unshift(created.id);
          pager.total += 1;
        }
        shipments.set(created.id, created);
        render();
        showMessage(message, "ok", `Shipment ${created.carrier} ${created.trackingNumber} created; the order is shipped.`);
        form.elements.trackingNumber.value = "";
        await loadOrders();
      } catch (error) {
        showMessage(message, "error", error.message);
      } finally {
        button.disabled = false;
      }
    });
    const preselect = params.get("order");
    loadOrders(preselect);
    return h("details", { class: "panel", open: Boolean(preselect) }, h("summary", {}, "Ship a fulfilled order"), form);
  }

  async function load() {
    try {
      if (!(await pager.reset({}))) return;
      shipments.clear();
      fresh = [];
      for (const s of pager.nodes) shipments.set(s.id, s);
      showMessage(status, "", "");
      render();
    } catch (error) {
      showMessage(status, "error", error.message);
    }
  }

  const schedule = frameBatcher(render);
  const unsubscribe = live.subscribe(SHIPMENT_CHANGED, {}, {
    next: (data) => {
      const { kind, shipment } = data.shipmentChanged;
      const known = shipments.has(shipment.id);
      if (kind === "DELETED") {
        if (known) pager.total -= 1;
        shipments.delete(shipment.id);
      } else {
        if (!known && kind === "CREATED") {
          fresh.unshift(shipment.id);
          pager.total += 1;
        }
        if (known || kind === "CREATED") shipments.set(shipment.id, shipment);
      }
      changed.add(shipment.id);
      setTimeout(() => {
        changed.delete(shipment.id);
        const row = body.querySelector(`tr[data-shipment-id="${shipment.id}"]`);
        if (row) row.classList.remove("changed");
      }, 2000);
      schedule();
    },
    restarted: () => load(),
  });

  load();
  return () => {
    schedule.cancel();
    unsubscribe();
  };
}
