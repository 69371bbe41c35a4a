"""Per-agency token buckets: each agency may send `rate` requests per second on average and `burst` at once;
beyond that the gateway answers 429 with `Retry-After` (whole seconds until a token is back).

The buckets live in the gateway process. With N replicas behind a load balancer each replica holds its own buckets,
so set each replica's rate to the agency's share (`rate / N`); see docs/gateway-security.md for why no shared store
is used (the limit protects the subgraphs from one agency's flood; an exact global count is not needed for that).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["Bucket", "RateLimiter", "RateRule"]


@dataclass(frozen=True)
class RateRule:
    rate: float
    """Requests per second, on average."""
    burst: float
    """Requests at once (the bucket's size)."""


class Bucket:
    __slots__ = ("rule", "tokens", "updated")

    def __init__(self, rule: RateRule, now: float) -> None:
        self.rule = rule
        self.tokens = rule.burst
        self.updated = now

    def take(self, now: float) -> float:
        """0 when a request may go, else the seconds until it may."""
        self.tokens = min(self.rule.burst, self.tokens + (now - self.updated) * self.rule.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rule.rate if self.rule.rate > 0 else math.inf


class RateLimiter:
    """Rules per agency; `default` for agencies without one (and for unauthenticated callers, as one bucket)."""

    def __init__(
        self,
        rules: Mapping[str, RateRule],
        default: RateRule | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rules = dict(rules)
        self.default = default
        self.clock = clock
        self._buckets: dict[str, Bucket] = {}

    def retry_after(self, agency: str | None) -> int:
        """0 when the request may go, else whole seconds to wait (at least 1)."""
        name = agency or "-"
        bucket = self._buckets.get(name)
        now = self.clock()
        if bucket is None:
            rule = self.rules.get(name, self.default)
            if rule is None:
                return 0
            bucket = self._buckets[name] = Bucket(rule, now)
        wait = bucket.take(now)
        if wait == 0:
            return 0
        return max(1, math.ceil(wait)) if math.isfinite(wait) else 3600
