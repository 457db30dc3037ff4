"""Sign-up, log-in, sessions and roles."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from warehouse_gql.domain import accounts as rules
from warehouse_gql.domain.access import Role
from warehouse_gql.domain.errors import NotFound, Unauthenticated
from warehouse_gql.domain.models import User
from warehouse_gql.live.bus import EventBus
from warehouse_gql.live.events import SessionRevoked
from warehouse_gql.services.passwords import Passwords
from warehouse_gql.store import users as store
from warehouse_gql.store.database import Database
from warehouse_gql.store.ids import require_id

TOKEN_BYTES = 32  # 256 bits


@dataclass(frozen=True)
class Session:
    token: str
    user: User


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(
    db: Database, passwords: Passwords, *, username: str, email: str, password: str, role: Role
) -> User:
    username = rules.check_username(username)
    email = rules.check_email(email)
    rules.check_password(password)
    return await store.insert_user(
        db, username=username, email=email, password_hash=await passwords.hash(password), role=role
    )


async def _open_session(db: Database, user: User, ttl: timedelta) -> Session:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    await store.insert_session(
        db, token_hash=hash_token(token), user_id=user.id, expires_at=datetime.now(UTC) + ttl
    )
    return Session(token=token, user=user)


async def sign_up(
    db: Database, passwords: Passwords, *, username: str, email: str, password: str, ttl: timedelta
) -> Session:
    """Sign-up always makes a CUSTOMER; managers promote people with setUserRole."""
    user = await create_user(
        db, passwords, username=username, email=email, password=password, role=Role.CUSTOMER
    )
    return await _open_session(db, user, ttl)


async def log_in(
    db: Database, passwords: Passwords, *, username: str, password: str, ttl: timedelta
) -> Session:
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
    return await _open_session(db, user, ttl)


async def session_of(db: Database, token: str) -> tuple[User, datetime] | None:
    """The user of a live session and when the session expires."""
    return await store.find_session_user(db, hash_token(token))


async def authenticate(db: Database, token: str) -> User | None:
    found = await store.find_session_user(db, hash_token(token))
    return None if found is None else found[0]


async def log_out(db: Database, events: EventBus, *, token_hash: str) -> bool:
    deleted = await store.delete_session(db, token_hash)
    # Every process closes the subscriptions opened with this token.
    await events.publish([SessionRevoked(token_hash=token_hash)])
    return deleted


async def set_user_role(db: Database, *, user_id: str, role: Role) -> User:
    oid = require_id(user_id, "user")
    updated = await store.set_role(db, oid, role)
    if updated is None:
        raise NotFound("user", user_id)
    return updated
