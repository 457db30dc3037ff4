"""Random sequences of stock and order operations keep every SPEC invariant.

A Hypothesis state machine drives createItem, adjustItemQuantity, moveItem, createOrder,
fulfillOrder, cancelOrder and createShipment by managers, pickers and customers over a few
bins and skus. It keeps a model of the expected stock, checks every response's outcome
against it, and after every step recomputes the invariants from the raw collections.

The session fixtures live on pytest's event loop, which a synchronous state machine cannot
drive; the test runs its own app on its own loop in a thread, in a database of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import hypothesis
from bson import ObjectId
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from tests import given
from tests.accounts import Account, make_account
from tests.app_resources import lifespan, resources_of
from tests.graphql_client import GraphQLClient
from tests.invariants import assert_invariants
from tests.names import unique
from warehouse_gql.api.http import Resources
from warehouse_gql.app import create_app
from warehouse_gql.domain.access import Role
from warehouse_gql.domain.errors import InsufficientStock
from warehouse_gql.domain.inventory import StockSource, allocate_picks
from warehouse_gql.settings import Settings

T = TypeVar("T")

BIN_CAPACITIES = (20, 30, 12)
SKU_COUNT = 3


@dataclass
class Floor:
    """An app served on its own event loop in a background thread."""

    loop: asyncio.AbstractEventLoop
    gql: GraphQLClient
    resources: Resources
    accounts: dict[Role, Account] = field(default_factory=dict)

    # Every (operation, outcome) seen, to show what the random runs exercised.
    seen: Counter[str] = field(default_factory=Counter)

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=120)


@contextmanager
def floor_in_thread(settings: Settings) -> Iterator[Floor]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="property-floor", daemon=True)
    thread.start()
    ready: Future[Floor] = Future()
    stop = asyncio.Event()

    async def serve() -> None:
        app = create_app(settings)
        try:
            async with (
                lifespan(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://test"
                ) as http,
            ):
                floor = Floor(loop=loop, gql=GraphQLClient(http), resources=resources_of(app))
                for role in Role:
                    floor.accounts[role] = await make_account(floor.resources, role)
                ready.set_result(floor)
                await stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    served = asyncio.run_coroutine_threadsafe(serve(), loop)
    try:
        yield ready.result(timeout=60)
    finally:
        loop.call_soon_threadsafe(stop.set)
        served.result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def outcome(body: dict[str, Any]) -> str:
    if body.get("errors"):
        code: str = body["errors"][0]["extensions"]["code"]
        return code
    return "ok"


@dataclass
class ModelOrder:
    id: str
    lines: list[tuple[str, int]]
    status: str
    owner: Role


def build_machine(floor: Floor) -> type[RuleBasedStateMachine]:
    gql, db = floor.gql, floor.resources.db
    manager, picker, customer = (floor.accounts[r] for r in Role)

    def post(query: str, variables: dict[str, Any], account: Account) -> dict[str, Any]:
        body = floor.run(gql.post(query, variables, account.token))
        operation = query.split("{", 2)[1].split("(")[0].strip()
        floor.seen[f"{operation}:{outcome(body)}"] += 1
        return body

    staff = st.sampled_from([manager, picker])
    bin_index = st.integers(0, len(BIN_CAPACITIES) - 1)
    sku_index = st.integers(0, SKU_COUNT - 1)

    class Warehouse(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.bins: list[dict[str, Any]] = []
            self.skus = [unique("P") for _ in range(SKU_COUNT)]
            # (sku, bin index) -> {"id": item id, "quantity": expected units}
            self.items: dict[tuple[str, int], dict[str, Any]] = {}
            self.orders: list[ModelOrder] = []

        @initialize()
        def stock_the_floor(self) -> None:
            # Every sku starts in one bin, so orders are mostly valid from the first step.
            for capacity in BIN_CAPACITIES:
                self.bins.append(floor.run(given.bin(gql, manager.token, capacity=capacity)))
            for s, sku in enumerate(self.skus):
                b = s % len(self.bins)
                made = floor.run(
                    given.item(gql, manager.token, bin_id=self.bins[b]["id"], quantity=6, sku=sku)
                )
                self.items[(sku, b)] = {"id": made["id"], "quantity": 6}

        def existing(self, pick: int) -> tuple[str, int]:
            keys = sorted(self.items)
            return keys[pick % len(keys)]

        def order(self, pick: int, prefer: str | None = None) -> ModelOrder:
            """Any order, or (usually) one in the state `prefer` so workflows move forward."""
            preferred = [o for o in self.orders if o.status == prefer]
            candidates = preferred if preferred and pick % 4 else self.orders
            return candidates[pick % len(candidates)]

        def load(self, b: int) -> int:
            return sum(v["quantity"] for (_, i), v in self.items.items() if i == b)

        def free(self, b: int) -> int:
            capacity: int = self.bins[b]["capacity"]
            return capacity - self.load(b)

        @rule(who=staff, s=sku_index, b=bin_index, quantity=st.integers(0, 14))
        def create_item(self, who: Account, s: int, b: int, quantity: int) -> None:
            sku = self.skus[s]
            fields = {
                "name": f"Part {s}",
                "sku": sku,
                "binId": self.bins[b]["id"],
                "quantity": quantity,
            }
            body = post(given.CREATE_ITEM, {"i": fields}, who)
            if (sku, b) in self.items:
                expected = "CONFLICT"
            elif quantity > self.free(b):
                expected = "CAPACITY_EXCEEDED"
            else:
                expected = "ok"
            assert outcome(body) == expected, body
            if expected == "ok":
                self.items[(sku, b)] = {
                    "id": body["data"]["createItem"]["id"],
                    "quantity": quantity,
                }

        @rule(who=staff, pick=st.integers(0, 1000), delta=st.integers(-10, 10))
        def adjust(self, who: Account, pick: int, delta: int) -> None:
            sku, b = self.existing(pick)
            item = self.items[(sku, b)]
            body = post(given.ADJUST, {"id": item["id"], "d": delta, "r": "count"}, who)
            if delta == 0:
                expected = "BAD_USER_INPUT"
            elif item["quantity"] + delta < 0:
                expected = "INSUFFICIENT_STOCK"
            elif delta > self.free(b):
                expected = "CAPACITY_EXCEEDED"
            else:
                expected = "ok"
            assert outcome(body) == expected, body
            if expected == "ok":
                item["quantity"] += delta
                assert body["data"]["adjustItemQuantity"]["quantity"] == item["quantity"]

        @rule(
            who=staff,
            pick=st.integers(0, 1000),
            offset=st.integers(1, len(BIN_CAPACITIES) - 1),
            quantity=st.integers(0, 10),
        )
        def move(self, who: Account, pick: int, offset: int, quantity: int) -> None:
            sku, source = self.existing(pick)
            item = self.items[(sku, source)]
            target = (source + offset) % len(self.bins)
            body = post(
                given.MOVE, {"id": item["id"], "to": self.bins[target]["id"], "q": quantity}, who
            )
            if quantity < 1:
                expected = "BAD_USER_INPUT"
            elif quantity > item["quantity"]:
                expected = "INSUFFICIENT_STOCK"
            elif quantity > self.free(target):
                expected = "CAPACITY_EXCEEDED"
            else:
                expected = "ok"
            assert outcome(body) == expected, body
            if expected == "ok":
                moved = body["data"]["moveItem"]
                item["quantity"] -= quantity
                landed = self.items.setdefault((sku, target), {"id": moved["id"], "quantity": 0})
                assert landed["id"] == moved["id"]
                landed["quantity"] += quantity
                assert moved["quantity"] == landed["quantity"]

        @rule(
            who=st.sampled_from([manager, customer]),
            lines=st.dictionaries(sku_index, st.integers(1, 4), min_size=1, max_size=2),
        )
        def create_order(self, who: Account, lines: dict[int, int]) -> None:
            wanted = [(self.skus[s], q) for s, q in sorted(lines.items())]
            fields = {
                "customerName": "Property Customer",
                "items": [{"sku": sku, "quantity": q} for sku, q in wanted],
            }
            body = post(given.CREATE_ORDER, {"i": fields}, who)
            known = {sku for sku, _ in self.items}
            expected = "ok" if all(sku in known for sku, _ in wanted) else "BAD_USER_INPUT"
            assert outcome(body) == expected, body
            if expected == "ok":
                placed = body["data"]["createOrder"]
                assert placed["status"] == "PENDING"
                self.orders.append(ModelOrder(placed["id"], wanted, "PENDING", who.role))

        @precondition(lambda self: self.orders)
        @rule(who=staff, pick=st.integers(0, 1000))
        def fulfill(self, who: Account, pick: int) -> None:
            order = self.order(pick, prefer="PENDING")
            body = post(given.FULFILL, {"id": order.id}, who)
            sources = [
                StockSource(
                    sku=sku, item_id=v["id"], bin_id=self.bins[b]["id"], quantity=v["quantity"]
                )
                for (sku, b), v in self.items.items()
            ]
            if order.status != "PENDING":
                assert outcome(body) == "INVALID_TRANSITION", body
                return
            try:
                plan = allocate_picks(order.lines, sources)
            except InsufficientStock as short:
                shorts = short.shorts
            else:
                shorts = {}
            if shorts:
                assert outcome(body) == "INSUFFICIENT_STOCK", body
                message = body["errors"][0]["message"]
                assert all(f"{sku} (short by {n})" in message for sku, n in shorts.items())
                return
            assert outcome(body) == "ok", body
            fulfilled = body["data"]["fulfillOrder"]
            assert fulfilled["status"] == "FULFILLED"
            # The same plan the domain makes from the model: fullest bin first.
            assert [(p["sku"], p["quantity"], p["bin"]["id"]) for p in fulfilled["picks"]] == [
                (p.sku, p.quantity, p.bin_id) for p in plan
            ]
            by_item = {v["id"]: v for v in self.items.values()}
            for p in plan:
                by_item[p.item_id]["quantity"] -= p.quantity
            order.status = "FULFILLED"

        @precondition(lambda self: self.orders)
        @rule(who=st.sampled_from([manager, customer]), pick=st.integers(0, 1000))
        def cancel(self, who: Account, pick: int) -> None:
            order = self.order(pick)
            body = post(given.CANCEL, {"id": order.id}, who)
            if who.role is Role.CUSTOMER and order.owner is not Role.CUSTOMER:
                expected = "NOT_FOUND"  # another user's order is invisible to a customer
            elif order.status == "PENDING":
                expected = "ok"
            else:
                expected = "INVALID_TRANSITION"
            assert outcome(body) == expected, body
            if expected == "ok":
                order.status = "CANCELLED"

        @precondition(lambda self: self.orders)
        @rule(who=staff, pick=st.integers(0, 1000))
        def ship(self, who: Account, pick: int) -> None:
            order = self.order(pick, prefer="FULFILLED")
            fields = {"orderId": order.id, "carrier": "DHL", "trackingNumber": unique("TRK")}
            body = post(given.CREATE_SHIPMENT, {"i": fields}, who)
            shippable = order.status in ("FULFILLED", "SHIPPED")
            assert outcome(body) == ("ok" if shippable else "INVALID_TRANSITION"), body
            if shippable:
                assert body["data"]["createShipment"]["status"] == "IN_TRANSIT"
                order.status = "SHIPPED"

        @invariant()
        def invariants_hold_in_the_database(self) -> None:
            floor.run(
                assert_invariants(
                    db,
                    skus=self.skus,
                    bin_ids=[b["id"] for b in self.bins],
                    order_ids=[o.id for o in self.orders],
                )
            )
            docs = floor.run(db.items.find({"sku": {"$in": self.skus}}).to_list())
            actual = {(d["sku"], str(d["binId"])): d["quantity"] for d in docs}
            expected = {
                (sku, self.bins[b]["id"]): v["quantity"] for (sku, b), v in self.items.items()
            }
            assert actual == expected
            statuses = floor.run(
                db.orders.find({"_id": {"$in": [ObjectId(o.id) for o in self.orders]}}).to_list()
            )
            assert {str(d["_id"]): d["status"] for d in statuses} == {
                o.id: o.status for o in self.orders
            }

    return Warehouse


def test_random_operation_sequences_keep_every_invariant(settings: Settings) -> None:
    own = dataclasses.replace(settings, mongodb_db=f"wgql_prop_{uuid.uuid4().hex[:8]}")
    with floor_in_thread(own) as floor:
        machine = build_machine(floor)
        hypothesis.stateful.run_state_machine_as_test(
            machine,
            settings=hypothesis.settings(
                max_examples=15,
                stateful_step_count=15,
                deadline=None,
                database=None,
                suppress_health_check=[hypothesis.HealthCheck.too_slow],
            ),
        )
        print(
            "\noutcomes over all random runs:",
            ", ".join(f"{k} {n}" for k, n in sorted(floor.seen.items())),
        )
