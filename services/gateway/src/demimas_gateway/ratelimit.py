"""Per-agency token buckets: each agency may send `rate` requests per second on average and `burst` at once;
beyond that the gateway answers 429 with `Retry-After` (whole seconds until a token is back).

Callers without a token have no agency: each client address gets its own, much smaller bucket (one shared bucket
would let one anonymous flood lock every other anonymous caller out). Addresses are unbounded in number, so their
buckets are kept in an LRU of at most `max_anonymous_buckets`; the bucket dropped is the one idle the longest,
which has refilled in all but a flood from more addresses than that (then such a caller starts again with a full
burst, which the per-address rate still bounds).

The buckets live in the gateway process. With N replicas behind a load balancer each replica holds its own buckets,
so set each replica's rate to the agency's share (`rate / N`); see docs/gateway-security.md for why no shared store
is used (the limit protects the subgraphs from one agency's flood; an exact global count is not needed for that).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["MAX_ANONYMOUS_BUCKETS", "Bucket", "RateLimiter", "RateRule"]

MAX_ANONYMOUS_BUCKETS = 10_000


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
    """Rules per agency; `default` for agencies without one; `anonymous` for callers without a token, one bucket per
    client address. A caller whose rule is None is not limited."""

    def __init__(
        self,
        rules: Mapping[str, RateRule],
        default: RateRule | None,
        clock: Callable[[], float] = time.monotonic,
        *,
        anonymous: RateRule | None = None,
        max_anonymous_buckets: int = MAX_ANONYMOUS_BUCKETS,
    ) -> None:
        self.rules = dict(rules)
        self.default = default
        self.anonymous = anonymous
        self.clock = clock
        self.max_anonymous_buckets = max_anonymous_buckets
        self._buckets: dict[str, Bucket] = {}
        self._anonymous: OrderedDict[str, Bucket] = OrderedDict()

    @classmethod
    def per_process(
        cls,
        rules: Mapping[str, tuple[float, float]],
        default: tuple[float, float] | None,
        anonymous: tuple[float, float] | None,
        *,
        processes: int = 1,
    ) -> RateLimiter | None:
        """A limiter for one of a replica's `processes` worker processes: the replica's rates and bursts divided
        among them (a burst never below 1, so one request always fits). None when no rule is set."""

        def share(rule: tuple[float, float]) -> RateRule:
            rate, burst = rule
            return RateRule(rate=rate / processes, burst=max(1.0, burst / processes))

        if not rules and default is None and anonymous is None:
            return None
        return cls(
            {agency: share(rule) for agency, rule in rules.items()},
            share(default) if default else None,
            anonymous=share(anonymous) if anonymous else None,
        )

    def retry_after(self, agency: str | None, client: str | None = None) -> int:
        """0 when the request may go, else whole seconds to wait (at least 1). `client`: the caller's address, which
        keys the bucket of a caller without an agency."""
        now = self.clock()
        if agency:
            bucket = self._buckets.get(agency)
            if bucket is None:
                rule = self.rules.get(agency, self.default)
                if rule is None:
                    return 0
                bucket = self._buckets[agency] = Bucket(rule, now)
        else:
            if self.anonymous is None:
                return 0
            key = client or "-"
            bucket = self._anonymous.get(key)
            if bucket is None:
                if len(self._anonymous) >= self.max_anonymous_buckets:
                    self._anonymous.popitem(last=False)
                bucket = self._anonymous[key] = Bucket(self.anonymous, now)
            else:
                self._anonymous.move_to_end(key)
        wait = bucket.take(now)
        if wait == 0:
            return 0
        return max(1, math.ceil(wait)) if math.isfinite(wait) else 3600
