"""Lost-update protection: a change applies only to the version of a record its client read.

Every record has a version tag that changes with every committed change of it: a bin's
`version`, an item's, order's or shipment's `revision`, and for users (which count no
revision) their `updatedAt` in milliseconds. HTTP doors send it as the `ETag` and take it back
as `If-Match`; a service checks it inside the transaction that writes, so a change committed by
someone else after the client's read makes the write fail instead of overwriting it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from warehouse_gql.domain.errors import PreconditionFailed
from warehouse_gql.domain.models import Bin, Item, Order, Shipment, User
from warehouse_gql.domain.webhooks import Webhook

Versioned = Bin | Item | Order | Shipment | User | Webhook
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def version_tag(record: Versioned) -> str:
    """The tag of this state of the record: equal tags mean the same committed state."""
    if isinstance(record, Bin):
        return f"v{record.version}"
    if isinstance(record, Webhook):
        return f"r{record.revision}"
    # Records that count their committed writes; the others (today orders and users) are
    # tagged by their last write's time, at the stored millisecond precision.
    revision = getattr(record, "revision", None)
    if isinstance(revision, int):
        return f"r{revision}"
    return f"t{(record.updated_at - _EPOCH) // timedelta(milliseconds=1)}"


@dataclass(frozen=True, slots=True)
class Precondition:
    """The tags a client will accept (`*`: any existing state)."""

    tags: frozenset[str]

    def check(self, record: Versioned) -> None:
        if "*" not in self.tags and version_tag(record) not in self.tags:
            raise PreconditionFailed()


def check(precondition: Precondition | None, record: Versioned) -> None:
    """Raise PRECONDITION_FAILED when a precondition was given and `record` no longer matches."""
    if precondition is not None:
        precondition.check(record)
