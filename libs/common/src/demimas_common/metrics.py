"""Prometheus metrics: request counts and latencies by route template (low cardinality), and whatever the event
machinery registers (consumer lag, outbox backlog)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

__all__ = ["REQUESTS", "REQUEST_SECONDS", "metrics_middleware", "metrics_response"]

REQUESTS = Counter("demimas_http_requests_total", "HTTP requests", ["service", "route", "status"])
REQUEST_SECONDS = Histogram("demimas_http_request_seconds", "HTTP request latency", ["service", "route"])


def metrics_middleware(
    service: str,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        REQUESTS.labels(service, template, str(response.status_code)).inc()
        REQUEST_SECONDS.labels(service, template).observe(time.perf_counter() - started)
        return response

    return middleware


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
