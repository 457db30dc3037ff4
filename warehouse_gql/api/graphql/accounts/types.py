"""Users, roles and sessions as GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from warehouse_gql.domain import access, models

strawberry.enum(access.Role, description="What a user may do; see the permission matrix.")


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
