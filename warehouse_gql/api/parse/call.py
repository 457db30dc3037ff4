"""One /parse request's caller: resources, session token, idempotency key and the user."""

from __future__ import annotations

from dataclasses import dataclass, field

from warehouse_gql.api.http import Resources
from warehouse_gql.api.parse.errors import invalid_session
from warehouse_gql.domain import access
from warehouse_gql.domain.errors import Forbidden, Unauthenticated
from warehouse_gql.domain.models import User
from warehouse_gql.services import sessions


@dataclass
class Call:
    resources: Resources
    request_id: str
    token: str | None = None
    # X-Parse-Request-Id / _RequestId: the idempotency key of an order created by this request.
    request_key: str | None = None
    # The client's address (api/http.py client_address): the auth attempt limits count by it.
    client: str = "-"
    _user: User | None = field(default=None, init=False)
    _looked_up: bool = field(default=False, init=False)

    async def caller(self) -> User | None:
        """The session's user; a token that names no live session is Parse's 209."""
        if not self._looked_up:
            if self.token is not None:
                found = await sessions.authenticate(
                    self.resources.db, self.resources.events, token=self.token
                )
                if found is None:
                    raise invalid_session()
                self._user = found
            self._looked_up = True
        return self._user

    async def user(self) -> User:
        found = await self.caller()
        if found is None:
            raise Unauthenticated()
        return found

    async def authorize(self, operation: str) -> User:
        """The caller, if the permission matrix lets their role use `operation`."""
        user = await self.user()
        if not access.allowed(operation, user.role):
            raise Forbidden(operation, user.role.value)
        return user
