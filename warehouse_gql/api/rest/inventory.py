"""/bins, /items, /stock and /movements: the same services and reads as the GraphQL inventory
fields (createBin ... deleteItem, bin, bins, item, items, stockLevel, movements)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from warehouse_gql.api import http
from warehouse_gql.api.rest.endpoints import (
    EXAMPLE_ID,
    EXAMPLE_TIME,
    After,
    Body,
    Call,
    Endpoints,
    Id,
    Int32,
    Limit,
    Query,
    Reply,
    Resource,
    Time,
    resource_reply,
)
from warehouse_gql.api.rest.pages import Page, page_reply
from warehouse_gql.domain import inventory as rules
from warehouse_gql.domain import models
from warehouse_gql.domain.errors import NotFound
from warehouse_gql.services import inventory
from warehouse_gql.store import bins, items
from warehouse_gql.store.ids import parse_id

routes = Endpoints("inventory", "Bins, stock records (items), stock levels and the ledger.")


class Bin(Resource):
    """A place on the floor that holds stock, e.g. A-01-03 (aisle-rack-shelf)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": EXAMPLE_ID,
                    "location": "A-01-1",
                    "capacity": 500,
                    "currentLoad": 120,
                    "freeCapacity": 380,
                    "aisle": "A",
                    "rack": 1,
                    "shelf": 1,
                    "version": 3,
                    "createdAt": EXAMPLE_TIME,
                    "updatedAt": EXAMPLE_TIME,
                }
            ]
        }
    )

    id: Id
    location: str
    capacity: int = Field(description="How many units the bin can hold.")
    current_load: int = Field(
        description="Units in the bin now: always the sum of its items' quantities."
    )
    free_capacity: int = Field(description="capacity − currentLoad.")
    aisle: str | None = Field(description="The aisle of an AISLE-RACK-SHELF location.")
    rack: int | None = Field(description="The rack (bay along the aisle).")
    shelf: int | None = Field(description="The shelf (level).")
    version: int = Field(description="Incremented by every write of the bin (also its ETag).")
    created_at: Time
    updated_at: Time

    @classmethod
    def of(cls, bin: models.Bin) -> Bin:
        slot = bin.slot
        return cls(
            id=bin.id,
            location=bin.location,
            capacity=bin.capacity,
            current_load=bin.current_load,
            free_capacity=bin.free_capacity,
            aisle=None if slot is None else slot.aisle,
            rack=None if slot is None else slot.rack,
            shelf=None if slot is None else slot.shelf,
            version=bin.version,
            created_at=bin.created_at,
            updated_at=bin.updated_at,
        )


class Item(Resource):
    """A stock record: one sku in one bin."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "6650a1c2e4b0f1a2b3c4d5e7",
                    "name": "Blue widget",
                    "sku": "WID-BLUE",
                    "binId": EXAMPLE_ID,
                    "quantity": 120,
                    "revision": 2,
                    "createdAt": EXAMPLE_TIME,
                    "updatedAt": EXAMPLE_TIME,
                }
            ]
        }
    )

    id: Id
    name: str
    sku: str
    bin_id: Id
    quantity: int
    revision: int = Field(description="Incremented by every write of the item (also its ETag).")
    created_at: Time
    updated_at: Time

    @classmethod
    def of(cls, item: models.Item) -> Item:
        return cls(
            id=item.id,
            name=item.name,
            sku=item.sku,
            bin_id=item.bin_id,
            quantity=item.quantity,
            revision=item.revision,
            created_at=item.created_at,
            updated_at=item.updated_at,
        )


class Movement(Resource):
    """One line of the stock ledger: a change of one item's quantity."""

    id: Id
    item_id: Id
    sku: str
    bin_id: Id
    bin_location: str = Field(description="Where it happened (kept after the bin is deleted).")
    delta: int = Field(description="Units added (positive) or taken (negative).")
    quantity_after: int
    reason: str = Field(
        description="Why: the reason given to an adjustment, or create, move, fulfil, count."
    )
    order_id: str | None
    created_at: Time

    @classmethod
    def of(cls, movement: models.Movement) -> Movement:
        return cls(
            id=movement.id,
            item_id=movement.item_id,
            sku=movement.sku,
            bin_id=movement.bin_id,
            bin_location=movement.bin_location,
            delta=movement.delta,
            quantity_after=movement.quantity_after,
            reason=movement.reason,
            order_id=movement.order_id,
            created_at=movement.created_at,
        )


