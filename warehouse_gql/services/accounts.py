"""Accounts: sign-up, log-in, staff accounts, passwords and roles. Sessions: services/sessions.py."""

from __future__ import annotations

from datetime import timedelta

from warehouse_gql.domain import accounts as rules
from warehouse_gql.domain import preconditions
from warehouse_gql.domain.access import Role
from warehouse_gql.domain.errors import BadUserInput, NotFound, PreconditionFailed, Unauthenticated
from warehouse_gql.domain.models import User
from warehouse_gql.domain.preconditions import Precondition
from warehouse_gql.live.bus import EventBus
from warehouse_gql.services import sessions
from warehouse_gql.services.limits import RateLimits
from warehouse_gql.services.passwords import Passwords
from warehouse_gql.store import users as store
from warehouse_gql.store.database import Database
from warehouse_gql.store.ids import require_id


async def create_user(
    db: Database, passwords: Passwords, *, username: str, email: str, password: str, role: Role
) -> User:
    """A new account of any role: managers' createUser, the CLI's create-user, sign-up."""
    username = rules.check_username(username)
    email = rules.check_email(email)
    rules.check_password(password)
    return await store.insert_user(
        db, username=username, email=email, password_hash=await passwords.hash(password), role=role
    )


async def sign_up(
    db: Database,
    events: EventBus,
    passwords: Passwords,
    *,
    username: str,
    email: str,
    password: str,
    ttl: timedelta,
    limits: RateLimits | None,
    client: str | None = None,
    user_agent: str | None = None,
) -> sessions.Session:
    """Sign-up always makes a CUSTOMER; managers promote people with setUserRole.

    `limits`: the deployment's auth limits, counted per `client` address and per username
    before any hashing (every door passes them; None only for trusted callers such as tests).
    """
    if limits is not None:
        await limits.attempt_auth(client=client, username=username)
    user = await create_user(
        db, passwords, username=username, email=email, password=password, role=Role.CUSTOMER
    )
    return await sessions.open_session(db, events, user=user, ttl=ttl, user_agent=user_agent)


async def log_in(
    db: Database,
    events: EventBus,
    passwords: Passwords,
    *,
    username: str,
    password: str,
    ttl: timedelta,
    limits: RateLimits | None,
    client: str | None = None,
    user_agent: str | None = None,
) -> sessions.Session:
    """Open a session. `limits` as for sign_up: argon2 is slow on purpose, so attempts are
    counted before the password is checked."""
    if limits is not None:
        await limits.attempt_auth(client=client, username=username)
    found = await store.find_credentials(db, username)
    if found is None:
        # Same work and the same error as a wrong password: usernames cannot be probed.
        await passwords.verify(passwords.dummy_hash, password)
        raise Unauthenticated("Wrong username or password.")
    user, password_hash = found
    if not await passwords.verify(password_hash, password):
        raise Unauthenticated("Wrong username or password.")
    if passwords.needs_rehash(password_hash):
        await store.set_password_hash(db, user.id, await passwords.hash(password))
    return await sessions.open_session(db, events, user=user, ttl=ttl, user_agent=user_agent)


async def change_password(
    db: Database,
    events: EventBus,
    passwords: Passwords,
    *,
    user: User,
    token: str,
    current_password: str,
    new_password: str,
    limits: RateLimits | None,
    client: str | None = None,
) -> int:
    """Set a new password for oneself; every other session of the user ends (how many).
    Attempts count against the auth limits like log-ins: each checks the password (argon2)."""
    if limits is not None:
        await limits.attempt_auth(client=client, username=user.username)
    rules.check_password(new_password)
    found = await store.find_credentials(db, user.username)
    if found is None or found[0].id != user.id:
        raise Unauthenticated()
    if not await passwords.verify(found[1], current_password):
        raise BadUserInput("The current password is wrong.", field="currentPassword")
    await store.set_password_hash(db, user.id, await passwords.hash(new_password))
    return await sessions.end_other_sessions(db, events, user_id=user.id, token=token)


async def set_user_role(
    db: Database,
    events: EventBus,
    *,
    user_id: str,
    role: Role,
    precondition: Precondition | None = None,
) -> User:
    oid = require_id(user_id, "user")
    if precondition is not None:
        current = await store.get_user(db, oid)
        if current is None:
            raise NotFound("user", user_id)
        preconditions.check(precondition, current)
        # Compare-and-set on the state just checked: a write in between makes this one fail.
        if not await store.set_role_if_unchanged(db, oid, role, updated_at=current.updated_at):
            raise PreconditionFailed()
    updated = (
        await store.set_role(db, oid, role)
        if precondition is None
        else await store.get_user(db, oid)
    )
    if updated is None:
        raise NotFound("user", user_id)
    # The new role counts from the user's next request and socket message, on every process.
    await sessions.invalidate(events, user_id=updated.id)
    return updated
