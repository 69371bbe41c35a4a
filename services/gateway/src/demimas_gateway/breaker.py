"""A circuit breaker per subgraph, so that a dead or hanging subgraph costs a fast error instead of a pile-up of
requests each waiting for its timeout.

Closed: requests go through; `failures` consecutive failures (timeouts, refused or closed connections, answers that
are not GraphQL) open it. Open: requests fail at once with `SUBREQUEST_CIRCUIT_OPEN` for `reset_seconds`. Then one
request is let through (half-open): its success closes the breaker, its failure opens it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    __slots__ = ("clock", "failures", "opened_at", "reset_seconds", "streak", "trial")

    def __init__(self, failures: int = 5, reset_seconds: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.failures = failures
        self.reset_seconds = reset_seconds
        self.clock = clock
        self.streak = 0
        self.opened_at: float | None = None
        self.trial = False

    def allow(self) -> bool:
        if self.opened_at is None:
            return True
        if self.trial or self.clock() - self.opened_at < self.reset_seconds:
            return False
        self.trial = True  # half-open: this request is the trial
        return True

    def success(self) -> None:
        self.streak = 0
        self.opened_at = None
        self.trial = False

    def failure(self) -> None:
        self.streak += 1
        if self.trial or self.streak >= self.failures:
            self.opened_at = self.clock()
        self.trial = False

    @property
    def open(self) -> bool:
        return self.opened_at is not None
