"""How a REST route is declared once: its method and path, its request and response models, its
errors and headers. The same declaration validates the request, runs the handler, answers, and
is what openapi.py turns into the document. Every area module (and the change feed's) builds
its routes with an `Endpoints` of its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel
from starlette.requests import Request
from starlette.responses import Response

from warehouse_gql.api import http
from warehouse_gql.api.http import Resources, client_address
from warehouse_gql.domain import preconditions
from warehouse_gql.domain.errors import BadUserInput, PayloadTooLarge
from warehouse_gql.domain.models import User
from warehouse_gql.domain.preconditions import Precondition
from warehouse_gql.live.bus import EventBus
from warehouse_gql.store.database import Database

M = TypeVar("M", bound=BaseModel)

# Times as GraphQL writes them (ISO 8601 with the UTC offset, milliseconds as stored).
Time = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
# The GraphQL Int: 32 bits, signed. Wider numbers are wrong input, never a database error.
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
# What the document shows for an id and a moment, in every area's examples.
EXAMPLE_ID = "6650a1c2e4b0f1a2b3c4d5e6"
EXAMPLE_TIME = "2026-05-24T10:15:30.123000+00:00"
# Ids are the same opaque strings as in GraphQL.
Id = Annotated[str, Field(examples=[EXAMPLE_ID])]
# A page's `limit`: the range is documented here and checked by http.page_size, as GraphQL's `first`.
Limit = Annotated[
    int | None,
    Field(
        description="Page size, 1 to 100 (default 50).",
        json_schema_extra={"minimum": 1, "maximum": 100},
    ),
]
After = Annotated[
    str | None, Field(description="The `nextCursor` of the previous page; absent for the first.")
]


class Resource(BaseModel):
    """A response body: camelCase field names, as in the GraphQL types."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True
    )


class Body(BaseModel):
    """A request body: camelCase names, JSON types taken as they are (no "5" for 5), no
    unknown fields. Only the shape is checked here; the rules are the services' own."""

    model_config = ConfigDict(
        alias_generator=to_camel, strict=True, extra="forbid", serialize_by_alias=True
    )


class Query(BaseModel):
    """Query parameters: strings coerced to the declared types; unknown ones are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, serialize_by_alias=True)


@dataclass
class Reply:
    """What a handler answers: a resource (or none, for 204) and the headers that go with it;
    or a ready response of its own (`raw`: a stream such as Server-Sent Events)."""

    body: BaseModel | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    raw: Response | None = None


def etag(tag: str) -> str:
    return f'"{tag}"'


def resource_reply(body: BaseModel, record: preconditions.Versioned, *, status: int = 200) -> Reply:
    """A single resource with its ETag, which changes with every committed change of it."""
    return Reply(body, status, {"etag": etag(preconditions.version_tag(record))})


def parse_if_match(value: str | None) -> Precondition | None:
    """`If-Match: "v3"`, `W/"v3"`, a list of them, or `*`."""
    if value is None:
        return None
    tags = set()
    for part in value.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        tags.add(tag.strip('"') if tag != "*" else "*")
    tags.discard("")
    if not tags:
        raise BadUserInput('If-Match must list entity tags, such as "v3".', field="If-Match")
    return Precondition(frozenset(tags))


class Call:
    """One request as a handler sees it: path parameters, the validated body and query, the
    caller (authenticated once, on demand) and the If-Match precondition."""

    def __init__(
        self,
        request: Request,
        resources: Resources,
        request_id: str,
        body: BaseModel | None,
        query: BaseModel | None,
        operation: str = "",
    ) -> None:
        self.operation = operation
        self.request = request
        self.resources = resources
        self.request_id = request_id
        self.path: dict[str, str] = request.path_params
        self._body = body
        self._query = query
        self._user: User | None = None
        self._looked_up = False

    @property
    def client(self) -> str:
        """The client's address: the auth attempt limits count by it."""
        return client_address(self.request.scope, self.resources.settings.trusted_proxies)

    @property
    def db(self) -> Database:
        return self.resources.db

    @property
    def events(self) -> EventBus:
        return self.resources.events

    def body(self, model: type[M]) -> M:
        assert isinstance(self._body, model), "the endpoint declares another body"
        return self._body

    def query(self, model: type[M]) -> M:
        assert isinstance(self._query, model), "the endpoint declares another query"
        return self._query

    def token(self) -> str | None:
        return http.bearer_token(self.request.headers.get("authorization"))

    async def user(self) -> User | None:
        if not self._looked_up:
            self._user = await http.authenticate(self.resources, self.token())
            self._looked_up = True
        return self._user

    async def authorize(self, operation: str) -> User:
        return http.authorize(await self.user(), operation, name=self.operation)

    def known_user_id(self) -> str | None:
        """The caller's id if this request looked them up (for the request log)."""
        return None if self._user is None else self._user.id

    @property
    def precondition(self) -> Precondition | None:
        return parse_if_match(self.request.headers.get("if-match"))

    def url(self, path: str) -> str:
        """An absolute path under /api/v1 (behind any mount prefix)."""
        return f"{self.request.scope.get('root_path', '')}{path}"


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Endpoint:
    """One method on one path, and everything the document says about it."""

    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    description: str = ""
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    # Error codes besides the ones every endpoint can give (see openapi.py).
    errors: tuple[str, ...] = ()
    public: bool = False
    etag: bool = False
    if_match: bool = False
    location: bool = False
    link: bool = False
    idempotency_key: bool = False
    replay_status: int | None = None
    # Another media type than JSON (e.g. text/event-stream): the handler answers `Reply.raw`.
    media_type: str = "application/json"


