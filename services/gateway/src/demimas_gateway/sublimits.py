"""How many subscriptions may be open at once: per WebSocket connection (checked by the connection itself) and per
agency in this gateway process (here). Callers without a token count per client address, with their own, smaller
limit. Like the rate limits, the counts live in the process: with W worker processes per replica each process
holds `per_agency / W` (see `GatewaySettings.gateway_workers`), so a replica as a whole holds `per_agency`.

A subscription over Server-Sent Events counts here like one over a WebSocket."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["StreamSettings", "SubscriptionLimits", "TooManySubscriptions"]


class TooManySubscriptions(Exception):
    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.message = message
        self.limit = limit

    def as_error(self) -> dict[str, object]:
        return {"message": self.message, "extensions": {"code": "TOO_MANY_SUBSCRIPTIONS", "limit": self.limit}}


@dataclass
class SubscriptionLimits:
    per_connection: int = 100
    per_agency: int | None = 5000
    anonymous_per_address: int | None = 10
    _open: dict[str, int] = field(default_factory=dict)

    def acquire(self, agency: str | None, client: str | None) -> str:
        """Count one more subscription for the caller and return the key to `release` it with; raises
        `TooManySubscriptions` when the caller holds its limit already."""
        if agency:
            key, limit, who = f"agency:{agency}", self.per_agency, f"agency {agency}"
        else:
            key, limit, who = f"address:{client or '-'}", self.anonymous_per_address, "this address without a token"
        current = self._open.get(key, 0)
        if limit is not None and current >= limit:
            raise TooManySubscriptions(
                f"{who} holds {current} subscriptions on this gateway, its limit: complete some before subscribing",
                limit,
            )
        self._open[key] = current + 1
        return key

    def release(self, key: str) -> None:
        left = self._open.get(key, 0) - 1
        if left > 0:
            self._open[key] = left
        else:
            self._open.pop(key, None)

    def open(self, agency: str | None = None, client: str | None = None) -> int:
        return self._open.get(f"agency:{agency}" if agency else f"address:{client or '-'}", 0)


@dataclass(frozen=True)
class StreamSettings:
    """Liveness and memory bounds of WebSocket and SSE streams (`DEMIMAS_GATEWAY_WS_*`, `_SSE_*`, `_STREAM_*`)."""

    init_timeout_seconds: float = 10.0
    """A WebSocket without `connection_init` this long after opening is closed with 4408."""
    send_buffer_messages: int = 1000
    """Messages waiting for one client at most; one more closes a WebSocket with 4413 (an SSE stream is cut)."""
    sse_keepalive_seconds: float = 15.0
    """An SSE comment line this often, so that proxies keep an idle stream open."""
