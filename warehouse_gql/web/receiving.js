// Receiving: where arriving stock should go (suggestPutaway: bins already holding the sku, then
// the tightest fit, then the roomiest), and one click per suggested bin to put the units there.

import { h, replace, showMessage } from "./dom.js";

const PLAN = `query($sku: String!, $quantity: Int!) {
  suggestPutaway(sku: $sku, quantity: $quantity) { unplaced suggestions { quantity bin { id location capacity currentLoad freeCapacity } } }
  items(sku: $sku, first: 100) { edges { node { id name bin { id } } } }
}`;
const ADJUST = "mutation($id: ID!, $d: Int!) { adjustItemQuantity(id: $id, delta: $d, reason: \"received\") { id quantity } }";
const CREATE_ITEM = "mutation($i: CreateItemInput!) { createItem(input: $i) { id quantity } }";

export function mount(root, { api }) {
  const message = h("p", { class: "message", role: "status" });
  const result = h("div", { id: "putaway-result" });
  const form = h("form", { class: "inline-form", id: "putaway-form", "aria-label": "Stock arriving" },
    h("label", {}, "SKU ", h("input", { name: "sku", required: true, maxlength: 64, pattern: "[A-Za-z0-9._\\-]+", placeholder: "WID-BLUE", size: 14 })),
    h("label", {}, "Units ", h("input", { name: "quantity", type: "number", required: true, min: 1, step: 1, class: "narrow" })),
    h("label", {}, "Name (for a new SKU) ", h("input", { name: "name", maxlength: 200, placeholder: "Blue widget" })),
    h("button", { type: "submit", class: "primary" }, "Suggest bins"));

  root.append(
    h("section", { class: "screen", "aria-labelledby": "receiving-heading" },
      h("div", { class: "screen-head" }, h("h1", { id: "receiving-heading" }, "Receiving")),
      h("p", { class: "hint" }, "Where should arriving stock go? Bins already holding the SKU come first, then the bin it fits best, then the roomiest. Nothing is reserved until you put it away."),
      h("div", { class: "panel" }, form, message),
      result));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const sku = form.elements.sku.value.trim();
    const quantity = Number(form.elements.quantity.value);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const data = await api(PLAN, { sku, quantity });
      showMessage(message, "", "");
      render(sku, quantity, data);
    } catch (error) {
      showMessage(message, "error", error.message);
    } finally {
      button.disabled = false;
    }
  });

  function render(sku, quantity, data) {
    const plan = data.suggestPutaway;
    const held = new Map(data.items.edges.map((e) => [e.node.bin.id, e.node]));
    const knownName = data.items.edges.length ? data.items.edges[0].node.name : null;
    const rows = plan.suggestions.map((s) => {
      const outcome = h("span", { class: "message", role: "status" });
      const put = h("button", { type: "button", class: "primary" }, `Put ${s.quantity} here`);
      put.addEventListener("click", async () => {
        put.disabled = true;
        try {
          const existing = held.get(s.bin.id);
          if (existing) {
            await api(ADJUST, { id: existing.id, d: s.quantity });
          } else {
            const name = knownName || form.elements.name.value.trim();
            if (!name) throw new Error(`${sku} is new to the warehouse: give it a name above.`);
            const created = (await api(CREATE_ITEM, { i: { sku, name, binId: s.bin.id, quantity: s.quantity } })).createItem;
            held.set(s.bin.id, { id: created.id, name });
          }
          put.remove();
          showMessage(outcome, "ok", `Put away ${s.quantity} × ${sku} in ${s.bin.location}.`);
        } catch (error) {
          put.disabled = false;
          showMessage(outcome, "error", error.message);
        }
      });
      return h("tr", { dataset: { location: s.bin.location } },
        h("td", {}, h("strong", {}, s.bin.location)),
        h("td", {}, held.has(s.bin.id) ? "holds this SKU" : "empty of it"),
        h("td", { class: "num" }, String(s.bin.freeCapacity)),
        h("td", { class: "num" }, String(s.quantity)),
        h("td", {}, put, outcome));
    });
    replace(result,
      h("section", { class: "panel", "aria-labelledby": "plan-heading" },
        h("h2", { id: "plan-heading" }, `Putaway for ${quantity} × ${sku}`),
        rows.length
          ? h("div", { class: "table-wrap" }, h("table", { class: "table", id: "putaway-table" },
            h("thead", {}, h("tr", {},
              h("th", { scope: "col" }, "Bin"), h("th", { scope: "col" }, "Now"),
              h("th", { scope: "col", class: "num" }, "Free"), h("th", { scope: "col", class: "num" }, "Put"),
              h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Action")))),
            h("tbody", {}, rows)))
          : null,
        plan.unplaced
          ? h("p", { class: "message error", role: "alert" }, `No bin has room for ${plan.unplaced} of these units.`)
          : h("p", { class: "hint" }, "Every unit has a place.")));
  }

  return () => {};
}
