"""Sign-up, log-in, log-out and roles."""

from __future__ import annotations

from datetime import timedelta

import strawberry

from warehouse_gql.api.graphql.accounts.types import AuthPayload, SignUpInput, User
from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.domain import access
from warehouse_gql.services import accounts


def _ttl(info: Info) -> timedelta:
    return timedelta(hours=info.context.resources.settings.session_ttl_hours)


def _payload(session: accounts.Session) -> AuthPayload:
    return AuthPayload(token=session.token, user=User.from_model(session.user, session.user))


@strawberry.type
class AccountsMutation:
    @strawberry.mutation(description="Create a CUSTOMER account and log in.")
    async def sign_up(self, info: Info, input: SignUpInput) -> AuthPayload:
        ctx = info.context
        session = await accounts.sign_up(
            ctx.db,
            ctx.resources.passwords,
            username=input.username,
            email=input.email,
            password=input.password,
            ttl=_ttl(info),
            limits=ctx.resources.limits,
            client=ctx.client,
        )
        return _payload(session)

    @strawberry.mutation(
        description="Open a session; the same error for an unknown user and a wrong password."
    )
    async def log_in(self, info: Info, username: str, password: str) -> AuthPayload:
        ctx = info.context
        session = await accounts.log_in(
            ctx.db,
            ctx.resources.passwords,
            username=username,
            password=password,
            ttl=_ttl(info),
            limits=ctx.resources.limits,
            client=ctx.client,
        )
        return _payload(session)

    @strawberry.mutation(description="Revoke the current session token, closing its subscriptions.")
    async def log_out(self, info: Info) -> bool:
        await authorize(info, "logOut")
        token = info.context.session_token()
        assert token is not None  # authorize found a session for it
        return await accounts.log_out(
            info.context.db,
            info.context.events,
            token_hash=accounts.hash_token(token),
            cache=info.context.resources.session_cache,
        )

    @strawberry.mutation(
        description="Change a user's role (MANAGER); effective on their next request."
    )
    async def set_user_role(self, info: Info, user_id: strawberry.ID, role: access.Role) -> User:
        reader = await authorize(info, "setUserRole")
        updated = await accounts.set_user_role(
            info.context.db,
            user_id=user_id,
            role=role,
            events=info.context.events,
            cache=info.context.resources.session_cache,
        )
        return User.from_model(updated, reader)
