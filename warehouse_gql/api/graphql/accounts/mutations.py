"""Sign-up, log-in, log-out, staff accounts, passwords, roles and sessions."""

from __future__ import annotations

from datetime import timedelta

import strawberry

from warehouse_gql.api.graphql.accounts.types import (
    AuthPayload,
    CreateUserInput,
    SignUpInput,
    User,
)
from warehouse_gql.api.graphql.context import Info
from warehouse_gql.api.graphql.permissions import authorize
from warehouse_gql.domain import access
from warehouse_gql.services import accounts, sessions


def _ttl(info: Info) -> timedelta:
    return timedelta(hours=info.context.resources.settings.session_ttl_hours)


def _user_agent(info: Info) -> str | None:
    request = info.context.request
    return None if request is None else request.headers.get("user-agent")


def _payload(session: sessions.Session) -> AuthPayload:
    return AuthPayload(token=session.token, user=User.from_model(session.user, session.user))


def _token(info: Info) -> str:
    token = info.context.session_token()
    assert token is not None  # authorize found a session for it
    return token


@strawberry.type
class AccountsMutation:
    @strawberry.mutation(description="Create a CUSTOMER account and log in.")
    async def sign_up(self, info: Info, input: SignUpInput) -> AuthPayload:
        ctx = info.context
        session = await accounts.sign_up(
            ctx.db,
            ctx.events,
            ctx.resources.passwords,
            username=input.username,
            email=input.email,
            password=input.password,
            ttl=_ttl(info),
            user_agent=_user_agent(info),
            limits=ctx.resources.limits,
            client=ctx.client,
        )
        return _payload(session)

    @strawberry.mutation(
        description="Open a session; the same error for an unknown user and a wrong password. "
        "A user keeps at most 50 live sessions: a new one ends the oldest."
    )
    async def log_in(self, info: Info, username: str, password: str) -> AuthPayload:
        ctx = info.context
        session = await accounts.log_in(
            ctx.db,
            ctx.events,
            ctx.resources.passwords,
            username=username,
            password=password,
            ttl=_ttl(info),
            user_agent=_user_agent(info),
            limits=ctx.resources.limits,
            client=ctx.client,
        )
        return _payload(session)

    @strawberry.mutation(description="Revoke the current session token, closing its sockets.")
    async def log_out(self, info: Info) -> bool:
        user = await authorize(info, "logOut")
        return await sessions.log_out(
            info.context.db, info.context.events, token=_token(info), user_id=user.id
        )

    @strawberry.mutation(
        description="Change a user's role (MANAGER); effective on their next request, socket "
        "message and event."
    )
    async def set_user_role(self, info: Info, user_id: strawberry.ID, role: access.Role) -> User:
        reader = await authorize(info, "setUserRole")
        updated = await accounts.set_user_role(
            info.context.db, info.context.events, user_id=user_id, role=role
        )
        return User.from_model(updated, reader)

    @strawberry.mutation(description="Create an account of any role (MANAGER), without a session.")
    async def create_user(self, info: Info, input: CreateUserInput) -> User:
        reader = await authorize(info, "createUser")
        created = await accounts.create_user(
            info.context.db,
            info.context.resources.passwords,
            username=input.username,
            email=input.email,
            password=input.password,
            role=input.role,
        )
        return User.from_model(created, reader)

    @strawberry.mutation(
        description="Change one's own password; every other session of the user ends (their "
        "sockets close). Returns true."
    )
    async def change_password(self, info: Info, current_password: str, new_password: str) -> bool:
        user = await authorize(info, "changePassword")
        await accounts.change_password(
            info.context.db,
            info.context.events,
            info.context.resources.passwords,
            user=user,
            token=_token(info),
            current_password=current_password,
            new_password=new_password,
            limits=info.context.resources.limits,
            client=info.context.client,
        )
        return True

    @strawberry.mutation(
        description="End every session of a user (managers: anyone; others: themselves); "
        "their open sockets close at once. Returns how many sessions ended."
    )
    async def revoke_sessions(self, info: Info, user_id: strawberry.ID) -> int:
        user = await authorize(info, "revokeSessions")
        return await sessions.revoke_sessions(
            info.context.db, info.context.events, user_id=user_id, by=user
        )
