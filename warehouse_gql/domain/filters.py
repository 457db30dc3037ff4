"""Record filters as data: what a query or a live subscription asks for, in our field names.

A door translates its own query language (Parse's `where`) into a tuple of `Condition`s; the
store turns them into a database filter, and `matches` evaluates the same conditions on a record
in memory (live queries decide enter/update/leave with it). One meaning for both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Op(str, Enum):
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    IN = "in"
    NIN = "nin"
    EXISTS = "exists"
    PREFIX = "prefix"


@dataclass(frozen=True, slots=True)
class Condition:
    """`field op value`: ids are hex strings, times aware datetimes, statuses enum values."""

    field: str
    op: Op
    value: Any


@dataclass(frozen=True, slots=True)
class Sort:
    field: str
    descending: bool = False


Filter = tuple[Condition, ...]


def _compare(op: Op, have: Any, want: Any) -> bool:
    # Ordering between a missing value or values of different types never matches, as in MongoDB.
    if have is None or want is None:
        return False
    try:
        if op is Op.LT:
            return bool(have < want)
        if op is Op.LTE:
            return bool(have <= want)
        if op is Op.GT:
            return bool(have > want)
        return bool(have >= want)
    except TypeError:
        return False


def holds(condition: Condition, record: Mapping[str, Any]) -> bool:
    have = record.get(condition.field)
    op, want = condition.op, condition.value
    if op is Op.EQ:
        return bool(have == want)
    if op is Op.NE:
        return bool(have != want)
    if op is Op.IN:
        return have in want
    if op is Op.NIN:
        return have not in want
    if op is Op.EXISTS:
        return (have is not None) is bool(want)
    if op is Op.PREFIX:
        return isinstance(have, str) and have.startswith(want)
    return _compare(op, have, want)


def matches(conditions: Sequence[Condition], record: Mapping[str, Any]) -> bool:
    """Whether a record (field name -> value) satisfies every condition."""
    return all(holds(c, record) for c in conditions)


def fields_of(conditions: Sequence[Condition]) -> frozenset[str]:
    return frozenset(c.field for c in conditions)
