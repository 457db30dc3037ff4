// Bins: the floor laid out by location (aisle-rack-shelf), each bin's load as a bar, a page at a
// time and filtered by location on the server; a bin's items on click, with forms to receive
// stock, write it off, count the bin, and (managers) add, edit and delete bins; its history.

import { count, frameBatcher, h, loadBar, moreButton, Pager, replace, showMessage } from "./dom.js";
import { historySection } from "./history.js";
import * as itemPanel from "./item.js";

const BIN_FIELDS = "id location capacity currentLoad";
const BINS = `query($first: Int, $after: String, $withCount: Boolean!, $locationPrefix: String) {
  bins(first: $first, after: $after, locationPrefix: $locationPrefix) {
    totalCount @include(if: $withCount)
    edges { node { ${BIN_FIELDS} } } pageInfo { hasNextPage endCursor }
  }
}`;
const BIN = `query($id: ID!) {
  bin(id: $id) { ${BIN_FIELDS} freeCapacity version items { id sku name quantity } }
}`;
const CREATE_BIN = `mutation($i: CreateBinInput!) { createBin(input: $i) { ${BIN_FIELDS} } }`;
const UPDATE_BIN = `mutation($id: ID!, $i: UpdateBinInput!) { updateBin(id: $id, input: $i) { ${BIN_FIELDS} } }`;
const DELETE_BIN = "mutation($id: ID!) { deleteBin(id: $id) }";
const CREATE_ITEM = "mutation($i: CreateItemInput!) { createItem(input: $i) { id } }";
const ADJUST = `mutation($id: ID!, $d: Int!, $r: String!) {
  adjustItemQuantity(id: $id, delta: $d, reason: $r) { id quantity }
}`;
const COUNT = `mutation($bin: ID!, $lines: [CountLineInput!]!, $complete: Boolean!, $version: Int) {
  countBin(binId: $bin, lines: $lines, complete: $complete, expectedVersion: $version) { ${BIN_FIELDS} version }
}`;
const ITEM_CHANGED = `subscription { itemChanged { kind item { id bin { ${BIN_FIELDS} } } } }`;

const PAGE = 100;
const natural = (a, b) => a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" });

/** "A-01-03" → aisle A, rack 01, shelf 03; anything else goes to its own aisle. */
export function parseLocation(location) {
  const parts = location.split("-");
  if (parts.length >= 3) return { aisle: parts[0], rack: parts[1], shelf: parts.slice(2).join("-") };
  if (parts.length === 2) return { aisle: parts[0], rack: parts[1], shelf: "" };
  return { aisle: location, rack: "", shelf: "" };
}

