"""Users, roles and sessions as GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.domain import access, models
from warehouse_gql.domain.errors import Forbidden
from warehouse_gql.services import sessions

strawberry.enum(access.Role, description="What a user may do; see the permission matrix.")


@strawberry.type(description="A live session of a user: never its token.")
class Session:
    id: strawberry.ID
    created_at: datetime
    last_used_at: datetime = strawberry.field(
        description="When the session was last used (kept to the minute)."
    )
    expires_at: datetime
    user_agent: str | None = strawberry.field(
        description="The User-Agent of the client that opened it."
    )
    current: bool = strawberry.field(description="Whether this request uses this session.")


@strawberry.type(description="A person who uses the warehouse. The password is never readable.")
class User:
    id: strawberry.ID
    username: str
    email: str | None = strawberry.field(
        description="Visible to managers and to the user alone; null for anyone else."
    )
    role: access.Role
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, user: models.User, reader: models.User | None) -> User:
        """The user as `reader` may see them."""
        shown = reader is not None and access.may_see_email(reader.role, reader.id, user.id)
        return cls(
            id=strawberry.ID(user.id),
            username=user.username,
            email=user.email if shown else None,
            role=user.role,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )

    @strawberry.field(
        description="The user's live sessions, newest first (only one's own: `me { sessions }`)."
    )
    async def sessions(self, info: Info) -> list[Session]:
        caller = await authorize(info, "sessions")
        if caller.id != self.id:
            raise Forbidden("the sessions of another user", caller.role.value)
        token = info.context.session_token()
        return [
            Session(
                id=strawberry.ID(r.id),
                created_at=r.created_at,
                last_used_at=r.last_used_at,
                expires_at=r.expires_at,
                user_agent=r.user_agent,
                current=sessions.is_current(r, token),
            )
            for r in await sessions.sessions_of(info.context.db, user_id=self.id)
        ]


@strawberry.type(description="A new session: send the token as `Authorization: Bearer <token>`.")
class AuthPayload:
    token: str
    user: User


@strawberry.input(description="A new account; sign-up always makes a CUSTOMER.")
class SignUpInput:
    username: str = strawberry.field(
        description="3–64 characters of letters, digits, '_', '.', '-'."
    )
    email: str
    password: str = strawberry.field(description="8–256 characters.")


@strawberry.input(description="A new account of any role, made by a manager.")
class CreateUserInput:
    username: str = strawberry.field(
        description="3–64 characters of letters, digits, '_', '.', '-'."
    )
    email: str
    password: str = strawberry.field(description="8–256 characters.")
    role: access.Role
