"""ObjectId <-> GraphQL ID, in one place: outside store/ ids are strings, or a `DocumentId`
handed back to the store unopened."""

from __future__ import annotations

from collections.abc import Iterable

from bson import ObjectId
from bson.errors import InvalidId

from warehouse_gql.domain.errors import NotFound

# The id type of stored documents, for signatures outside store/ that pass one along.
DocumentId = ObjectId


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


def known_id(value: str) -> ObjectId:
    """An id read from a stored record (never from a client), so always well-formed."""
    return ObjectId(value)


def known_ids(values: Iterable[str]) -> list[ObjectId]:
    return [ObjectId(v) for v in values]


def to_id(oid: ObjectId) -> str:
    return str(oid)
