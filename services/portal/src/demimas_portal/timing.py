"""Where a page's time went, for operators: `Server-Timing: gateway;dur=12.4, render;dur=3.1, total;dur=17.0`
(milliseconds; browsers' developer tools show it next to the request, and `make bench-portal` reads it).

- `gateway`: the wall time the page spent waiting for the gateway (its queries and, on a cache miss, the labels).
  Queries sent together (the village page's two) overlap: the union of their spans counts, not their sum.
- `render`: the template's rendering.
- `total`: from the page's start (its session read) to the response being made; the rest of `total` is the
  portal's own work (session, shaping, cookie).

Only the names and durations go out: nothing about the data, the person or the gateway's address.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Timings", "busy_ms", "header_value"]


def busy_ms(spans: Iterable[tuple[float, float]]) -> float:
    """Milliseconds covered by the (start, end) spans in seconds, overlaps counted once."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total * 1000


def header_value(metrics: Iterable[tuple[str, float]]) -> str:
    """`name;dur=1.2, ...` (durations in milliseconds, one decimal)."""
    return ", ".join(f"{name};dur={duration:.1f}" for name, duration in metrics)


@dataclass
class Timings:
    """One request's spans (`time.perf_counter` seconds)."""

    started: float = field(default_factory=time.perf_counter)
    gateway: list[tuple[float, float]] = field(default_factory=list)
    render: float = 0.0

    def header(self, now: float | None = None) -> str:
        end = time.perf_counter() if now is None else now
        return header_value(
            [("gateway", busy_ms(self.gateway)), ("render", self.render * 1000), ("total", (end - self.started) * 1000)]
        )
