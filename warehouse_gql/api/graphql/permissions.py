"""Resolvers ask api/http.authorize, the one function every door uses for the matrix."""

from __future__ import annotations

from warehouse_gql.api import http
from warehouse_gql.api.graphql.context import Info
from warehouse_gql.domain.models import User


async def authorize(info: Info, operation: str) -> User:
    """The caller, if the matrix lets their role use `operation`; else UNAUTHENTICATED/FORBIDDEN."""
    return http.authorize(await info.context.user(), operation, name=info.field_name)
