"""The one mechanism that applies the permission matrix of domain/access.py to resolvers."""

from __future__ import annotations

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.domain import access
from warehouse_gql.domain.errors import Forbidden, Unauthenticated
from warehouse_gql.domain.models import User


async def authorize(info: Info, operation: str) -> User:
    """The caller, if the matrix lets their role use `operation`; else UNAUTHENTICATED/FORBIDDEN."""
    user = await info.context.user()
    if user is None:
        raise Unauthenticated()
    if not access.allowed(operation, user.role):
        # The message names the field the caller asked for, never the matrix's internal key
        # (several fields share "readStock").
        raise Forbidden(info.field_name, user.role.value)
    return user
