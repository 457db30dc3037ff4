// Slotting report (managers): pick velocity per SKU over a window, ABC classes, and for fast
// movers stored far from the depot a nearer bin with room. Suggestions only; nothing moves.

import { h, replace, showMessage } from "./dom.js";

const REPORT = `query($days: Int) {
  slottingReport(days: $days) { sku pickLines units abcClass bins { location currentLoad } suggestedBin { location freeCapacity } }
}`;

export function mount(root, { api }) {
  const message = h("p", { class: "message", role: "status" });
  const days = h("input", { type: "number", id: "slotting-days", min: 1, step: 1, value: 90, class: "narrow" });
  const body = h("tbody", {});
  const form = h("form", { class: "inline-form", "aria-label": "Slotting window" },
    h("label", {}, "Picks of the last ", days, " days"), h("button", { type: "submit" }, "Show"));

  root.append(
    h("section", { class: "screen", "aria-labelledby": "slotting-heading" },
      h("div", { class: "screen-head" }, h("h1", { id: "slotting-heading" }, "Slotting")),
      h("p", { class: "hint" }, "A: the SKUs making up 80% of pick lines, B: the next 15%, C: the rest. A fast mover far from the depot gets a nearer bin with room for it."),
      form, message,
      h("div", { class: "table-wrap" }, h("table", { class: "table", id: "slotting-table" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "SKU"), h("th", { scope: "col" }, "Class"),
          h("th", { scope: "col", class: "num" }, "Pick lines"), h("th", { scope: "col", class: "num" }, "Units"),
          h("th", { scope: "col" }, "Now in"), h("th", { scope: "col" }, "Move to"))),
        body))));

  async function load() {
    try {
      const rows = (await api(REPORT, { days: Number(days.value) })).slottingReport;
      showMessage(message, "", "");
      replace(body, rows.map((row) => h("tr", { dataset: { sku: row.sku, class: row.abcClass } },
        h("td", {}, row.sku),
        h("td", {}, h("span", { class: `badge class-${row.abcClass}` }, row.abcClass)),
        h("td", { class: "num" }, String(row.pickLines)),
        h("td", { class: "num" }, String(row.units)),
        h("td", {}, row.bins.map((b) => b.location).join(", ") || "—"),
        h("td", { class: "suggestion" }, row.suggestedBin ? h("strong", {}, row.suggestedBin.location) : ""))));
      if (!rows.length) body.append(h("tr", {}, h("td", { colspan: 6 }, "Nothing was picked in this window.")));
    } catch (error) {
      showMessage(message, "error", error.message);
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  load();
  return () => {};
}
