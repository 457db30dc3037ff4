"""What a valid account is: usernames, emails and passwords."""

from __future__ import annotations

import hashlib
import re

from warehouse_gql.domain.errors import BadUserInput
from warehouse_gql.domain.inventory import printable

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{3,64}")
# Deliberately plain: one @, a dot in the domain, no spaces. Delivery is what proves an address.
EMAIL_PATTERN = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
MAX_EMAIL = 254
MIN_PASSWORD = 8
MAX_PASSWORD = 256
# SPEC "Users and sessions": at most this many live sessions per user; a new one ends the oldest.
MAX_SESSIONS_PER_USER = 50
MAX_USER_AGENT = 256


def check_username(username: str) -> str:
    if not USERNAME_PATTERN.fullmatch(username):
        raise BadUserInput(
            "username must be 3 to 64 characters of letters, digits, '_', '.' or '-'.",
            field="username",
        )
    return username


def check_email(email: str) -> str:
    cleaned = printable(email.strip(), "email")
    if len(cleaned) > MAX_EMAIL or not EMAIL_PATTERN.fullmatch(cleaned):
        raise BadUserInput(f"email {cleaned!r} is not a valid address.", field="email")
    return cleaned


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise BadUserInput(
            f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters.", field="password"
        )
    return password


def session_id(token_hash: str) -> str:
    """The public id of a session: derived from the stored hash, and no way back to it."""
    return hashlib.sha256(f"session:{token_hash}".encode()).hexdigest()[:32]


def clean_user_agent(value: str | None) -> str | None:
    """What is kept of a client's User-Agent: printable, at most MAX_USER_AGENT characters."""
    if not value:
        return None
    kept = "".join(c for c in value if c.isprintable())[:MAX_USER_AGENT].strip()
    return kept or None
