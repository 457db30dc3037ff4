"""Changes as GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from warehouse_gql.api.graphql.pagination import PageInfo
from warehouse_gql.domain import changes
from warehouse_gql.domain.changes import ChangeKind

__all__ = ["Change", "ChangeConnection", "ChangeEdge", "ChangeKind"]

# Registered here, once, for every type that carries a kind (events and changes).
strawberry.enum(ChangeKind, description="What happened to a record.")
strawberry.enum(changes.ChangeEntity, description="The kinds of record the change feed carries.")


@strawberry.type(
    description="One committed change of a record: its state after the change (the last "
    "state when DELETED), with the GraphQL field names."
)
class Change:
    cursor: str = strawberry.field(description="Its place in commit order; opaque.")
    entity: changes.ChangeEntity
    id: strawberry.ID = strawberry.field(description="The changed record's id.")
    kind: ChangeKind
    revision: int = strawberry.field(description="Counts that record's committed writes.")
    at: datetime = strawberry.field(description="When it was written.")
    data: JSON

    @classmethod
    def from_model(cls, change: changes.Change) -> Change:
        return cls(
            cursor=change.cursor,
            entity=change.entity,
            id=strawberry.ID(change.id),
            kind=change.kind,
            revision=change.revision,
            at=change.at,
            data=JSON(change.data),
        )


@strawberry.type(description="One change of a page and its cursor.")
class ChangeEdge:
    cursor: str
    node: Change


@strawberry.type(
    description="A page of the change feed in commit order; pass pageInfo.endCursor as `after` "
    "for the next (also when it has no edges: it moved past changes you may not see)."
)
class ChangeConnection:
    edges: list[ChangeEdge]
    page_info: PageInfo
