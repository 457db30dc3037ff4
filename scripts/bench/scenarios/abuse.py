"""abuse: /healthz latency (one probe at a time) while an attack runs, on a server with the
limits switched off by settings ("before") and one with the defaults ("after"): the nested
query of issue 12 in one loop, then a flood of 240 parallel logIns (argon2) in waves."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import random
from collections.abc import Awaitable, Callable
from pathlib import Path

from .. import launcher
from ..load import Bench, Operation, RawHttp, Result

NAME = "abuse"
DEFAULT = False

NESTED = "{ bins(first:100){ edges{ node{ items{ bin{ items{ bin{ items{ id }}}}}}}}}"
LOG_IN = 'mutation { logIn(username: "intruder", password: "not the password") { token } }'
FLOOD = 240
# Off as far as the settings allow: the largest cost, depth and deadline, no auth limit.
BEFORE = {
    "MAX_QUERY_COST": str(10**12),
    "MAX_QUERY_DEPTH": "1000",
    "AUTH_RATE_LIMIT": "0",
    "REQUEST_TIMEOUT_S": "3600",
}
# The defaults; the bench's launcher lifts the point budget for its other scenarios.
AFTER = {"RATE_LIMIT_POINTS": "1000000"}


def probe(http: RawHttp) -> Operation:
    async def op(rng: random.Random) -> int:
        status, _ = await http.get("/healthz")
        if status != 200:
            raise RuntimeError(f"/healthz answered {status}")
        return 1

    return op


async def code_of(http: RawHttp, query: str, token: str | None) -> str:
    http.authorization = f"Authorization: Bearer {token}\r\n" if token else ""
    status, body = await http.post(json.dumps({"query": query}).encode())
    errors = json.loads(body).get("errors") or []
    return str(errors[0].get("extensions", {}).get("code")) if errors else f"OK {status}"


async def nested(url: str, token: str, codes: collections.Counter[str]) -> None:
    http = RawHttp(url)
    try:
        codes[await code_of(http, NESTED, token)] += 1
    finally:
        http.close()  # cancelled mid-query: the server cancels it too


async def flood(url: str, codes: collections.Counter[str]) -> None:
    clients = [RawHttp(url) for _ in range(FLOOD)]
    try:
        for code in await asyncio.gather(*(code_of(c, LOG_IN, None) for c in clients)):
            codes[code] += 1
    finally:
        for client in clients:
            client.close()


async def during(
    bench: Bench, name: str, srv: launcher.Server, attack: Callable[[], Awaitable[None]]
) -> Result:
    """/healthz probed while `attack` runs in a loop; the attack is cancelled at the end."""

    async def repeat() -> None:
        while True:
            await attack()

    attacker = asyncio.create_task(repeat())
    http = RawHttp(srv.url)
    try:
        result = await bench.drive(name, probe(http), 1)
    finally:
        attacker.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await attacker
        http.close()
    return result


async def run(bench: Bench) -> list[Result]:
    results = []
    for label, settings in (("before", BEFORE), ("after", AFTER)):
        with launcher.server(
            bench.mongodb_url,
            bench.redis_url,
            bench.db_name,
            Path(bench.server_log),
            bench.source,
            settings,
        ) as srv:
            codes: collections.Counter[str] = collections.Counter()
            http = RawHttp(srv.url)
            results.append(await bench.drive(f"{NAME} idle [{label}]", probe(http), 1))
            http.close()
            attacks = (
                ("nested", functools.partial(nested, srv.url, bench.token, codes)),
                ("login flood", functools.partial(flood, srv.url, codes)),
            )
            for attack_name, attack in attacks:
                codes.clear()
                result = await during(bench, f"{NAME} {attack_name} [{label}]", srv, attack)
                result.extra["attack_answers"] = dict(codes)
                result.rss_mb = srv.rss_mb()
                results.append(result)
    return results
