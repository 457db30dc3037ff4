"""Prepared documents: each distinct operation text is parsed and validated once per process.

One extension instead of Strawberry's ParserCache, ValidationCache, MaxTokensLimiter and
AddValidationRules (and DisableIntrospection's rule): the same token limit, the same rules, the
same errors, but the cache is keyed by the query text (a string hashes once) where
ValidationCache hashed the whole parsed document on every request, and one extension's hooks
run per operation instead of five.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types.execution import ParseOptions

CACHE_SIZE = 1024


class DocumentCache:
    """Documents and their validation errors by query text, shared by every operation of one
    schema; the least recently used go first past `size` of each."""

    def __init__(
        self,
        *,
        rules: Sequence[type[ASTValidationRule]],
        max_tokens: int,
        size: int = CACHE_SIZE,
    ) -> None:
        self.rules = tuple(rules)
        self.max_tokens = max_tokens
        self.size = size
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()
        self._errors: OrderedDict[tuple[str, tuple[type[ASTValidationRule], ...]], list[Any]] = (
            OrderedDict()
        )

    def document(self, query: str, parse_options: ParseOptions) -> DocumentNode | None:
        """The parsed document, or None when it does not parse (Strawberry's own parse then
        reports the error, as it did without a cache)."""
        found = self._documents.get(query)
        if found is not None:
            self._documents.move_to_end(query)
            return found
        try:
            found = parse(query, **parse_options)
        except GraphQLError:
            return None
        self._documents[query] = found
        if len(self._documents) > self.size:
            self._documents.popitem(last=False)
        return found

    def errors(
        self,
        schema: GraphQLSchema,
        query: str,
        document: DocumentNode,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> list[GraphQLError]:
        key = (query, rules)
        found = self._errors.get(key)
        if found is not None:
            self._errors.move_to_end(key)
            return found
        found = self._errors[key] = validate_document(schema, document, rules)
        if len(self._errors) > self.size:
            self._errors.popitem(last=False)
        return found


class PreparedDocuments(SchemaExtension):
    def __init__(self, *, cache: DocumentCache) -> None:
        self.cache = cache

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        ec.parse_options["max_tokens"] = self.cache.max_tokens
        ec.validation_rules = (*ec.validation_rules, *self.cache.rules)
        yield

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.graphql_document is None and ec.query:
            ec.graphql_document = self.cache.document(ec.query, ec.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.query and ec.graphql_document is not None and ec.pre_execution_errors is None:
            ec.pre_execution_errors = self.cache.errors(
                ec.schema._schema, ec.query, ec.graphql_document, tuple(ec.validation_rules)
            )
        yield
