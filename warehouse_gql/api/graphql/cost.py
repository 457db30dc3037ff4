"""The static cost and depth of an operation, measured on the validated document before execution.

SPEC "Limits and abuse protection": the cost is the number of objects the operation may return,
list sizes multiplied through nesting (GitHub's node limit). A connection counts its `first`
(default 50) for its nodes, its `edges`/`node` wrappers add nothing more; a plain list of objects
(`Bin.items`, `Order.picks`, `Order.shipments`, ...) counts 100; a single object counts 1; scalars
count nothing; the introspection fields `__schema` and `__type` count 1 and are not walked (so
GraphiQL's introspection query passes). The root field is depth 1.

The walk is linear in the document: each fragment is measured once per place it can appear
(cost scales with the multiplier, so it is measured for a multiplier of 1 and scaled).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_operation_ast,
)

# SPEC: every plain list counts this many objects; a connection without `first` counts 50.
# A `first` above the largest page counts as that page: the resolver refuses it as
# BAD_USER_INPUT, which says more than a cost would.
PLAIN_LIST = 100
DEFAULT_FIRST = 50
MAX_FIRST = 100
CACHE_SIZE = 1024


@dataclass(frozen=True)
class Measure:
    cost: int
    depth: int


def _unwrap(type_: GraphQLOutputType) -> tuple[Any, bool]:
    """The named type under NonNull/List wrappers, and whether a list was among them."""
    is_list = False
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        is_list = is_list or isinstance(type_, GraphQLList)
        type_ = type_.of_type
    return type_, is_list


def _is_connection(type_: Any) -> bool:
    return isinstance(type_, GraphQLObjectType) and {"edges", "pageInfo"} <= type_.fields.keys()


def _is_edge(type_: Any) -> bool:
    return isinstance(type_, GraphQLObjectType) and {"node", "cursor"} <= type_.fields.keys()


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.defaults: dict[str, Any] = {}
        for definition in operation.variable_definitions or ():
            if isinstance(definition.default_value, IntValueNode):
                self.defaults[definition.variable.name.value] = int(definition.default_value.value)
        # (fragment, parent type, page) -> cost for a multiplier of 1, depth below its parent.
        self.memo: dict[tuple[str, str, int | None], tuple[int, int]] = {}

    def first(self, field: FieldNode, definition_default: Any) -> int:
        for argument in field.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return min(max(int(value.value), 0), MAX_FIRST)
            if isinstance(value, VariableNode):
                name = value.name.value
                given = self.variables.get(name, self.defaults.get(name))
                if isinstance(given, int) and not isinstance(given, bool):
                    return min(max(given, 0), MAX_FIRST)
                return DEFAULT_FIRST
            if isinstance(value, NullValueNode):
                return DEFAULT_FIRST
        return definition_default if isinstance(definition_default, int) else DEFAULT_FIRST

    def selections(
        self, selection_set: SelectionSetNode, parent: Any, page: int | None
    ) -> tuple[int, int]:
        """(cost for a multiplier of 1, depth of the deepest field) of one selection set."""
        cost = 0
        depth = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                field_cost, field_depth = self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = parent if condition is None else self.schema.get_type(condition.name.value)
                field_cost, field_depth = self.selections(selection.selection_set, target, page)
            elif isinstance(selection, FragmentSpreadNode):
                field_cost, field_depth = self.spread(selection.name.value, page)
            else:  # pragma: no cover - graphql-core knows no other selection
                continue
            cost += field_cost
            depth = max(depth, field_depth)
        return cost, depth

    def spread(self, name: str, page: int | None) -> tuple[int, int]:
        fragment = self.fragments.get(name)
        if fragment is None:
            return 0, 0
        target = self.schema.get_type(fragment.type_condition.name.value)
        key = (name, fragment.type_condition.name.value, page)
        found = self.memo.get(key)
        if found is None:
            # Validation forbids fragment cycles; the placeholder makes a cycle harmless anyway.
            self.memo[key] = (0, 0)
            found = self.memo[key] = self.selections(fragment.selection_set, target, page)
        return found

    def field(self, node: FieldNode, parent: Any, page: int | None) -> tuple[int, int]:
        name = node.name.value
        if name.startswith("__"):
            # __typename is a scalar; __schema and __type are one object each, not walked.
            return (0 if name == "__typename" else 1), 1
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0, 1
        definition = parent.fields.get(name)
        if definition is None or node.selection_set is None:
            return 0, 1
        named, is_list = _unwrap(definition.type)
        if page is not None and name in {"edges", "nodes"}:
            # The connection's page, already counted at the connection: its size multiplies.
            cost, depth = self.selections(node.selection_set, named, None)
            return cost * page, depth + 1
        if name == "node" and _is_edge(parent):
            cost, depth = self.selections(node.selection_set, named, None)
            return cost, depth + 1
        if _is_connection(named):
            argument = definition.args.get("first")
            size = self.first(node, None if argument is None else argument.default_value)
            cost, depth = self.selections(node.selection_set, named, size)
            return size + cost, depth + 1
        size = PLAIN_LIST if is_list else 1
        cost, depth = self.selections(node.selection_set, named, None)
        return size + size * cost, depth + 1


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Measure:
    """The cost and depth of the operation of a validated document (0, 0 when there is none)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return Measure(0, 0)
    root = schema.get_root_type(operation.operation)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walk = _Walk(schema, fragments, operation, variables or {})
    cost, depth = walk.selections(operation.selection_set, root, None)
    return Measure(cost=cost, depth=depth)


class MeasureCache:
    """Measures by document text, operation and the integer variables (the only values a cost
    depends on): a repeated operation is measured once."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._found: OrderedDict[tuple[Any, ...], Measure] = OrderedDict()

    def measure(
        self,
        schema: GraphQLSchema,
        query: str | None,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
    ) -> Measure:
        if query is None:
            return measure(schema, document, operation_name, variables)
        ints = tuple(
            sorted(
                (k, v)
                for k, v in (variables or {}).items()
                if isinstance(v, int) and not isinstance(v, bool)
            )
        )
        key = (query, operation_name, ints)
        found = self._found.get(key)
        if found is not None:
            self._found.move_to_end(key)
            return found
        found = self._found[key] = measure(schema, document, operation_name, variables)
        if len(self._found) > self.size:
            self._found.popitem(last=False)
        return found
