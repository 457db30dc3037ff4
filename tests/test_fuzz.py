"""Property-based fuzzing over the live schema (hypothesis-graphql): whatever a client sends,
valid or off by one schema violation, the answer is never INTERNAL_SERVER_ERROR and every
error carries one of the SPEC's codes."""

from __future__ import annotations

import asyncio
from typing import Any

import graphql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, queries

from tests.accounts import make_account
from tests.graphql_client import GraphQLClient
from warehouse_gql.api.graphql.schema import build_schema
from warehouse_gql.api.http import Resources
from warehouse_gql.domain.access import Role
from warehouse_gql.domain.errors import CODES

SCHEMA = build_schema()._schema
EXPECTED = set(CODES) - {"INTERNAL_SERVER_ERROR"}
DATETIME = {"DateTime": st.just(graphql.StringValueNode(value="2026-01-01T00:00:00+00:00"))}
# logOut would end the fuzzing session itself; everything else may run.
MUTATIONS = [name for name in SCHEMA.mutation_type.fields if name != "logOut"]  # type: ignore[union-attr]
EXAMPLES = 50


def check(body: dict[str, Any], query: str) -> None:
    for error in body.get("errors", []):
        code = (error.get("extensions") or {}).get("code")
        assert code in EXPECTED, f"{code} for {query!r}: {error}"


async def fuzz(gql: GraphQLClient, token: str, strategy: st.SearchStrategy[object]) -> None:
    loop = asyncio.get_running_loop()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(query: object) -> None:
        text = str(query)
        body = asyncio.run_coroutine_threadsafe(gql.post(text, token=token), loop).result(30)
        check(body, text)

    # Hypothesis drives its examples synchronously: it runs in a thread and hands each request
    # to the test's event loop, where the app lives.
    await asyncio.to_thread(run)


@pytest.fixture(scope="module")
async def fuzzer(resources: Resources) -> str:
    return (await make_account(resources, Role.MANAGER)).token


@pytest.mark.parametrize("mode", [Mode.POSITIVE, Mode.NEGATIVE])
async def test_fuzzed_queries_never_fail_unexpectedly(
    gql: GraphQLClient, fuzzer: str, mode: Mode
) -> None:
    await fuzz(gql, fuzzer, queries(SCHEMA, custom_scalars=DATETIME, mode=mode))


@pytest.mark.parametrize("mode", [Mode.POSITIVE, Mode.NEGATIVE])
async def test_fuzzed_mutations_never_fail_unexpectedly(
    gql: GraphQLClient, fuzzer: str, mode: Mode
) -> None:
    await fuzz(gql, fuzzer, mutations(SCHEMA, fields=MUTATIONS, custom_scalars=DATETIME, mode=mode))
