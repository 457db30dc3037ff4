// Bins: the floor laid out by location (aisle-rack-shelf), each bin's load as a bar; a bin's items
// on click, with forms to receive stock, write it off and (managers) add bins.

import { allPages, h, loadBar, replace, showMessage } from "./dom.js";

const BIN_FIELDS = "id location capacity currentLoad";
const BINS = `query($first: Int, $after: String) {
  bins(first: $first, after: $after) { edges { node { ${BIN_FIELDS} } } pageInfo { hasNextPage endCursor } }
}`;
const BIN = `query($id: ID!) {
  bin(id: $id) { ${BIN_FIELDS} freeCapacity items { id sku name quantity } }
}`;
const CREATE_BIN = `mutation($i: CreateBinInput!) { createBin(input: $i) { ${BIN_FIELDS} } }`;
const CREATE_ITEM = "mutation($i: CreateItemInput!) { createItem(input: $i) { id } }";
const ADJUST = `mutation($id: ID!, $d: Int!, $r: String!) {
  adjustItemQuantity(id: $id, delta: $d, reason: $r) { id quantity }
}`;
const ITEM_CHANGED = `subscription { itemChanged { kind item { id bin { ${BIN_FIELDS} } } } }`;

const natural = (a, b) => a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" });

/** "A-01-03" → aisle A, rack 01, shelf 03; anything else goes to its own aisle. */
export function parseLocation(location) {
  const parts = location.split("-");
  if (parts.length >= 3) return { aisle: parts[0], rack: parts[1], shelf: parts.slice(2).join("-") };
  if (parts.length === 2) return { aisle: parts[0], rack: parts[1], shelf: "" };
  return { aisle: location, rack: "", shelf: "" };
}

