"""Users and their sessions."""

from __future__ import annotations

from datetime import datetime, timedelta

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from warehouse_gql.domain import clock
from warehouse_gql.domain.access import Role
from warehouse_gql.domain.accounts import session_id
from warehouse_gql.domain.errors import Duplicate
from warehouse_gql.domain.models import SessionRecord, User
from warehouse_gql.store.database import Database, Document, page
from warehouse_gql.store.ids import parse_id

# How stale a session's lastUsedAt may get before a lookup writes it again.
SESSION_TOUCH = timedelta(minutes=1)


def to_user(doc: Document) -> User:
    return User(
        id=str(doc["_id"]),
        username=doc["username"],
        email=doc["email"],
        role=Role(doc["role"]),
        created_at=doc["createdAt"],
        updated_at=doc["updatedAt"],
    )


async def insert_user(
    db: Database, *, username: str, email: str, password_hash: str, role: Role
) -> User:
    now = clock.now()
    doc: Document = {
        "username": username,
        "usernameKey": username.lower(),
        "email": email,
        "emailKey": email.lower(),
        "passwordHash": password_hash,
        "role": role.value,
        "createdAt": now,
        "updatedAt": now,
    }
    try:
        await db.users.insert_one(doc)
    except DuplicateKeyError as exc:
        taken = "email" if "emailKey" in str(exc.details or exc) else "username"
        value = email if taken == "email" else username
        raise Duplicate(f"The {taken} {value!r} is already taken.") from None
    return to_user(doc)


async def find_credentials(db: Database, username: str) -> tuple[User, str] | None:
    doc = await db.users.find_one({"usernameKey": username.lower()})
    if doc is None:
        return None
    return to_user(doc), doc["passwordHash"]


async def set_password_hash(db: Database, user_id: str, password_hash: str) -> None:
    await db.users.update_one({"_id": ObjectId(user_id)}, {"$set": {"passwordHash": password_hash}})


async def get_user(db: Database, user_id: ObjectId) -> User | None:
    doc = await db.users.find_one({"_id": user_id}, {"passwordHash": 0})
    return None if doc is None else to_user(doc)


async def user_exists(db: Database, user_id: str) -> bool:
    oid = parse_id(user_id)
    return oid is not None and await db.users.find_one({"_id": oid}, {"_id": 1}) is not None


async def users_by_ids(db: Database, ids: list[ObjectId]) -> dict[str, User]:
    docs = await db.users.find({"_id": {"$in": ids}}, {"passwordHash": 0}).to_list()
    return {str(d["_id"]): to_user(d) for d in docs}


async def set_role(db: Database, user_id: ObjectId, role: Role) -> User | None:
    await db.users.update_one(
        {"_id": user_id}, {"$set": {"role": role.value, "updatedAt": clock.now()}}
    )
    return await get_user(db, user_id)


async def set_role_if_unchanged(
    db: Database, user_id: ObjectId, role: Role, *, updated_at: datetime
) -> bool:
    """Set the role only if the user was not written since `updated_at` (compare-and-set)."""
    result = await db.users.update_one(
        {"_id": user_id, "updatedAt": updated_at},
        {"$set": {"role": role.value, "updatedAt": clock.now()}},
    )
    return result.matched_count == 1


async def page_users(
    db: Database, *, first: int, after: ObjectId | None
) -> tuple[list[User], bool]:
    docs, more = await page(db.users, {}, first=first, after=after)
    return [to_user(d) for d in docs], more


async def count_users(db: Database) -> int:
    return await db.users.count_documents({})


# Sessions: only the SHA-256 of a token is ever stored.


def to_session(doc: Document) -> SessionRecord:
    return SessionRecord(
        id=session_id(doc["_id"]),
        user_id=str(doc["userId"]),
        created_at=doc["createdAt"],
        last_used_at=doc.get("lastUsedAt") or doc["createdAt"],
        expires_at=doc["expiresAt"],
        user_agent=doc.get("userAgent"),
    )


async def insert_session(
    db: Database,
    *,
    token_hash: str,
    user_id: str,
    expires_at: datetime,
    user_agent: str | None = None,
) -> None:
    now = clock.now()
    await db.sessions.insert_one(
        {
            "_id": token_hash,
            "userId": ObjectId(user_id),
            "createdAt": now,
            "lastUsedAt": now,
            "expiresAt": expires_at,
            "userAgent": user_agent,
        }
    )


async def find_session_user(db: Database, token_hash: str) -> tuple[User, datetime] | None:
    """The user of a live session and when it expires; None for unknown or expired tokens,
    or when the user is gone. Marks the session used (at most once a minute: one write per
    session per minute, not one per request)."""
    now = clock.now()
    session = await db.sessions.find_one({"_id": token_hash, "expiresAt": {"$gt": now}})
    if session is None:
        return None
    user = await get_user(db, session["userId"])
    if user is None:
        return None
    last_used = session.get("lastUsedAt") or session["createdAt"]
    if now - last_used >= SESSION_TOUCH:
        await db.sessions.update_one(
            {"_id": token_hash, "lastUsedAt": last_used}, {"$set": {"lastUsedAt": now}}
        )
    return user, session["expiresAt"]


async def session_exists(db: Database, token_hash: str) -> bool:
    now = clock.now()
    return (
        await db.sessions.find_one({"_id": token_hash, "expiresAt": {"$gt": now}}, {"_id": 1})
        is not None
    )


async def delete_session(db: Database, token_hash: str) -> bool:
    result = await db.sessions.delete_one({"_id": token_hash})
    return result.deleted_count == 1


async def sessions_of(db: Database, user_id: str) -> list[SessionRecord]:
    """A user's live sessions, newest first."""
    now = clock.now()
    docs = await db.sessions.find(
        {"userId": ObjectId(user_id), "expiresAt": {"$gt": now}}
    ).to_list()
    records = [to_session(d) for d in docs]
    return sorted(records, key=lambda r: r.created_at, reverse=True)


async def delete_sessions_of(db: Database, user_id: str, *, keep: str | None = None) -> int:
    """End every session of a user but `keep` (a token hash); how many ended."""
    query: Document = {"userId": ObjectId(user_id)}
    if keep is not None:
        query["_id"] = {"$ne": keep}
    result = await db.sessions.delete_many(query)
    return result.deleted_count


async def delete_oldest_sessions(db: Database, user_id: str, *, keep: int) -> int:
    """End a user's sessions beyond the `keep` newest; how many ended."""
    docs = await db.sessions.find(
        {"userId": ObjectId(user_id)}, {"_id": 1, "createdAt": 1}
    ).to_list()
    if len(docs) <= keep:
        return 0
    docs.sort(key=lambda d: (d["createdAt"], d["_id"]), reverse=True)
    doomed = [d["_id"] for d in docs[keep:]]
    result = await db.sessions.delete_many({"_id": {"$in": doomed}})
    return result.deleted_count
