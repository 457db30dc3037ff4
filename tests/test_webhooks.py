"""Webhooks, managed: register (the secret once), list, delete, the delivery log, the input and
address rules, on both doors. Delivery itself: tests/test_webhook_delivery.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from bson import ObjectId
from standardwebhooks.webhooks import Webhook as Verifier

from tests.accounts import Account
from tests.graphql_client import GraphQLClient
from tests.names import unique
from warehouse_gql.api.http import Resources
from warehouse_gql.domain import webhooks as rules
from warehouse_gql.domain.changes import Change, ChangeEntity, ChangeKind
from warehouse_gql.domain.errors import BadUserInput
from warehouse_gql.domain.webhooks import WebhookEvent
from warehouse_gql.services import webhooks
from warehouse_gql.settings import Settings, SettingsError
from warehouse_gql.store import users

CREATE = """mutation($i: CreateWebhookInput!) {
  createWebhook(input: $i) {
    secret
    webhook { id url events description lowStockThreshold enabled failingSince disabledAt createdAt }
  }
}"""
LIST = "{ webhooks { id url events enabled } }"
DELETE = "mutation($id: ID!) { deleteWebhook(id: $id) }"
DELIVERIES = """query($id: ID!) {
  webhookDeliveries(webhookId: $id) { totalCount edges { node { id } } pageInfo { hasNextPage } }
}"""
# Nothing listens on the discard port: a webhook made here never reaches anyone.
NOWHERE = "http://127.0.0.1:9/hooks"


def auth(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.token}"}


@pytest.fixture(autouse=True)
async def _webhooks_retired_after(resources: Resources) -> AsyncIterator[None]:
    """Webhooks registered here point nowhere: disabled after each test, so the other tests'
    servers (every one runs a delivery worker) do not keep trying them all session."""
    yield
    await resources.db.webhooks.update_many({"enabled": True}, {"$set": {"enabled": False}})


async def stored(resources: Resources, url: str) -> list[dict[str, Any]]:
    return await resources.db.webhooks.find({"url": url}).to_list()


async def test_a_manager_registers_a_webhook_and_sees_its_secret_only_once(
    gql: GraphQLClient, resources: Resources, manager: Account
) -> None:
    url = f"{NOWHERE}/{unique()}"
    data = await gql.ok(
        CREATE,
        {
            "i": {
                "url": url,
                "events": ["ORDER_CREATED", "ITEM_LOW_STOCK", "ORDER_CREATED"],
                "description": "  ERP  ",
                "lowStockThreshold": 5,
            }
        },
        manager.token,
    )
    created = data["createWebhook"]
    secret = created["secret"]
    assert secret.startswith("whsec_")
    Verifier(secret)  # a secret the Standard Webhooks libraries accept
    webhook = created["webhook"]
    assert webhook["url"] == url
    assert webhook["events"] == ["ORDER_CREATED", "ITEM_LOW_STOCK"]
    assert webhook["description"] == "ERP"
    assert webhook["lowStockThreshold"] == 5
    assert webhook["enabled"] is True
    assert webhook["failingSince"] is None
    assert webhook["disabledAt"] is None

    one = await gql.ok(
        "query($id: ID!) { webhook(id: $id) { id url } }", {"id": webhook["id"]}, manager.token
    )
    assert one == {"webhook": {"id": webhook["id"], "url": url}}
    listed = (await gql.ok(LIST, token=manager.token))["webhooks"]
    assert {"id": webhook["id"], "url": url, "events": webhook["events"], "enabled": True} in listed
    # The secret cannot be read back: the type has no such field.
    body = await gql.post("{ webhooks { secret } }", token=manager.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "secret" in body["errors"][0]["message"]
    assert len(await stored(resources, url)) == 1
    await gql.ok(DELETE, {"id": webhook["id"]}, manager.token)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"url": "ftp://example.com/hook"}, "url"),
        ({"url": "example.com/hook"}, "url"),
        ({"url": "http://"}, "url"),
        ({"url": "https://user:pw@example.com/hook"}, "url"),
        ({"url": "http://example.com:99999/"}, "url"),
        ({"url": "https://example.com/" + "x" * 2100}, "url"),
        ({"events": []}, "events"),
        ({"events": ["ITEM_LOW_STOCK"]}, "lowStockThreshold"),
        ({"lowStockThreshold": 3}, "lowStockThreshold"),
        ({"events": ["ITEM_LOW_STOCK"], "lowStockThreshold": -1}, "lowStockThreshold"),
        ({"description": "d" * 501}, "description"),
    ],
)
async def test_bad_webhook_input_is_refused_naming_the_field_and_nothing_is_stored(
    gql: GraphQLClient,
    resources: Resources,
    manager: Account,
    change: dict[str, Any],
    field: str,
) -> None:
    marker = unique("bad")
    given: dict[str, Any] = {"url": f"https://example.com/{marker}", "events": ["ORDER_CREATED"]}
    given.update(change)
    error = await gql.error(CREATE, {"i": given}, manager.token)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert field in error["message"], error
    assert await resources.db.webhooks.count_documents({"description": marker}) == 0
    assert not await stored(resources, given["url"])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",
        "http://224.0.0.1/hook",
    ],
)
async def test_in_production_a_webhook_may_not_call_loopback_private_or_reserved_addresses(
    resources: Resources, manager: Account, url: str
) -> None:
    user = await users.get_user(resources.db, ObjectId(manager.id))
    assert user is not None
    before = await resources.db.webhooks.count_documents({"url": url})
    with pytest.raises(BadUserInput) as refused:
        await webhooks.create_webhook(
            resources.db,
            url=url,
            events=[rules.WebhookEvent.ORDER_CREATED],
            description=None,
            low_stock_threshold=None,
            production=True,
            by=user,
        )
    assert refused.value.code == "BAD_USER_INPUT"
    assert "public addresses" in refused.value.message or "resolve" in refused.value.message
    assert await resources.db.webhooks.count_documents({"url": url}) == before


async def test_in_production_a_public_address_is_accepted(
    resources: Resources, manager: Account
) -> None:
    await webhooks.check_target("https://93.184.216.34/hook", production=True)
    await webhooks.check_target("http://[2606:4700:4700::1111]/hook", production=True)


def test_the_address_rule_refuses_every_non_public_range() -> None:
    for address in [
        "127.0.0.1",
        "10.0.0.1",
        "::1",
        "fe80::1%eth0",
        "169.254.1.1",
        "::",
        "240.0.0.1",
    ]:
        assert rules.refused_address(address), address
    for address in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"]:
        assert not rules.refused_address(address), address


async def test_outside_production_a_webhook_may_call_loopback(
    gql: GraphQLClient, manager: Account
) -> None:
    data = await gql.ok(
        CREATE, {"i": {"url": f"{NOWHERE}/{unique()}", "events": ["ORDER_CREATED"]}}, manager.token
    )
    await gql.ok(DELETE, {"id": data["createWebhook"]["webhook"]["id"]}, manager.token)


async def test_deleting_a_webhook_removes_it_and_its_log_and_a_second_delete_is_not_found(
    gql: GraphQLClient, resources: Resources, manager: Account
) -> None:
    url = f"{NOWHERE}/{unique()}"
    data = await gql.ok(CREATE, {"i": {"url": url, "events": ["ORDER_CREATED"]}}, manager.token)
    webhook_id = data["createWebhook"]["webhook"]["id"]
    log = (await gql.ok(DELIVERIES, {"id": webhook_id}, manager.token))["webhookDeliveries"]
    assert log == {"totalCount": 0, "edges": [], "pageInfo": {"hasNextPage": False}}

    assert (await gql.ok(DELETE, {"id": webhook_id}, manager.token)) == {
        "deleteWebhook": webhook_id
    }
    assert not await stored(resources, url)
    assert (
        await resources.db.webhook_deliveries.count_documents({"webhookId": ObjectId(webhook_id)})
        == 0
    )
    assert await gql.code(DELETE, {"id": webhook_id}, manager.token) == "NOT_FOUND"
    assert await gql.code(DELETE, {"id": "nonsense"}, manager.token) == "NOT_FOUND"
    assert await gql.code(DELIVERIES, {"id": webhook_id}, manager.token) == "NOT_FOUND"
    gone = await gql.ok(
        "query($id: ID!) { webhook(id: $id) { id } }", {"id": webhook_id}, manager.token
    )
    assert gone == {"webhook": None}


async def test_only_managers_manage_webhooks_on_both_doors(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    resources: Resources,
    manager: Account,
    picker: Account,
    customer: Account,
) -> None:
    url = f"{NOWHERE}/{unique()}"
    data = await gql.ok(CREATE, {"i": {"url": url, "events": ["ORDER_CREATED"]}}, manager.token)
    webhook_id = data["createWebhook"]["webhook"]["id"]
    for account in (picker, customer):
        for query, variables in [
            (CREATE, {"i": {"url": f"{url}-2", "events": ["ORDER_CREATED"]}}),
            (LIST, {}),
            (DELETE, {"id": webhook_id}),
            (DELIVERIES, {"id": webhook_id}),
        ]:
            assert await gql.code(query, variables, account.token) == "FORBIDDEN"
        for method, path in [
            ("GET", "/api/v1/webhooks"),
            ("GET", f"/api/v1/webhooks/{webhook_id}"),
            ("DELETE", f"/api/v1/webhooks/{webhook_id}"),
            ("GET", f"/api/v1/webhooks/{webhook_id}/deliveries"),
        ]:
            response = await http.request(method, path, headers=auth(account))
            assert response.status_code == 403, response.text
            assert response.json()["code"] == "FORBIDDEN"
        response = await http.post(
            "/api/v1/webhooks",
            json={"url": f"{url}-3", "events": ["ORDER_CREATED"]},
            headers=auth(account),
        )
        assert response.status_code == 403
    assert await gql.code(LIST) == "UNAUTHENTICATED"
    assert (await http.get("/api/v1/webhooks")).status_code == 401
    assert len(await stored(resources, url)) == 1
    assert not await stored(resources, f"{url}-2")
    assert not await stored(resources, f"{url}-3")
    await gql.ok(DELETE, {"id": webhook_id}, manager.token)


async def test_webhooks_over_rest_are_created_listed_read_logged_and_deleted(
    http: httpx.AsyncClient, resources: Resources, manager: Account
) -> None:
    url = f"{NOWHERE}/{unique()}"
    response = await http.post(
        "/api/v1/webhooks",
        json={
            "url": url,
            "events": ["SHIPMENT_DELIVERED", "ITEM_LOW_STOCK"],
            "lowStockThreshold": 2,
        },
        headers=auth(manager),
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["secret"].startswith("whsec_")
    webhook = created["webhook"]
    assert webhook["events"] == ["SHIPMENT_DELIVERED", "ITEM_LOW_STOCK"]
    assert response.headers["location"] == f"/api/v1/webhooks/{webhook['id']}"

    read = await http.get(response.headers["location"], headers=auth(manager))
    assert read.status_code == 200
    assert read.json() == webhook
    listed = (await http.get("/api/v1/webhooks", headers=auth(manager))).json()
    assert webhook in listed["data"]
    assert listed["nextCursor"] is None
    assert "secret" not in str(listed)
    log = await http.get(f"/api/v1/webhooks/{webhook['id']}/deliveries", headers=auth(manager))
    assert log.status_code == 200
    assert log.json() == {"data": [], "nextCursor": None, "totalCount": 0}

    bad = await http.post(
        "/api/v1/webhooks", json={"url": "gopher://x", "events": ["NO_SUCH"]}, headers=auth(manager)
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "BAD_USER_INPUT"
    bad = await http.post(
        "/api/v1/webhooks",
        json={"url": "gopher://x", "events": ["ORDER_CREATED"]},
        headers=auth(manager),
    )
    assert bad.status_code == 422
    assert "url" in bad.json()["detail"]

    assert read.headers["etag"] == response.headers["etag"] == '"r1"'
    stale = await http.delete(
        f"/api/v1/webhooks/{webhook['id']}", headers={**auth(manager), "If-Match": '"r0"'}
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "PRECONDITION_FAILED"
    assert len(await stored(resources, url)) == 1
    gone = await http.delete(
        f"/api/v1/webhooks/{webhook['id']}",
        headers={**auth(manager), "If-Match": read.headers["etag"]},
    )
    assert gone.status_code == 204
    assert (await http.get(response.headers["location"], headers=auth(manager))).status_code == 404
    again = await http.delete(f"/api/v1/webhooks/{webhook['id']}", headers=auth(manager))
    assert again.status_code == 404
    assert again.json()["code"] == "NOT_FOUND"
    assert not await stored(resources, url)


def test_the_default_backoff_retries_first_within_ten_seconds_doubling_to_an_hour() -> None:
    policy = rules.RetryPolicy()
    delays = [policy.delay(n) for n in range(1, 14)]
    assert delays[0] == timedelta(seconds=5)
    assert delays[:4] == [timedelta(seconds=s) for s in (5, 10, 20, 40)]
    assert max(delays) == delays[-1] == timedelta(hours=1)
    # Over the 24 hours before giving up, an endpoint is tried about thirty times.
    total, attempts = timedelta(0), 0
    while total < policy.give_up:
        attempts += 1
        total += policy.delay(attempts)
    assert 25 <= attempts <= 35
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert not policy.gives_up(start, start + timedelta(hours=23, minutes=59))
    assert policy.gives_up(start, start + timedelta(hours=24))


def test_webhook_settings_keep_the_first_retry_and_the_attempt_within_ten_seconds() -> None:
    assert Settings.from_env({}).webhook_retry_first_s == 5.0
    assert Settings.from_env({"WEBHOOK_RETRY_FIRST_S": "0.5"}).webhook_retry_first_s == 0.5
    for name in ("WEBHOOK_RETRY_FIRST_S", "WEBHOOK_TIMEOUT_S"):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: "11"})


def _change(entity: ChangeEntity, kind: ChangeKind, data: dict[str, Any], seq: int = 7) -> Change:
    return Change(
        seq=seq,
        entity=entity,
        id="abc",
        kind=kind,
        revision=2,
        at=datetime(2026, 1, 1, tzinfo=UTC),
        data=data,
    )


def test_which_changes_are_which_events() -> None:
    def event(entity: ChangeEntity, kind: ChangeKind, **data: Any) -> WebhookEvent | None:
        return rules.event_of(_change(entity, kind, data), threshold=5)

    order, shipment, item = ChangeEntity.ORDER, ChangeEntity.SHIPMENT, ChangeEntity.ITEM
    created, updated, deleted = ChangeKind.CREATED, ChangeKind.UPDATED, ChangeKind.DELETED
    assert event(order, created, status="PENDING") is WebhookEvent.ORDER_CREATED
    assert event(order, updated, status="FULFILLED") is WebhookEvent.ORDER_FULFILLED
    assert event(order, updated, status="CANCELLED") is WebhookEvent.ORDER_CANCELLED
    assert event(order, updated, status="SHIPPED") is None
    assert event(order, deleted, status="PENDING") is None
    assert event(shipment, created, status="IN_TRANSIT") is WebhookEvent.SHIPMENT_CREATED
    assert event(shipment, updated, status="DELIVERED") is WebhookEvent.SHIPMENT_DELIVERED
    assert event(shipment, updated, status="IN_TRANSIT") is None
    assert event(ChangeEntity.BIN, updated, currentLoad=1) is None
    low = WebhookEvent.ITEM_LOW_STOCK
    assert event(item, created, quantity=5, previousQuantity=None) is low
    assert event(item, created, quantity=6, previousQuantity=None) is None
    assert event(item, updated, quantity=5, previousQuantity=6) is low
    assert event(item, updated, quantity=0, previousQuantity=100) is low
    assert event(item, updated, quantity=4, previousQuantity=5) is None
    assert event(item, updated, quantity=9, previousQuantity=2) is None
    assert event(item, deleted, quantity=0, previousQuantity=9) is None
    # Without a threshold (the webhook did not ask for low stock) items are never events.
    assert rules.event_of(_change(item, updated, {"quantity": 0}), threshold=None) is None


def test_a_message_id_names_the_document_for_once_only_events_and_the_change_for_low_stock() -> (
    None
):
    change = _change(ChangeEntity.ORDER, ChangeKind.UPDATED, {"status": "FULFILLED"}, seq=9)
    later = _change(ChangeEntity.ORDER, ChangeKind.UPDATED, {"status": "FULFILLED"}, seq=12)
    fulfilled = WebhookEvent.ORDER_FULFILLED
    assert rules.message_id("w1", fulfilled, change) == rules.message_id("w1", fulfilled, later)
    assert rules.message_id("w1", fulfilled, change) != rules.message_id("w2", fulfilled, change)
    low = WebhookEvent.ITEM_LOW_STOCK
    assert rules.message_id("w1", low, change) != rules.message_id("w1", low, later)
