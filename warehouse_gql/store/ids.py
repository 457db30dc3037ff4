"""ObjectId <-> GraphQL ID, in one place."""

from __future__ import annotations

from bson import ObjectId
from bson.errors import InvalidId

from warehouse_gql.domain.errors import NotFound


def parse_id(value: str | None) -> ObjectId | None:
    """The ObjectId for a client-supplied id, or None when it is not one."""
    if value is None:
        return None
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


def require_id(value: str, kind: str) -> ObjectId:
    """For mutations: a malformed id names nothing, so it is NOT_FOUND like an unknown one."""
    oid = parse_id(value)
    if oid is None:
        raise NotFound(kind, value)
    return oid


def to_id(oid: ObjectId) -> str:
    return str(oid)