class StockLevel(Resource):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"sku": "WID-BLUE", "quantity": 150}]}
    )

    sku: str
    quantity: int = Field(description="Units of the sku over all bins; 0 for an unknown sku.")


class BinPage(Page[Bin]):
    """A page of bins in creation order."""


class ItemPage(Page[Item]):
    """A page of items in creation order."""


class MovementPage(Page[Movement]):
    """A page of the ledger in creation order."""


class CreateBin(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"location": "A-01-1", "capacity": 500}]}
    )

    location: str = Field(description="Trimmed, 1–64 characters, unique (case-insensitive).")
    capacity: Int32 = Field(description="0 to 1,000,000,000 units.")


class UpdateBin(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"capacity": 800}]})

    location: str | None = None
    capacity: Int32 | None = None


class CreateItem(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Blue widget",
                    "sku": "WID-BLUE",
                    "binId": EXAMPLE_ID,
                    "quantity": 120,
                }
            ]
        }
    )

    name: str = Field(description="1–200 characters.")
    sku: str = Field(description="1–64 characters of letters, digits, '.', '_', '-'.")
    bin_id: str
    quantity: Int32 = Field(description="At least 0.")


class UpdateItem(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Blue widget, large"}]})

    name: str | None = None


class Adjust(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"delta": 30, "reason": "delivery PO-1042"}]}
    )

    delta: Int32 = Field(description="Units received (positive) or written off (negative); not 0.")
    reason: str = Field(description="Why, for the ledger.")


class Move(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"toBinId": "6650a1c2e4b0f1a2b3c4d5e8", "quantity": 40}]}
    )

    to_bin_id: str
    quantity: Int32 = Field(description="Units to move, at least 1.")


class BinsQuery(Query):
    limit: Limit = None
    after: After = None
    location_prefix: str | None = Field(
        default=None, description="Bins whose location starts with this (case-insensitive)."
    )


class ItemsQuery(Query):
    limit: Limit = None
    after: After = None
    sku: str | None = None
    bin_id: str | None = None
    max_quantity: Int32 | None = Field(default=None, description="At most this many units.")


class MovementsQuery(Query):
    limit: Limit = None
    after: After = None
    sku: str | None = None


# Bins


@routes.route(
    "GET",
    "/bins",
    operation_id="bins",
    summary="Bins in creation order",
    query=BinsQuery,
    response=BinPage,
    link=True,
    errors=("FORBIDDEN",),
)
async def list_bins(call: Call) -> Reply:
    await call.authorize("readStock")
    query = call.query(BinsQuery)
    first = http.page_size(query.limit, field="limit")
    after = parse_id(http.decode_cursor(query.after))
    found, more = await bins.page_bins(
        call.db, first=first, after=after, location_prefix=query.location_prefix
    )
    total = await bins.count_bins(call.db, location_prefix=query.location_prefix)
    return page_reply(call, BinPage, [Bin.of(b) for b in found], more, total)


@routes.route(
    "POST",
    "/bins",
    operation_id="createBin",
    summary="Create a bin (MANAGER)",
    body=CreateBin,
    response=Bin,
    status=201,
    location=True,
    etag=True,
    errors=("FORBIDDEN", "CONFLICT"),
)
async def create_bin(call: Call) -> Reply:
    await call.authorize("createBin")
    body = call.body(CreateBin)
    created = await inventory.create_bin(call.db, location=body.location, capacity=body.capacity)
    reply = resource_reply(Bin.of(created), created, status=201)
    reply.headers["location"] = call.url(f"/bins/{created.id}")
    return reply


async def _bin(call: Call) -> models.Bin:
    oid = parse_id(call.path["id"])
    found = None if oid is None else await bins.get_bin(call.db, oid)
    if found is None:
        raise NotFound("bin", call.path["id"])
    return found


