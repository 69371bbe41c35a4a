"""Sending a GraphQL operation through the gateway over HTTP, with the caller's headers (their own token)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from demimas_common.errors import Unavailable

__all__ = ["GatewayClient"]


class GatewayClient:
    def __init__(self, url: str, *, timeout_seconds: float = 30.0) -> None:
        self.url, self.timeout_seconds = url, timeout_seconds

    async def post(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        """The gateway's JSON answer (data and errors); Unavailable if the gateway does not answer."""
        try:
            async with httpx.AsyncClient(timeout=self.timeout_seconds) as client:
                response = await client.post(self.url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the gateway did not answer: {type(exc).__name__}") from exc
        answer: dict[str, Any] = response.json()
        return answer
