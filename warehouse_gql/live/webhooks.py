"""Sending one webhook message: a POST signed per the Standard Webhooks specification.

Headers `webhook-id` (the message id, the same on every retry), `webhook-timestamp` (seconds
since the epoch, fresh on every attempt) and `webhook-signature` (`v1,<base64 HMAC-SHA256>` of
`id.timestamp.body` under the endpoint's secret). Redirects are not followed (a redirect is
not a 2xx, so it is a failed attempt), the answer's body is never read, and the attempt has
`timeout` seconds in all.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
from standardwebhooks.webhooks import Webhook as Signer

from warehouse_gql import __version__
from warehouse_gql.domain.webhooks import DeliveryAttempt

USER_AGENT = f"warehouse-gql-webhooks/{__version__}"


def signed_headers(*, secret: str, message_id: str, at: datetime, payload: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Signer(secret).sign(msg_id=message_id, timestamp=at, data=payload),
    }


class WebhookSender:
    """One HTTP client for every delivery of a process; opened by the worker, closed with it."""

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            # Proxies from the environment would make the address check meaningless.
            trust_env=False,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def send(
        self, url: str, *, secret: str, message_id: str, payload: str, at: datetime
    ) -> DeliveryAttempt:
        headers = signed_headers(secret=secret, message_id=message_id, at=at, payload=payload)
        try:
            async with asyncio.timeout(self.timeout):
                async with self._client.stream(
                    "POST", url, content=payload.encode(), headers=headers
                ) as response:
                    return DeliveryAttempt(at=at, status_code=response.status_code, error=None)
        except TimeoutError:
            return DeliveryAttempt(
                at=at, status_code=None, error=f"no answer within {self.timeout:g} s"
            )
        except httpx.TimeoutException:
            return DeliveryAttempt(
                at=at, status_code=None, error=f"no answer within {self.timeout:g} s"
            )
        except httpx.HTTPError as exc:
            return DeliveryAttempt(
                at=at, status_code=None, error=f"{type(exc).__name__}: {exc}"[:300]
            )