export function mount(root, context) {
  const { api, live, user } = context;
  const isManager = user.role === "MANAGER";
  const pager = new Pager(api, BINS, "bins", PAGE);
  const bins = new Map();
  let selected = null;
  let prefix = "";

  const status = h("p", { class: "message", role: "status" });
  const filter = h("input", { type: "search", id: "bins-filter", placeholder: "e.g. A- or B-07", autocomplete: "off", spellcheck: "false", size: 12 });
  const summary = h("p", { class: "hint", id: "bins-count", "aria-live": "polite" });
  const more = moreButton("Load more bins", async () => {
    try {
      for (const bin of await pager.more()) bins.set(bin.id, bin);
      renderFloor();
    } catch (error) {
      showMessage(status, "error", error.message);
    }
  });
  more.id = "bins-more";
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
      h("div", { class: "search filters" }, h("label", { for: "bins-filter" }, "Location starts with "), filter),
      summary,
      status,
      h("div", { class: "bins-layout" }, h("div", {}, floor, more), detail)));

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
        pager.total += 1;
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
    summary.textContent = `Showing ${count(bins.size)} of ${count(pager.total)} bin${pager.total === 1 ? "" : "s"}${prefix ? ` at locations starting ${prefix}` : ""}.`;
    more.hidden = !pager.hasNext;
    if (!bins.size) {
      replace(floor, h("p", {}, prefix ? "No bin location starts with this." : isManager ? "No bins yet: add the first one above." : "No bins yet."));
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
    replace(floor, sections);
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
      // The history is read when first opened, not with every bin shown.
      const historyBox = h("details", { class: "history-box" }, h("summary", {}, "History"));
      let history = null;
      historyBox.addEventListener("toggle", () => {
        if (!historyBox.open || history) return;
        history = historySection(api, { binId: bin.id }, `bin ${bin.location}`);
        historyBox.append(history.element);
      });
      view = {
        binId: bin.id,
        heading: h("h2", { id: "bin-detail-heading" }, `Bin ${bin.location}`),
        summary: h("div", {}),
        itemDetail: h("div", { class: "bin-item" }),
        adjust: adjustForm(bin),
        receive: receiveForm(bin),
        count: countSection(bin),
        edit: isManager ? editSection(bin) : null,
        reloadHistory: () => history && history.reload(),
      };
      replace(detail, view.heading, view.summary, view.itemDetail, view.adjust.form, view.receive,
        view.count.element, view.edit, historyBox);
    } else {
      view.reloadHistory();
    }
    view.heading.textContent = `Bin ${bin.location}`;
    replace(view.summary,
      loadBar(bin.currentLoad, bin.capacity),
      h("p", {}, `${bin.currentLoad} of ${bin.capacity} units, ${bin.freeCapacity} free.`),
      items.length
        ? h("table", { class: "table" },
          h("caption", { class: "visually-hidden" }, `Items in bin ${bin.location}`),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "SKU"), h("th", { scope: "col" }, "Name"), h("th", { scope: "col", class: "num" }, "Quantity"))),
          h("tbody", {}, items.map((item) =>
            h("tr", { dataset: { itemId: item.id } },
              h("td", {}, h("button", {
                type: "button",
                class: "link",
                "aria-label": `${item.sku}: move, rename, history`,
                onclick: () => itemPanel.show(view.itemDetail, context, item.id, { onChange: refresh }),
              }, item.sku)),
              h("td", {}, item.name),
              h("td", { class: "num" }, String(item.quantity))))))
        : h("p", {}, "This bin is empty."));
    const chosen = view.adjust.select.value;
    replace(view.adjust.select, items.map((item) =>
      h("option", { value: item.id, selected: item.id === chosen }, `${item.sku} (${item.quantity})`)));
    view.adjust.form.hidden = !items.length;
    view.count.update(bin, items);
  }

  async function refresh() {
    await renderDetail();
    renderFloor();
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

  // A cycle count: the counter types what they find; the bin's version when the count started
  // goes with it, so a bin that changed meanwhile is refused (CONFLICT) instead of overwritten.
  function countSection(bin) {
    const message = h("p", { class: "message", role: "status" });
    const lines = h("div", { class: "count-lines" });
    const complete = h("input", { type: "checkbox", name: "complete", checked: true });
    const startedAt = h("p", { class: "hint" });
    let version = null;
    const form = h("form", { class: "stack", "aria-label": `Count bin ${bin.location}` },
      startedAt,
      lines,
      h("button", { type: "button", class: "secondary", onclick: () => addLine("", true).querySelector("input").focus() }, "Add a SKU found here"),
      h("label", { class: "check" }, complete, " This count covers the whole bin (SKUs not listed are 0)"),
      h("div", { class: "actions" },
        h("button", { type: "submit", class: "primary" }, "Record count"),
        h("button", { type: "button", class: "secondary", onclick: async () => {
          await renderDetail();  // count against the bin as it is now
          start(true);
        } }, "Start again")),
      message);
    const element = h("details", { class: "count-box" }, h("summary", {}, "Count this bin"), form);
    let current = { bin, items: [] };

    function addLine(sku, editable) {
      const row = h("div", { class: "count-line", role: "group", "aria-label": sku ? `Count of ${sku}` : "Count of another SKU" },
        editable
          ? h("label", {}, "SKU ", h("input", { name: "sku", required: true, maxlength: 64, size: 12 }))
          : h("span", { class: "count-sku", dataset: { sku } }, sku),
        h("label", {}, editable ? "Found " : h("span", { class: "visually-hidden" }, `${sku} found `),
          h("input", { name: "found", type: "number", min: 0, step: 1, required: true, class: "narrow", dataset: { sku } })));
      lines.append(row);
      return row;
    }

    function start(clear) {
      version = current.bin.version;
      replace(lines);
      for (const item of current.items) addLine(item.sku, false);
      startedAt.textContent = `Counting from version ${version} of the bin. Type what you find, 0 for none.`;
      if (clear) showMessage(message, "", "");
    }

    function update(latest, items) {
      const first = version === null;
      current = { bin: latest, items };
      if (first) start(false);
    }

    form.addEventListener("submit", (event) => submit(event, form, message, async () => {
      const counted = [...lines.querySelectorAll(".count-line")].map((row) => {
        const skuInput = row.querySelector("[name=sku]");
        return {
          sku: skuInput ? skuInput.value.trim() : row.querySelector(".count-sku").dataset.sku,
          quantity: Number(row.querySelector("[name=found]").value),
        };
      });
      const after = (await api(COUNT, { bin: current.bin.id, lines: counted, complete: complete.checked, version })).countBin;
      current.bin = { ...current.bin, version: after.version };
      version = null;  // the next count starts from the bin as it is now
      return `Count recorded: ${after.currentLoad} units in ${after.location}.`;
    }));
    return { element, update };
  }

  function editSection(bin) {
    const message = h("p", { class: "message", role: "status" });
    const form = h("form", { class: "stack", "aria-label": `Edit bin ${bin.location}` },
      h("label", {}, "Location ", h("input", { name: "location", required: true, maxlength: 64, value: bin.location })),
      h("label", {}, "Capacity ", h("input", { name: "capacity", type: "number", required: true, min: 0, step: 1, value: bin.capacity })),
      h("button", { type: "submit" }, "Save bin"),
      message);
    form.addEventListener("submit", (event) => submit(event, form, message, async () => {
      const updated = (await api(UPDATE_BIN, {
        id: bin.id,
        i: { location: form.elements.location.value, capacity: Number(form.elements.capacity.value) },
      })).updateBin;
      bins.set(updated.id, updated);
      return `Bin ${updated.location} saved.`;
    }));
    const deleteMessage = h("p", { class: "message", role: "status" });
    const zone = h("div", { class: "actions danger-zone" });
    const ask = h("button", { type: "button", class: "danger" }, "Delete bin");
    // Two clicks: the first asks, the second deletes; the server refuses a bin holding stock.
    ask.addEventListener("click", () => {
      const yes = h("button", { type: "button", class: "danger primary" }, `Yes, delete bin ${bins.get(bin.id).location}`);
      const no = h("button", { type: "button", class: "secondary", onclick: () => replace(zone, ask, deleteMessage) }, "Keep it");
      yes.addEventListener("click", async () => {
        yes.disabled = true;
        try {
          await api(DELETE_BIN, { id: bin.id });
          const location = bins.get(bin.id).location;
          bins.delete(bin.id);
          pager.total -= 1;
          selected = null;
          view = null;
          replace(detail, h("h2", { id: "bin-detail-heading" }, "Bin"), h("p", { class: "message ok", role: "status" }, `Bin ${location} deleted.`));
          renderFloor();
        } catch (error) {
          replace(zone, ask, deleteMessage);
          showMessage(deleteMessage, "error", error.message);
        }
      });
      replace(zone, yes, no, deleteMessage);
    });
    replace(zone, ask, deleteMessage);
    return h("details", { class: "edit-box" }, h("summary", {}, "Edit or delete this bin"), form, zone);
  }

  async function submit(event, form, message, action) {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const text = await action();
      showMessage(message, "ok", text);
      await refresh();
    } catch (error) {
      showMessage(message, "error", error.message);
    } finally {
      button.disabled = false;
    }
  }

  async function load() {
    prefix = filter.value.trim();
    try {
      if (!(await pager.reset({ locationPrefix: prefix || null }))) return;
      bins.clear();
      for (const bin of pager.nodes) bins.set(bin.id, bin);
      showMessage(status, "", "");
      renderFloor();
      if (selected) await renderDetail();
    } catch (error) {
      showMessage(status, "error", error.message);
    }
  }

  // Every stock change carries its bin's new load. Changes are gathered and applied once per
  // frame: tiles on screen are refilled in place, the floor is redrawn only for a new bin.
  const pending = new Map();
  let detailTimer = null;
  const apply = frameBatcher(() => {
    let redraw = false;
    for (const bin of pending.values()) {
      if (!bins.has(bin.id)) {
        // A bin beyond the loaded pages stays there; one created since loading shows when the
        // whole filtered list is on screen.
        if (pager.hasNext || !bin.location.toLowerCase().startsWith(prefix.toLowerCase())) continue;
        redraw = true;
      }
      bins.set(bin.id, bin);
      const existing = redraw ? null : floor.querySelector(`.bin[data-bin-id="${bin.id}"]`);
      if (existing) fillTile(existing, bin);
      else redraw = true;
      if (bin.id === selected) {
        clearTimeout(detailTimer);
        detailTimer = setTimeout(renderDetail, 150);
      }
    }
    pending.clear();
    if (redraw) renderFloor();
  });
  const unsubscribe = live.subscribe(ITEM_CHANGED, {}, {
    next: (data) => {
      const bin = data.itemChanged.item.bin;
      pending.set(bin.id, bin);
      apply();
    },
    restarted: () => load(),
  });

  let filterTimer = null;
  filter.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      if (filter.value.trim() !== prefix) load();
    }, 250);
  });

  load();
  return () => {
    clearTimeout(detailTimer);
    clearTimeout(filterTimer);
    apply.cancel();
    unsubscribe();
  };
}
