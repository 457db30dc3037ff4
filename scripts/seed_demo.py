"""Fill a running warehouse-gql server with a small demo floor, through the GraphQL API.

    python scripts/seed_demo.py --url http://127.0.0.1:8000/graphql --username boss --password ...

Needs a MANAGER account (see `warehouse-gql create-user`). Safe to run twice: existing bins
and items are reported as conflicts and left alone.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import httpx

AISLES = ("A", "B", "C")
RACKS = 4
SKUS = {
    "WID-BLUE": "Blue widget",
    "WID-RED": "Red widget",
    "GIZ-SMALL": "Small gizmo",
    "GIZ-LARGE": "Large gizmo",
}


@dataclass
class Api:
    client: httpx.Client
    url: str

    def call(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.client.post(self.url, json={"query": query, "variables": variables or {}})
        body: dict[str, Any] = response.json()
        for error in body.get("errors") or ():
            code = error.get("extensions", {}).get("code")
            if code != "CONFLICT":
                raise SystemExit(f"seed_demo: {error['message']} ({code})")
            print(f"  skipped: {error['message']}")
        return body.get("data") or {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/graphql")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()

    with httpx.Client(timeout=30) as client:
        api = Api(client, args.url)
        login = api.call(
            "mutation($u: String!, $p: String!) { logIn(username: $u, password: $p) { token } }",
            {"u": args.username, "p": args.password},
        )
        client.headers["Authorization"] = f"Bearer {login['logIn']['token']}"
        bins: list[str] = []
        for aisle in AISLES:
            for rack in range(1, RACKS + 1):
                data = api.call(
                    "mutation($i: CreateBinInput!) { createBin(input: $i) { id location } }",
                    {"i": {"location": f"{aisle}-{rack:02d}-1", "capacity": 500}},
                )
                if data.get("createBin"):
                    bins.append(data["createBin"]["id"])
        print(f"created {len(bins)} bins")
        for n, (sku, name) in enumerate(SKUS.items()):
            for bin_id in bins[n :: len(SKUS)]:
                api.call(
                    "mutation($i: CreateItemInput!) { createItem(input: $i) { id } }",
                    {"i": {"name": name, "sku": sku, "binId": bin_id, "quantity": 40 + 10 * n}},
                )
        order = api.call(
            "mutation($i: CreateOrderInput!) { createOrder(input: $i) { id status } }",
            {
                "i": {
                    "customerName": "Demo customer",
                    "items": [
                        {"sku": "WID-BLUE", "quantity": 50},
                        {"sku": "GIZ-SMALL", "quantity": 5},
                    ],
                    "idempotencyKey": "seed-demo-order",
                }
            },
        )
        print(f"order {order['createOrder']['id']} is {order['createOrder']['status']}")


if __name__ == "__main__":
    main()
