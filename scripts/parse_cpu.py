"""Server CPU per request: a /parse object GET with include=bin against the GraphQL equivalent.

    .venv/bin/python scripts/parse_cpu.py [--requests 500]

Starts its own SecantusDB and one server process, makes a manager, a bin and an item, then sends
the same read both ways on one keep-alive connection and reads the server process's CPU time
(user + system, from /proc) around each run. Prints the median of three runs per door and the
ratio /parse : GraphQL.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from warehouse_gql.embedded import free_port, start_secantus, stop

ITEM = "query($id: ID!) { item(id: $id) { id name sku quantity createdAt updatedAt bin { id location capacity currentLoad createdAt updatedAt } } }"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def gql(client: httpx.Client, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"} if token else {},
    ).json()
    assert not answer.get("errors"), answer
    data: dict[str, Any] = answer["data"]
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    storage = Path(tempfile.mkdtemp(prefix="parse-cpu-"))
    db, url = start_secantus(storage, storage.parent / f"{storage.name}.log")
    port = free_port()
    env = os.environ | {
        "MONGODB_URL": url,
        "MONGODB_DB": "parse_cpu",
        "WAREHOUSE_PASSWORD": "pw-for-bench",
    }
    exe = str(Path(sys.executable).with_name("warehouse-gql"))
    subprocess.run(
        [
            exe,
            "create-user",
            "--username",
            "bench",
            "--email",
            "b@example.com",
            "--role",
            "MANAGER",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "warehouse_gql.app:app_from_env",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env | {"LOG_FORMAT": "text"},
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(600):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            login = gql(
                client,
                "",
                'mutation { logIn(username: "bench", password: "pw-for-bench") { token } }',
                {},
            )
            token = str(login["logIn"]["token"])
            b = gql(
                client,
                token,
                "mutation($i: CreateBinInput!) { createBin(input: $i) { id } }",
                {"i": {"location": "A-01-1", "capacity": 500}},
            )
            item = gql(
                client,
                token,
                "mutation($i: CreateItemInput!) { createItem(input: $i) { id } }",
                {
                    "i": {
                        "name": "Bolt",
                        "sku": f"SKU-{uuid.uuid4().hex[:6]}",
                        "binId": b["createBin"]["id"],
                        "quantity": 5,
                    }
                },
            )
            item_id = str(item["createItem"]["id"])
            parse_headers = {
                "X-Parse-Application-Id": "warehouse",
                "X-Parse-Session-Token": f"r:{token}",
            }

            def graphql_read() -> None:
                gql(client, token, ITEM, {"id": item_id})

            def parse_read() -> None:
                answer = client.get(
                    f"/parse/classes/Item/{item_id}",
                    params={"include": "bin"},
                    headers=parse_headers,
                )
                assert answer.status_code == 200, answer.text

            results: dict[str, list[float]] = {"graphql": [], "parse": []}
            for _ in range(3):
                for name, read in (("graphql", graphql_read), ("parse", parse_read)):
                    for _ in range(20):
                        read()  # warm up
                    before = cpu_seconds(server.pid)
                    for _ in range(args.requests):
                        read()
                    spent = cpu_seconds(server.pid) - before
                    results[name].append(spent / args.requests * 1e6)
        graphql_us = statistics.median(results["graphql"])
        parse_us = statistics.median(results["parse"])
        print(
            f"GraphQL item+bin: {graphql_us:.0f} us server CPU per request (runs {results['graphql']})"
        )
        print(
            f"/parse  Item?include=bin: {parse_us:.0f} us server CPU per request (runs {results['parse']})"
        )
        print(f"ratio /parse : GraphQL = {parse_us / graphql_us:.2f}")
    finally:
        server.terminate()
        server.wait(15)
        stop(db)
        shutil.rmtree(storage, ignore_errors=True)


if __name__ == "__main__":
    main()
