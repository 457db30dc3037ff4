"""/auth, /me and /users: the same services as signUp, logIn, logOut, me, users, setUserRole."""

from __future__ import annotations

from datetime import timedelta

from pydantic import ConfigDict, Field

from warehouse_gql.api import http
from warehouse_gql.api.rest.endpoints import (
    EXAMPLE_ID,
    EXAMPLE_TIME,
    After,
    Body,
    Call,
    Endpoints,
    Id,
    Limit,
    Query,
    Reply,
    Resource,
    Time,
    resource_reply,
)
from warehouse_gql.api.rest.pages import Page, page_reply
from warehouse_gql.domain import access, models
from warehouse_gql.services import accounts, sessions
from warehouse_gql.store import users
from warehouse_gql.store.ids import parse_id

routes = Endpoints("accounts", "Sign-up, log-in, log-out, the current user and roles.")


class User(Resource):
    """A person who uses the warehouse. The password is never readable."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": EXAMPLE_ID,
                    "username": "boss",
                    "email": "boss@example.com",
                    "role": "MANAGER",
                    "createdAt": EXAMPLE_TIME,
                    "updatedAt": EXAMPLE_TIME,
                }
            ]
        }
    )

    id: Id
    username: str
    email: str | None = Field(description="Visible to managers and to the user alone.")
    role: access.Role
    created_at: Time
    updated_at: Time

    @classmethod
    def of(cls, user: models.User, viewer: models.User) -> User:
        return cls(
            id=user.id,
            username=user.username,
            email=user.email if access.may_see_email(viewer.role, viewer.id, user.id) else None,
            role=user.role,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


class UserPage(Page[User]):
    """A page of users in creation order."""


class AuthResult(Resource):
    """A new session: send the token as `Authorization: Bearer <token>`."""

    token: str = Field(examples=["q3Jx9V0bZ5m2Kc8T1sYwR4nL6pA7dE0fH2gU5iO8kM"])
    user: User


class SignUp(Body):
    """A new account; sign-up always makes a CUSTOMER."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "ada",
                    "email": "ada@example.com",
                    "password": "correct horse battery",
                }
            ]
        }
    )

    username: str = Field(description="3–64 characters of letters, digits, '_', '.', '-'.")
    email: str
    password: str = Field(description="8–256 characters.")


class LogIn(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"username": "boss", "password": "correct horse battery"}]}
    )

    username: str
    password: str


class SetRole(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"role": "PICKER"}]})

    role: access.Role


class UsersQuery(Query):
    limit: Limit = None
    after: After = None


def _ttl(call: Call) -> timedelta:
    return timedelta(hours=call.resources.settings.session_ttl_hours)


def _auth_result(session: sessions.Session) -> AuthResult:
    return AuthResult(token=session.token, user=User.of(session.user, session.user))


@routes.route(
    "POST",
    "/auth/signup",
    operation_id="signUp",
    summary="Create a CUSTOMER account and log in",
    body=SignUp,
    response=AuthResult,
    status=201,
    public=True,
    location=True,
    errors=("CONFLICT",),
)
async def sign_up(call: Call) -> Reply:
    body = call.body(SignUp)
    session = await accounts.sign_up(
        call.db,
        call.events,
        call.resources.passwords,
        username=body.username,
        email=body.email,
        password=body.password,
        ttl=_ttl(call),
        limits=call.resources.limits,
        client=call.client,
    )
    return Reply(_auth_result(session), 201, {"location": call.url(f"/users/{session.user.id}")})


@routes.route(
    "POST",
    "/auth/login",
    operation_id="logIn",
    summary="Open a session",
    description="The same error (401) for an unknown user and a wrong password.",
    body=LogIn,
    response=AuthResult,
    public=True,
)
async def log_in(call: Call) -> Reply:
    body = call.body(LogIn)
    session = await accounts.log_in(
        call.db,
        call.events,
        call.resources.passwords,
        username=body.username,
        password=body.password,
        ttl=_ttl(call),
        limits=call.resources.limits,
        client=call.client,
    )
    return Reply(_auth_result(session))


@routes.route(
    "POST",
    "/auth/logout",
    operation_id="logOut",
    summary="Revoke the current session token",
    description="Its GraphQL subscriptions are closed on every server process.",
    status=204,
)
async def log_out(call: Call) -> Reply:
    user = await call.authorize("logOut")
    token = call.token()
    assert token is not None  # authorize found a session for it
    await sessions.log_out(call.db, call.events, token=token, user_id=user.id)
    return Reply(status=204)


@routes.route(
    "GET", "/me", operation_id="me", summary="The user of the current session", response=User
)
async def me(call: Call) -> Reply:
    user = await call.authorize("me")
    return resource_reply(User.of(user, user), user)


@routes.route(
    "GET",
    "/users",
    operation_id="users",
    summary="All users in creation order (MANAGER)",
    query=UsersQuery,
    response=UserPage,
    link=True,
    errors=("FORBIDDEN",),
)
async def list_users(call: Call) -> Reply:
    viewer = await call.authorize("users")
    query = call.query(UsersQuery)
    first = http.page_size(query.limit, field="limit")
    after = parse_id(http.decode_cursor(query.after))
    found, more = await users.page_users(call.db, first=first, after=after)
    total = await users.count_users(call.db)
    return page_reply(call, UserPage, [User.of(u, viewer) for u in found], more, total)


@routes.route(
    "PATCH",
    "/users/{id}",
    operation_id="setUserRole",
    summary="Change a user's role (MANAGER)",
    description="Effective on their next request, on every server process.",
    body=SetRole,
    response=User,
    if_match=True,
    etag=True,
    errors=("FORBIDDEN", "NOT_FOUND"),
)
async def set_user_role(call: Call) -> Reply:
    viewer = await call.authorize("setUserRole")
    updated = await accounts.set_user_role(
        call.db,
        call.events,
        user_id=call.path["id"],
        role=call.body(SetRole).role,
        precondition=call.precondition,
    )
    return resource_reply(User.of(updated, viewer), updated)
