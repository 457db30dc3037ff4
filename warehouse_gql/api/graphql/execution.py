"""GraphQL execution with a fast path for plain scalar fields.

Most fields of a page are plain attributes (`id`, `sku`, `quantity`, a bin's `location`):
Strawberry marks their resolvers as defaults, and graphql-core still builds a resolve info,
calls the resolver through two wrappers, asks twice whether the result is awaitable and walks
the NonNull wrapper for each of them (docs/BENCHMARKS.md: ~70% of a page's fields). Here such a
field reads the attribute and coerces it as a leaf directly, with the same null and error
handling as graphql-core's path; every other field takes graphql-core's own path.

A mutation field that would start past the operation's deadline does not run: an operation
whose first mutation has committed is no longer cancelled at its deadline (its answer is that
write's, api/http.py), and the ones after it must not run on unbounded. The error says the
fields before it were applied.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from warehouse_gql.domain.errors import ServiceUnavailable

# (attribute, leaf type, non-null) of a plain scalar field, None for any other field; by the
# field definition's identity (definitions live as long as the schema; the definition itself
# is kept so its id cannot be reused).
_Plan = tuple[str, GraphQLLeafType, bool] | None
_PLANS: dict[int, tuple[GraphQLField, _Plan]] = {}


def _plan(field_def: GraphQLField) -> _Plan:
    found = _PLANS.get(id(field_def))
    if found is not None and found[0] is field_def:
        return found[1]
    plan: _Plan = None
    definition = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return_type = field_def.type
    non_null = isinstance(return_type, GraphQLNonNull)
    named = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    if (
        isinstance(definition, StrawberryField)
        and getattr(field_def.resolve, "_is_default", False)
        and definition.is_basic_field
        and definition.default_resolver is getattr
        and not field_def.args
        and is_leaf_type(named)
    ):
        plan = (definition.python_name, named, non_null)
    _PLANS[id(field_def)] = (field_def, plan)
    return plan


class Executor(StrawberryGraphQLCoreExecutionContext):
    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        field_name = field_details_list[0].node.name.value
        field_def = self.schema.get_field(parent_type, field_name)
        if parent_type is self.schema.mutation_type and field_def is not None:
            loaders = getattr(self.context_value, "loaders", None)
            if loaders is not None and loaders.pacer.past_deadline():
                late = ServiceUnavailable(
                    f"{field_name} was not run: the request had run past its "
                    f"{loaders.pacer.timeout:g} s deadline. The mutations before it in this "
                    "request were applied; read before retrying them."
                )
                self.handle_field_error(late, field_def.type, field_details_list, path)
                return None
        middleware = self.middleware_manager
        plan = (
            None
            if field_def is None or (middleware is not None and middleware.middlewares)
            else _plan(field_def)
        )
        if plan is None or field_def is None:
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        attribute, leaf, non_null = plan
        try:
            result = getattr(source, attribute)
            if isinstance(result, Exception):
                raise result
            if result is None or result is Undefined:
                if non_null:
                    raise TypeError(
                        f"Cannot return null for non-nullable field {parent_type}.{field_name}."
                    )
                return None
            return self.complete_leaf_value(leaf, result)
        except Exception as raw_error:
            self.handle_field_error(raw_error, field_def.type, field_details_list, path)
            return None
