"""What the GraphQL door reports about each request: a bounded operation label for metrics and
logs, taken from the document's root fields (never from the caller's free-text operationName)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, parse
from strawberry.extensions import SchemaExtension


@lru_cache(maxsize=1024)
def operation_label(query: str | None, operation_name: str | None) -> str:
    """The first root field of the operation that runs (`createOrder`, `bins`), `introspection`
    for `__schema`/`__type`, `invalid` when the document does not parse or name an operation."""
    if not query:
        return "invalid"
    try:
        document = parse(query, no_location=True)
    except GraphQLError:
        return "invalid"
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name is not None and o.name.value == operation_name)
    ]
    if len(chosen) != 1 and not (operation_name is None and len(operations) == 1):
        return "invalid"
    fields = [s.name.value for s in chosen[0].selection_set.selections if isinstance(s, FieldNode)]
    if any(name in {"__schema", "__type"} for name in fields):
        return "introspection"
    named = [name for name in fields if name != "__typename"]
    return named[0] if named else "__typename" if fields else "invalid"


class OperationLabel(SchemaExtension):
    """Tells the context which operation runs, before parsing (a parse error is `invalid`)."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if hasattr(context, "operation"):
            context.operation = operation_label(
                self.execution_context.query, self.execution_context.operation_name
            )
        yield
