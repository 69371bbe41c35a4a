"""Sending a GraphQL operation through the gateway over HTTP, with the caller's headers (their own token)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from demimas_common.errors import Unavailable

__all__ = ["post_operation"]


async def post_operation(
    gateway_url: str, body: Mapping[str, Any], headers: Mapping[str, str], *, timeout_seconds: float
) -> dict[str, Any]:
    """The gateway's JSON answer (data and errors); Unavailable if the gateway does not answer."""
    try:
        async with httpx.AsyncClient(timeout=timeout_seconds) as client:
            response = await client.post(gateway_url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise Unavailable(f"the gateway did not answer: {type(exc).__name__}") from exc
    answer: dict[str, Any] = response.json()
    return answer
