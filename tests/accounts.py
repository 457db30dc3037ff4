"""Accounts made for a test: a user of a role, logged in, through the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tests.names import unique
from warehouse_gql.api.http import Resources
from warehouse_gql.domain.access import Role
from warehouse_gql.services import accounts

PASSWORD = "correct horse battery"  # every account's: the browser tests type it


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    token: str
    role: Role


async def make_account(resources: Resources, role: Role, username: str | None = None) -> Account:
    """A new user of `role`, logged in; a unique username unless one is given."""
    username = username or unique(role.value.lower())
    user = await accounts.create_user(
        resources.db,
        resources.passwords,
        username=username,
        email=f"{username}@example.com",
        password=PASSWORD,
        role=role,
    )
    session = await accounts.log_in(
        resources.db,
        resources.events,
        resources.passwords,
        username=username,
        password=PASSWORD,
        ttl=timedelta(hours=1),
        limits=None,
    )
    return Account(id=user.id, username=username, token=session.token, role=role)