class Endpoints:
    """The routes of one area, in the order they appear in the document."""

    def __init__(self, tag: str, description: str) -> None:
        self.tag = tag
        self.description = description
        self.all: list[Endpoint] = []

    def route(
        self, method: str, path: str, *, operation_id: str, summary: str, **options: Any
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.all.append(
                Endpoint(
                    method=method,
                    path=path,
                    handler=handler,
                    operation_id=operation_id,
                    summary=summary,
                    tag=self.tag,
                    description=options.pop("description", handler.__doc__ or ""),
                    **options,
                )
            )
            return handler

        return register


def _field_name(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """The wire (camelCase) name of the field a validation error points at."""
    parts: list[str] = []
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            continue
        info = None if current is None else current.model_fields.get(part)
        parts.append(info.alias if info is not None and info.alias else str(part))
        annotation = None if info is None else info.annotation
        current = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
        args = getattr(annotation, "__args__", ())
        for arg in args:
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                current = arg
    return ".".join(parts)


def invalid(model: type[BaseModel], error: ValidationError, *, where: str) -> BadUserInput:
    """A validation error as BAD_USER_INPUT naming the first field at fault."""
    first = error.errors(include_url=False)[0]
    loc = tuple(first.get("loc", ()))
    name = _field_name(model, loc) if loc else ""
    kind = first.get("type", "")
    if kind == "missing":
        message = f"{where} needs {name}."
    elif kind == "extra_forbidden":
        message = f"{where} has an unknown field {name}."
    else:
        message = f"{name or where}: {first.get('msg', 'invalid value')}."
    return BadUserInput(message, field=name or None)


class NotJson(Exception):
    """A request body that is not JSON: 400, the one input error that is not a 422."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is larger than `limit` (read no further)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_body(model: type[M], raw: bytes) -> M:
    if not raw.strip():
        raise NotJson("The request needs a JSON body.")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(e.get("type") == "json_invalid" for e in exc.errors(include_url=False)):
            raise NotJson("The request body is not valid JSON (UTF-8).") from None
        if exc.errors(include_url=False)[0].get("type") == "model_type":
            raise BadUserInput("The request body must be a JSON object.") from None
        raise invalid(model, exc, where="The request body") from None


def parse_query(model: type[M], request: Request) -> M:
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        annotation = str(info.annotation)
        if "list" in annotation:
            found = request.query_params.getlist(key)
            if found:
                values[key] = found
        elif key in request.query_params:
            values[key] = request.query_params[key]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise invalid(model, exc, where="The query") from None


def dump(model: BaseModel) -> bytes:
    return model.__pydantic_serializer__.to_json(model, by_alias=True)
