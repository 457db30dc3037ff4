"""Who am I, and the user list (MANAGER)."""

from __future__ import annotations

import strawberry

from warehouse_gql.api.graphql.accounts.types import User
from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.pagination import Connection, check_first, connection, decode_cursor
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.store import users


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="The user of the current session.")
    async def me(self, info: Info) -> User | None:
        user = await authorize(info, "me")
        return User.from_model(user, user)

    @strawberry.field(description="All users in creation order (MANAGER).")
    async def users(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[User]:
        reader = await authorize(info, "users")
        db = info.context.db
        found, more = await users.page_users(
            db, first=check_first(first), after=decode_cursor(after)
        )

        async def count() -> int:
            return await users.count_users(db)

        return connection(
            [User.from_model(u, reader) for u in found], [u.id for u in found], more, count
        )
