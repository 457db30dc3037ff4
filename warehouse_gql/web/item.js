// One stock record in a panel: rename it, move units to another bin (by location, as printed on
// the bin's label), delete it once empty (managers), and its movement history.

import { h, replace, showMessage } from "./dom.js";
import { historySection } from "./history.js";

const ITEM = "query($id: ID!) { item(id: $id) { id sku name quantity bin { id location } } }";
const RENAME = "mutation($id: ID!, $name: String!) { updateItem(id: $id, input: { name: $name }) { id name } }";
const BIN_AT = "query($location: String!) { binByLocation(location: $location) { id location freeCapacity } }";
const MOVE = `mutation($id: ID!, $to: ID!, $q: Int!) {
  moveItem(id: $id, toBinId: $to, quantity: $q) { id quantity bin { location } }
}`;
const DELETE = "mutation($id: ID!) { deleteItem(id: $id) }";

/** Fill `container` with the item's panel; `onChange` runs after each change made here. */
export async function show(container, { api, user }, itemId, { onChange = () => {} } = {}) {
  const isManager = user.role === "MANAGER";
  container.dataset.itemId = itemId;
  let item;
  try {
    item = (await api(ITEM, { id: itemId })).item;
  } catch (error) {
    replace(container, h("p", { class: "message error", role: "alert" }, error.message));
    return;
  }
  if (container.dataset.itemId !== itemId) return;  // another item was opened meanwhile
  if (!item) {
    replace(container, h("section", { class: "panel item-panel" }, h("p", {}, "This item no longer exists.")));
    return;
  }
  const label = `${item.sku} in ${item.bin.location}`;
  const history = historySection(api, { itemId }, label);
  const facts = h("p", { class: "item-facts" });
  const fill = () => {
    facts.textContent = `${item.name}: ${item.quantity} units in bin ${item.bin.location}.`;
  };
  fill();

  const changed = async (text, message) => {
    showMessage(message, "ok", text);
    await history.reload();
    onChange();
  };

  const renameMessage = h("p", { class: "message", role: "status" });
  const rename = h("form", { class: "inline-form", "aria-label": `Rename ${label}` },
    h("label", {}, "Name ", h("input", { name: "name", required: true, maxlength: 200, value: item.name })),
    h("button", { type: "submit" }, "Rename"),
    renameMessage);
  rename.addEventListener("submit", (event) => submit(event, rename, renameMessage, async () => {
    const updated = (await api(RENAME, { id: item.id, name: rename.elements.name.value })).updateItem;
    item.name = updated.name;
    fill();
    return "Renamed.";
  }, changed));

  const moveMessage = h("p", { class: "message", role: "status" });
  const move = h("form", { class: "inline-form move-form", "aria-label": `Move ${label}` },
    h("label", {}, "To bin ", h("input", { name: "to", required: true, maxlength: 64, placeholder: "B-07-2", size: 10 })),
    h("label", {}, "Units ", h("input", { name: "quantity", type: "number", required: true, min: 1, step: 1, value: item.quantity || 1, class: "narrow" })),
    h("button", { type: "submit", class: "primary" }, "Move"),
    moveMessage);
  move.addEventListener("submit", (event) => submit(event, move, moveMessage, async () => {
    const location = move.elements.to.value.trim();
    const target = (await api(BIN_AT, { location })).binByLocation;
    if (!target) throw new Error(`There is no bin at ${location}.`);
    const quantity = Number(move.elements.quantity.value);
    await api(MOVE, { id: item.id, to: target.id, q: quantity });
    item.quantity -= quantity;
    fill();
    return `Moved ${quantity} × ${item.sku} to ${target.location}.`;
  }, changed));

  const deleteMessage = h("p", { class: "message", role: "status" });
  const remove = h("div", { class: "actions danger-zone" });
  const deleteButton = h("button", { type: "button", class: "danger" }, "Delete item");
  // Deleting is two clicks: the first asks, the second deletes.
  deleteButton.addEventListener("click", () => {
    const confirm = h("button", { type: "button", class: "danger primary" }, `Yes, delete ${item.sku} from ${item.bin.location}`);
    const cancel = h("button", { type: "button", class: "secondary" }, "Keep it");
    cancel.addEventListener("click", () => replace(remove, deleteButton, deleteMessage));
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      try {
        await api(DELETE, { id: item.id });
        replace(container, h("section", { class: "panel item-panel" },
          h("p", { class: "message ok", role: "status" }, `Item ${item.sku} deleted from ${item.bin.location}.`)));
        onChange();
      } catch (error) {
        replace(remove, deleteButton, deleteMessage);
        showMessage(deleteMessage, "error", error.message);
      }
    });
    replace(remove, confirm, cancel, deleteMessage);
  });
  replace(remove, deleteButton, deleteMessage);

  replace(container,
    h("section", { class: "panel item-panel", "aria-labelledby": "item-heading" },
      h("div", { class: "card-head" },
        h("h2", { id: "item-heading", tabindex: -1 }, label),
        h("button", { type: "button", class: "secondary", onclick: () => close(container) }, "Close")),
      facts,
      rename,
      move,
      isManager ? remove : null,
      history.element));
  container.querySelector("h2").focus({ preventScroll: true });
  container.scrollIntoView({ block: "nearest" });
}

export function close(container) {
  delete container.dataset.itemId;
  container.replaceChildren();
}

/** Run a form's action with its button disabled; report the outcome in `message`. */
export async function submit(event, form, message, action, after) {
  event.preventDefault();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const text = await action();
    if (after) await after(text, message);
    else showMessage(message, "ok", text);
  } catch (error) {
    showMessage(message, "error", error.message);
  } finally {
    button.disabled = false;
  }
}