@routes.route(
    "GET",
    "/bins/{id}",
    operation_id="bin",
    summary="A bin",
    response=Bin,
    etag=True,
    errors=("FORBIDDEN", "NOT_FOUND"),
)
async def get_bin(call: Call) -> Reply:
    await call.authorize("readStock")
    found = await _bin(call)
    return resource_reply(Bin.of(found), found)


@routes.route(
    "PATCH",
    "/bins/{id}",
    operation_id="updateBin",
    summary="Rename a bin or change its capacity (MANAGER)",
    body=UpdateBin,
    response=Bin,
    etag=True,
    if_match=True,
    errors=("FORBIDDEN", "NOT_FOUND", "CONFLICT", "CAPACITY_EXCEEDED"),
)
async def update_bin(call: Call) -> Reply:
    await call.authorize("updateBin")
    body = call.body(UpdateBin)
    updated = await inventory.update_bin(
        call.db,
        bin_id=call.path["id"],
        location=body.location,
        capacity=body.capacity,
        precondition=call.precondition,
    )
    return resource_reply(Bin.of(updated), updated)


@routes.route(
    "DELETE",
    "/bins/{id}",
    operation_id="deleteBin",
    summary="Delete an empty bin (MANAGER)",
    description="CONFLICT while it holds items.",
    status=204,
    if_match=True,
    errors=("FORBIDDEN", "NOT_FOUND", "CONFLICT"),
)
async def delete_bin(call: Call) -> Reply:
    await call.authorize("deleteBin")
    await inventory.delete_bin(call.db, bin_id=call.path["id"], precondition=call.precondition)
    return Reply(status=204)


# Items


@routes.route(
    "GET",
    "/items",
    operation_id="items",
    summary="Items in creation order, filtered by sku, bin and at most a quantity",
    query=ItemsQuery,
    response=ItemPage,
    link=True,
    errors=("FORBIDDEN",),
)
async def list_items(call: Call) -> Reply:
    await call.authorize("readStock")
    query = call.query(ItemsQuery)
    first = http.page_size(query.limit, field="limit")
    after = parse_id(http.decode_cursor(query.after))
    bin_oid = parse_id(query.bin_id)
    if query.bin_id is not None and bin_oid is None:
        # A malformed bin id names no bin, so no items (as GraphQL's items(binId:)).
        return page_reply(call, ItemPage, [], False, 0)
    found, more = await items.page_items(
        call.db,
        first=first,
        after=after,
        sku=query.sku,
        bin_id=bin_oid,
        max_quantity=query.max_quantity,
    )
    total = await items.count_items(
        call.db, sku=query.sku, bin_id=bin_oid, max_quantity=query.max_quantity
    )
    return page_reply(call, ItemPage, [Item.of(i) for i in found], more, total)


@routes.route(
    "POST",
    "/items",
    operation_id="createItem",
    summary="Put a new sku into a bin",
    description="CONFLICT when the bin already holds the sku; receive more with /adjust.",
    body=CreateItem,
    response=Item,
    status=201,
    location=True,
    etag=True,
    errors=("FORBIDDEN", "NOT_FOUND", "CONFLICT", "CAPACITY_EXCEEDED"),
)
async def create_item(call: Call) -> Reply:
    user = await call.authorize("createItem")
    body = call.body(CreateItem)
    created = await inventory.create_item(
        call.db,
        call.events,
        name=body.name,
        sku=body.sku,
        bin_id=body.bin_id,
        quantity=body.quantity,
        user=user,
    )
    reply = resource_reply(Item.of(created), created, status=201)
    reply.headers["location"] = call.url(f"/items/{created.id}")
    return reply


@routes.route(
    "GET",
    "/items/{id}",
    operation_id="item",
    summary="An item",
    response=Item,
    etag=True,
    errors=("FORBIDDEN", "NOT_FOUND"),
)
async def get_item(call: Call) -> Reply:
    await call.authorize("readStock")
    oid = parse_id(call.path["id"])
    found = None if oid is None else await items.get_item(call.db, oid)
    if found is None:
        raise NotFound("item", call.path["id"])
    return resource_reply(Item.of(found), found)