export function mount(root, { api, live, user }) {
  const isManager = user.role === "MANAGER";
  const bins = new Map();
  let selected = null;
  let truncated = false;

  const status = h("p", { class: "message", role: "status" });
  const floor = h("div", { class: "floor", "aria-busy": "true" }, "Loading bins…");
  const detail = h("section", { class: "bin-detail panel", "aria-labelledby": "bin-detail-heading", "aria-live": "polite" },
    h("h2", { id: "bin-detail-heading" }, "Bin"), h("p", {}, "Choose a bin to see its items."));

  root.append(
    h("section", { class: "screen", "aria-labelledby": "bins-heading" },
      h("div", { class: "screen-head" },
        h("h1", { id: "bins-heading" }, "Bins"),
        h("p", { class: "legend" },
          h("span", { class: "swatch load-ok" }), "under 70% ",
          h("span", { class: "swatch load-high" }), "70–89% ",
          h("span", { class: "swatch load-full" }), "90% and over"),
        h("button", { type: "button", class: "secondary", onclick: () => load() }, "Refresh")),
      isManager ? newBinForm() : null,
      status,
      h("div", { class: "bins-layout" }, floor, detail)));

  function newBinForm() {
    const message = h("p", { class: "message", role: "status" });
    const form = h("form", { class: "inline-form", "aria-label": "New bin" },
      h("label", {}, "Location ", h("input", { name: "location", required: true, maxlength: 64, placeholder: "A-01-1", size: 10 })),
      h("label", {}, "Capacity ", h("input", { name: "capacity", type: "number", required: true, min: 0, step: 1, value: 500, class: "narrow" })),
      h("button", { type: "submit" }, "Add bin"),
      message);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const data = await api(CREATE_BIN, {
          i: { location: form.elements.location.value, capacity: Number(form.elements.capacity.value) },
        });
        bins.set(data.createBin.id, data.createBin);
        showMessage(message, "ok", `Bin ${data.createBin.location} added.`);
        form.elements.location.value = "";
        renderFloor();
      } catch (error) {
        showMessage(message, "error", error.message);
      } finally {
        button.disabled = false;
      }
    });
    return h("details", { class: "panel" }, h("summary", {}, "Add a bin"), form);
  }

  function tile(bin) {
    const button = h("button", {
      type: "button",
      class: "bin",
      "aria-pressed": String(bin.id === selected),
      dataset: { binId: bin.id, location: bin.location },
      onclick: () => select(bin.id),
    });
    return fillTile(button, bin);
  }

  // Refilled in place on a live change, so a focused tile keeps the keyboard focus.
  function fillTile(button, bin) {
    button.setAttribute("aria-label", `Bin ${bin.location}: ${bin.currentLoad} of ${bin.capacity} units`);
    return replace(button,
      h("span", { class: "bin-location" }, bin.location),
      loadBar(bin.currentLoad, bin.capacity),
      h("span", { class: "bin-numbers" }, `${bin.currentLoad} / ${bin.capacity}`));
  }

  function renderFloor() {
    floor.removeAttribute("aria-busy");
    if (!bins.size) {
      replace(floor, h("p", {}, isManager ? "No bins yet: add the first one above." : "No bins yet."));
      return;
    }
    const aisles = new Map();
    for (const bin of bins.values()) {
      const { aisle, rack } = parseLocation(bin.location);
      if (!aisles.has(aisle)) aisles.set(aisle, new Map());
      const racks = aisles.get(aisle);
      if (!racks.has(rack)) racks.set(rack, []);
      racks.get(rack).push(bin);
    }
    const sections = [...aisles.keys()].sort(natural).map((aisle) => {
      const racks = aisles.get(aisle);
      return h("section", { class: "aisle", "aria-label": `Aisle ${aisle}` },
        h("h2", {}, `Aisle ${aisle}`),
        h("div", { class: "racks" }, [...racks.keys()].sort(natural).map((rack) =>
          h("div", { class: "rack", role: "group", "aria-label": rack ? `Rack ${rack}` : `Aisle ${aisle}` },
            rack ? h("span", { class: "rack-label" }, `Rack ${rack}`) : null,
            // Highest shelf on top, as on the floor.
            racks.get(rack).sort((a, b) => natural(b.location, a.location)).map(tile)))));
    });
    replace(floor, sections, truncated ? h("p", { class: "hint" }, "Showing the first 2000 bins.") : null);
  }

  async function select(binId) {
    selected = binId;
    for (const button of floor.querySelectorAll(".bin")) {
      button.setAttribute("aria-pressed", String(button.dataset.binId === binId));
    }
    await renderDetail();
    // On a narrow screen the detail sits under the floor: bring it into view.
    if (window.matchMedia("(max-width: 760px)").matches) detail.scrollIntoView({ block: "start" });
  }

  // The detail's forms are built once per selected bin and kept while live changes refresh the
  // numbers around them, so what someone is typing is never thrown away.
  let view = null;

  async function renderDetail() {
    if (!selected) return;
    let bin;
    try {
      bin = (await api(BIN, { id: selected })).bin;
    } catch (error) {
      view = null;
      replace(detail, h("h2", { id: "bin-detail-heading" }, "Bin"), h("p", { class: "message error", role: "alert" }, error.message));
      return;
    }
    if (!bin) {
      view = null;
      replace(detail, h("h2", { id: "bin-detail-heading" }, "Bin"), h("p", {}, "This bin no longer exists."));
      return;
    }
    if (bin.id !== selected) return;  // another bin was chosen while this one loaded
    bins.set(bin.id, { id: bin.id, location: bin.location, capacity: bin.capacity, currentLoad: bin.currentLoad });
    const items = [...bin.items].sort((a, b) => natural(a.sku, b.sku));
    if (!view || view.binId !== bin.id) {
      view = { binId: bin.id, summary: h("div", {}), adjust: adjustForm(bin), receive: receiveForm(bin) };
      replace(detail, h("h2", { id: "bin-detail-heading" }, `Bin ${bin.location}`), view.summary, view.adjust.form, view.receive);
    }
    replace(view.summary,
      loadBar(bin.currentLoad, bin.capacity),
      h("p", {}, `${bin.currentLoad} of ${bin.capacity} units, ${bin.freeCapacity} free.`),
      items.length
        ? h("table", { class: "table" },
          h("caption", { class: "visually-hidden" }, `Items in bin ${bin.location}`),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "SKU"), h("th", { scope: "col" }, "Name"), h("th", { scope: "col", class: "num" }, "Quantity"))),
          h("tbody", {}, items.map((item) =>
            h("tr", { dataset: { itemId: item.id } }, h("td", {}, item.sku), h("td", {}, item.name), h("td", { class: "num" }, String(item.quantity))))))
        : h("p", {}, "This bin is empty."));
    const chosen = view.adjust.select.value;
    replace(view.adjust.select, items.map((item) =>
      h("option", { value: item.id, selected: item.id === chosen }, `${item.sku} (${item.quantity})`)));
    view.adjust.form.hidden = !items.length;
  }

  function adjustForm(bin) {
    const message = h("p", { class: "message", role: "status" });
    const select = h("select", { name: "item" });
    const form = h("form", { class: "stack", "aria-label": `Change stock in bin ${bin.location}` },
      h("h3", {}, "Receive or write off"),
      h("label", {}, "Item ", select),
      h("label", {}, "Change (+ received, − taken out) ", h("input", { name: "delta", type: "number", step: 1, required: true, placeholder: "e.g. 20 or -5" })),
      h("label", {}, "Reason ", h("input", { name: "reason", required: true, maxlength: 200, value: "received" })),
      h("button", { type: "submit" }, "Apply"),
      message);
    form.addEventListener("submit", (event) => submit(event, form, message, async () => {
      await api(ADJUST, { id: select.value, d: Number(form.elements.delta.value), r: form.elements.reason.value });
      form.elements.delta.value = "";
      return "Stock changed.";
    }));
    return { form, select };
  }

  function receiveForm(bin) {
    const message = h("p", { class: "message", role: "status" });
    const form = h("form", { class: "stack", "aria-label": `New item in bin ${bin.location}` },
      h("h3", {}, "New item in this bin"),
      h("label", {}, "SKU ", h("input", { name: "sku", required: true, maxlength: 64, pattern: "[A-Za-z0-9._\\-]+", placeholder: "WID-BLUE" })),
      h("label", {}, "Name ", h("input", { name: "name", required: true, maxlength: 200, placeholder: "Blue widget" })),
      h("label", {}, "Quantity ", h("input", { name: "quantity", type: "number", min: 0, step: 1, required: true, value: 0 })),
      h("button", { type: "submit" }, "Add item"),
      message);
    form.addEventListener("submit", (event) => submit(event, form, message, async () => {
      const sku = form.elements.sku.value;
      await api(CREATE_ITEM, {
        i: { sku, name: form.elements.name.value, quantity: Number(form.elements.quantity.value), binId: bin.id },
      });
      form.reset();
      return `Item ${sku} added.`;
    }));
    return form;
  }

  async function submit(event, form, message, action) {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const text = await action();
      showMessage(message, "ok", text);
      await renderDetail();
      renderFloor();
    } catch (error) {
      showMessage(message, "error", error.message);
    } finally {
      button.disabled = false;
    }
  }

  async function load() {
    try {
      const { nodes, complete } = await allPages(api, BINS, {}, "bins");
      bins.clear();
      for (const bin of nodes) bins.set(bin.id, bin);
      truncated = !complete;
      showMessage(status, "", "");
      renderFloor();
      if (selected) await renderDetail();
    } catch (error) {
      showMessage(status, "error", error.message);
    }
  }

  // Every stock change carries its bin's new load: update that tile in place.
  let detailTimer = null;
  const unsubscribe = live.subscribe(ITEM_CHANGED, {}, {
    next: (data) => {
      const bin = data.itemChanged.item.bin;
      const known = bins.has(bin.id);
      bins.set(bin.id, bin);
      const existing = floor.querySelector(`.bin[data-bin-id="${bin.id}"]`);
      if (known && existing) fillTile(existing, bin);
      else renderFloor();
      if (bin.id === selected) {
        clearTimeout(detailTimer);
        detailTimer = setTimeout(renderDetail, 150);
      }
    },
    restarted: () => load(),
  });

  load();
  return () => {
    clearTimeout(detailTimer);
    unsubscribe();
  };
}
