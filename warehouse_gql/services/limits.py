"""Rate limits: a bucket of query-cost points per caller, and the log-in/sign-up attempts that
argon2 makes expensive (SPEC "Limits and abuse protection").

Points are counted by the `limits` package's sliding-window counter: two counters per key
(this minute and the last), the last one weighted by how much of it is still inside the window,
so points come back continuously as in a token bucket, without a timer per caller. Auth
attempts are counted exactly, in a moving window of their times. The counters live in Redis when REDIS_URL is set (every process shares them) and in this process otherwise. If Redis
stops answering, this process counts on its own until it answers again rather than refusing or
waving through every request.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

from warehouse_gql.domain.errors import RateLimited

log = logging.getLogger(__name__)

WINDOW = 60.0
NAMESPACE = "warehouse-gql"
RECHECK_SECONDS = 5.0


@dataclass(frozen=True)
class Budget:
    """What a caller's bucket holds after a request: points left, seconds until it is full."""

    remaining: int
    reset_seconds: int


class _Counter:
    """One sliding-window limit on a shared storage, with a local fallback when it fails."""

    def __init__(
        self,
        storage: Storage,
        fallback: Storage,
        strategy: type[SlidingWindowCounterRateLimiter | MovingWindowRateLimiter],
    ) -> None:
        self.storage = storage
        self.fallback = fallback
        self.primary = strategy(storage)
        self.local = strategy(fallback)
        self._failing = False
        self._checked_at = 0.0

    async def _window(self, key: str) -> tuple[float, float, float, float]:
        counts = await self._storage().get_sliding_window(key, int(WINDOW))  # type: ignore[attr-defined]
        previous, previous_expires_in, current, current_expires_in = counts
        return (
            float(previous),
            float(previous_expires_in),
            float(current),
            float(current_expires_in),
        )

    def _storage(self) -> Storage:
        return self.fallback if self._failing else self.storage

    async def _call(self, local: bool, item: RateLimitItemPerMinute, key: str, cost: int) -> bool:
        limiter = self.local if local else self.primary
        return await limiter.hit(item, key, cost=cost)

    async def hit(self, item: RateLimitItemPerMinute, key: str, cost: int) -> bool:
        if not self._failing:
            try:
                return await self._call(False, item, key, cost)
            except Exception as exc:
                log.warning("rate limits: shared storage failed, counting locally: %s", exc)
                self._failing = True
                return await self._call(True, item, key, cost)
        allowed = await self._call(True, item, key, cost)
        if time.monotonic() - self._checked_at > RECHECK_SECONDS:
            # Back to the shared counters once they answer again (asked at most every few s).
            self._checked_at = time.monotonic()
            try:
                self._failing = not await self.storage.check()
            except Exception:
                self._failing = True
        return allowed

    async def reset_at(self, item: RateLimitItemPerMinute, key: str) -> float:
        """When the oldest counted hit leaves the window (epoch seconds)."""
        limiter = self.local if self._failing else self.primary
        try:
            return float((await limiter.get_window_stats(item, key)).reset_time)
        except Exception:
            return time.time() + WINDOW

    async def window(self, key: str) -> tuple[float, float, float, float]:
        try:
            return await self._window(key)
        except Exception:
            return 0.0, 0.0, 0.0, 0.0


def _retry_after(amount: int, cost: int, window: tuple[float, float, float, float]) -> int:
    """Seconds until `cost` points fit again under the weighted count of a sliding window."""
    previous, previous_expires_in, current, current_expires_in = window
    room = amount - cost
    if room < 0:
        return int(WINDOW)  # more than a whole minute's points: the window is the best answer
    if current <= room:
        if previous <= 0:
            return 1
        # The last minute's weight decays linearly until it leaves the window.
        wait = previous_expires_in - (room - current) * WINDOW / previous
        return max(1, math.ceil(wait))
    # This minute alone is over: wait until it becomes the last one and decays enough (the
    # storage gives how long this minute's count lives: to the end of the next minute).
    wait = current_expires_in - WINDOW + WINDOW * (1 - room / current)
    return max(1, math.ceil(wait))


class RateLimits:
    """The limits of one deployment; 0 turns a limit off."""

    def __init__(
        self, *, points_per_minute: int, auth_per_minute: int, redis_url: str | None = None
    ) -> None:
        self.points_per_minute = points_per_minute
        self.auth_per_minute = auth_per_minute
        fallback = MemoryStorage()
        storage: Storage = (
            RedisStorage(
                f"async+{redis_url}",
                implementation="redispy",
                key_prefix=NAMESPACE,
                socket_timeout=1.0,
                socket_connect_timeout=1.0,
            )
            if redis_url
            else fallback
        )
        self._counter = _Counter(storage, fallback, SlidingWindowCounterRateLimiter)
        # Auth attempts are few: a moving window keeps each one's time and counts exactly
        # (the sliding-window counter lets a fraction more through just after each minute).
        self._attempts = _Counter(storage, fallback, MovingWindowRateLimiter)
        self._points = RateLimitItemPerMinute(max(points_per_minute, 1), namespace="points")
        self._auth = RateLimitItemPerMinute(max(auth_per_minute, 1), namespace="auth")

    async def spend(self, caller: str, cost: int) -> Budget | None:
        """Take `cost` points from the caller's bucket; None when the limit is off.

        Raises RateLimited when the bucket does not hold `cost` points; nothing is taken then.
        """
        if self.points_per_minute <= 0:
            return None
        key = self._points.key_for(caller)
        if not await self._counter.hit(self._points, caller, max(cost, 0)):
            window = await self._counter.window(key)
            raise RateLimited(
                f"This operation costs {cost} points and your budget of "
                f"{self.points_per_minute} points per minute is spent; retry later.",
                retry_after=_retry_after(self.points_per_minute, cost, window),
            )
        return await self.budget(caller)

    async def budget(self, caller: str) -> Budget | None:
        if self.points_per_minute <= 0:
            return None
        window = await self._counter.window(self._points.key_for(caller))
        previous, previous_expires_in, current, current_expires_in = window
        weighted = previous * previous_expires_in / WINDOW + current
        remaining = max(0, self.points_per_minute - math.floor(weighted))
        if current > 0:
            # This minute's points weigh until the end of the next one, when its count expires.
            reset = current_expires_in
        elif previous > 0:
            reset = previous_expires_in
        else:
            reset = 0.0
        return Budget(remaining=remaining, reset_seconds=math.ceil(reset))

    async def attempt_auth(self, *, client: str | None, username: str) -> None:
        """Count one logIn/signUp/changePassword attempt from `client` for `username`.

        Raises RateLimited over AUTH_RATE_LIMIT per minute for the address or for the username.
        """
        if self.auth_per_minute <= 0:
            return
        keys = [("address", client or "-"), ("username", username.strip().lower())]
        for kind, value in keys:
            if not await self._attempts.hit(self._auth, f"{kind}:{value}", 1):
                reset_at = await self._attempts.reset_at(self._auth, f"{kind}:{value}")
                by = "this address" if kind == "address" else f"the username {username!r}"
                raise RateLimited(
                    f"Too many log-in attempts for {by}: at most {self.auth_per_minute} "
                    "a minute; retry later.",
                    retry_after=math.ceil(reset_at - time.time()),
                )