@routes.route(
    "PATCH",
    "/items/{id}",
    operation_id="updateItem",
    summary="Rename an item",
    body=UpdateItem,
    response=Item,
    etag=True,
    if_match=True,
    errors=("FORBIDDEN", "NOT_FOUND"),
)
async def update_item(call: Call) -> Reply:
    await call.authorize("updateItem")
    updated = await inventory.update_item(
        call.db,
        call.events,
        item_id=call.path["id"],
        name=call.body(UpdateItem).name,
        precondition=call.precondition,
    )
    return resource_reply(Item.of(updated), updated)


@routes.route(
    "DELETE",
    "/items/{id}",
    operation_id="deleteItem",
    summary="Delete an item whose quantity is 0 (MANAGER)",
    status=204,
    if_match=True,
    errors=("FORBIDDEN", "NOT_FOUND", "CONFLICT"),
)
async def delete_item(call: Call) -> Reply:
    await call.authorize("deleteItem")
    await inventory.delete_item(
        call.db, call.events, item_id=call.path["id"], precondition=call.precondition
    )
    return Reply(status=204)


@routes.route(
    "POST",
    "/items/{id}/adjust",
    operation_id="adjustItemQuantity",
    summary="Receive (positive delta) or write off (negative) stock",
    description="Writes a ledger line with the reason; returns the item.",
    body=Adjust,
    response=Item,
    etag=True,
    if_match=True,
    errors=("FORBIDDEN", "NOT_FOUND", "INSUFFICIENT_STOCK", "CAPACITY_EXCEEDED"),
)
async def adjust_item(call: Call) -> Reply:
    user = await call.authorize("adjustItemQuantity")
    body = call.body(Adjust)
    adjusted = await inventory.adjust_item_quantity(
        call.db,
        call.events,
        item_id=call.path["id"],
        delta=body.delta,
        reason=body.reason,
        user=user,
        precondition=call.precondition,
    )
    return resource_reply(Item.of(adjusted), adjusted)


@routes.route(
    "POST",
    "/items/{id}/move",
    operation_id="moveItem",
    summary="Move units to the same sku in another bin",
    description="Returns the target item (created when the bin did not hold the sku). If-Match names the source item.",
    body=Move,
    response=Item,
    etag=True,
    if_match=True,
    errors=("FORBIDDEN", "NOT_FOUND", "INSUFFICIENT_STOCK", "CAPACITY_EXCEEDED"),
)
async def move_item(call: Call) -> Reply:
    user = await call.authorize("moveItem")
    body = call.body(Move)
    target = await inventory.move_item(
        call.db,
        call.events,
        item_id=call.path["id"],
        to_bin_id=body.to_bin_id,
        quantity=body.quantity,
        user=user,
        precondition=call.precondition,
    )
    return resource_reply(Item.of(target), target)


# Stock levels and the ledger


@routes.route(
    "GET",
    "/stock/{sku}",
    operation_id="stockLevel",
    summary="Units of a sku over all bins",
    description="0 for an unknown sku; 422 for a malformed one.",
    response=StockLevel,
)
async def stock_level(call: Call) -> Reply:
    await call.authorize("stockLevel")
    sku = rules.check_sku(call.path["sku"])
    return Reply(StockLevel(sku=sku, quantity=await items.stock_level(call.db, sku)))


@routes.route(
    "GET",
    "/movements",
    operation_id="movements",
    summary="The stock ledger in creation order",
    query=MovementsQuery,
    response=MovementPage,
    link=True,
    errors=("FORBIDDEN",),
)
async def list_movements(call: Call) -> Reply:
    await call.authorize("readStock")
    query = call.query(MovementsQuery)
    first = http.page_size(query.limit, field="limit")
    after = parse_id(http.decode_cursor(query.after))
    found, more = await items.page_movements(call.db, first=first, after=after, sku=query.sku)
    total = await items.count_movements(call.db, sku=query.sku)
    return page_reply(call, MovementPage, [Movement.of(m) for m in found], more, total)
