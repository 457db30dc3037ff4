"""Parse query parameters -> `domain.filters` conditions: `where`, `order`, `keys`, `include`,
`limit`, `skip`, `count`. Anything we do not serve is a 102 naming it, never ignored."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from warehouse_gql.api.parse.errors import invalid_query
from warehouse_gql.domain.filters import Condition, Op, Sort

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

_COMPARISONS = {
    "$lt": Op.LT,
    "$lte": Op.LTE,
    "$gt": Op.GT,
    "$gte": Op.GTE,
    "$ne": Op.NE,
}


@dataclass(frozen=True)
class Field:
    """One queryable Parse field: our attribute and how a Parse value becomes ours."""

    attribute: str
    convert: Callable[[str, Any], Any]
    # Only strings take `$regex` (the SDK's startsWith).
    text: bool = False
    sortable: bool = True


@dataclass(frozen=True)
class Query:
    conditions: tuple[Condition, ...] = ()
    order: tuple[Sort, ...] = ()
    limit: int = DEFAULT_LIMIT
    skip: int = 0
    keys: frozenset[str] | None = None
    include: frozenset[str] = field(default_factory=frozenset)
    count: bool = False


def _json(name: str, value: Any) -> Any:
    if isinstance(value, str) and name in {"where"}:
        try:
            return json.loads(value)
        except ValueError:
            raise invalid_query(f"{name} is not valid JSON.") from None
    return value


# Value converters: (field name, Parse value) -> our value, or a 102 naming the field.


def text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise invalid_query(f"{name} takes a string, got {json.dumps(value)}.")
    return value


def number(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise invalid_query(f"{name} takes a whole number, got {json.dumps(value)}.")
    return int(value)


def date(name: str, value: Any) -> datetime:
    iso = value.get("iso") if isinstance(value, dict) and value.get("__type") == "Date" else value
    if isinstance(iso, str):
        try:
            parsed = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise invalid_query(f"{name} takes a Date, got {json.dumps(value)}.")


def pointer(class_name: str) -> Callable[[str, Any], str]:
    def convert(name: str, value: Any) -> str:
        if (
            isinstance(value, dict)
            and value.get("__type") == "Pointer"
            and value.get("className") == class_name
            and isinstance(value.get("objectId"), str)
        ):
            return str(value["objectId"])
        raise invalid_query(f"{name} takes a Pointer to {class_name}.")

    return convert


def word(words: Mapping[str, str]) -> Callable[[str, Any], str]:
    """A status or role: the template's words or our enum spellings, case-insensitive."""

    def convert(name: str, value: Any) -> str:
        if isinstance(value, str):
            found = words.get(value.strip().upper().replace(" ", "_"))
            if found is not None:
                return found
        raise invalid_query(f"{name} has no value {json.dumps(value)}.")

    return convert


def _prefix(name: str, pattern: Any, options: Any) -> str:
    """The SDK's startsWith: `^\\Q<text>\\E`, with `\\E` inside written `\\E\\\\E\\Q`."""
    if options not in (None, ""):
        raise invalid_query(f"$options on {name} is not supported.")
    if isinstance(pattern, str) and pattern.startswith("^\\Q") and pattern.endswith("\\E"):
        pieces = pattern[3:-2].split("\\E\\\\E\\Q")
        if not any("\\E" in piece for piece in pieces):
            return "\\E".join(pieces)
    raise invalid_query(
        f"$regex on {name} is only served as a prefix (startsWith), not {json.dumps(pattern)}."
    )


def _constraint(name: str, spec: Field, value: Any) -> list[Condition]:
    attr = spec.attribute
    is_operators = isinstance(value, dict) and any(k.startswith("$") for k in value)
    if not is_operators:
        return [Condition(attr, Op.EQ, spec.convert(name, value))]
    conditions: list[Condition] = []
    for op, operand in value.items():
        if op in _COMPARISONS:
            conditions.append(Condition(attr, _COMPARISONS[op], spec.convert(name, operand)))
        elif op in ("$in", "$nin"):
            if not isinstance(operand, list):
                raise invalid_query(f"{op} on {name} takes an array.")
            values = tuple(spec.convert(name, v) for v in operand)
            conditions.append(Condition(attr, Op.IN if op == "$in" else Op.NIN, values))
        elif op == "$exists":
            if not isinstance(operand, bool):
                raise invalid_query(f"$exists on {name} takes true or false.")
            conditions.append(Condition(attr, Op.EXISTS, operand))
        elif op == "$regex" and spec.text:
            conditions.append(
                Condition(attr, Op.PREFIX, _prefix(name, operand, value.get("$options")))
            )
        elif op == "$options" and "$regex" in value:
            continue
        else:
            raise invalid_query(f"The operator {op} (on {name}) is not supported.")
    return conditions


def parse_where(where: Any, fields: Mapping[str, Field]) -> tuple[Condition, ...]:
    where = _json("where", where)
    if where is None:
        return ()
    if not isinstance(where, dict):
        raise invalid_query("where must be a JSON object.")
    conditions: list[Condition] = []
    for name, value in where.items():
        if name.startswith("$"):
            raise invalid_query(f"The operator {name} is not supported.")
        spec = fields.get(name)
        if spec is None:
            raise invalid_query(f"where on {name} is not supported.")
        conditions.extend(_constraint(name, spec, value))
    return tuple(conditions)


def _list(name: str, value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise invalid_query(f"{name} must be a comma-separated list of field names.")


def _whole(name: str, value: Any, default: int, maximum: int) -> int:
    if value is None or value == "":
        return default
    try:
        parsed = int(value)
    except (TypeError, ValueError):
        raise invalid_query(f"{name} must be a whole number, got {json.dumps(value)}.") from None
    if parsed < 0:
        raise invalid_query(f"{name} must not be negative.")
    return min(parsed, maximum)


def parse_query(
    params: Mapping[str, Any], fields: Mapping[str, Field], includes: frozenset[str]
) -> Query:
    """A query's parameters (from the query string or a JS SDK body) as a Query."""
    known = {"where", "order", "limit", "skip", "keys", "include", "count", "excludeKeys"}
    for name in params:
        if name not in known:
            raise invalid_query(f"The query parameter {name} is not supported.")
    if params.get("excludeKeys"):
        raise invalid_query("excludeKeys is not supported; use keys.")
    order: list[Sort] = []
    for key in _list("order", params.get("order")):
        descending = key.startswith("-")
        name = key.lstrip("-")
        spec = fields.get(name)
        if spec is None or not spec.sortable:
            raise invalid_query(f"order by {name} is not supported.")
        order.append(Sort(spec.attribute, descending))
    include = frozenset(_list("include", params.get("include")))
    for name in include - includes:
        raise invalid_query(f"include of {name} is not supported.")
    keys = _list("keys", params.get("keys"))
    for key in keys:
        if "." in key:
            raise invalid_query(f"keys of included objects ({key}) are not supported.")
    count = params.get("count")
    return Query(
        conditions=parse_where(params.get("where"), fields),
        order=tuple(order),
        limit=_whole("limit", params.get("limit"), DEFAULT_LIMIT, MAX_LIMIT),
        skip=_whole("skip", params.get("skip"), 0, 10_000_000),
        keys=frozenset(keys) if keys else None,
        include=include,
        count=count in (1, "1", True, "true"),
    )
