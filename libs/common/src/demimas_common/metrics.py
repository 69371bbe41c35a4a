"""Prometheus metrics: HTTP requests counted and timed by route template and status (low cardinality: never by
raw path, query or caller), plus whatever the event machinery registers (consumer lag, outbox backlog) in the same
process-wide registry, all served by `GET /metrics`.

The middleware is plain ASGI rather than Starlette's `BaseHTTPMiddleware`, which costs a task and a stream copy
per request.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["REQUESTS", "REQUEST_SECONDS", "MetricsMiddleware", "metrics_response", "route_template"]

UNMATCHED = "unmatched"  # 404s on made-up paths share one label value instead of minting one per path

REQUESTS = Counter("demimas_http_requests_total", "HTTP requests", ["service", "route", "method", "status"])
REQUEST_SECONDS = Histogram(
    "demimas_http_request_seconds",
    "HTTP request latency",
    ["service", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = route_template(scope)
            REQUESTS.labels(self.service, route, scope["method"], str(status)).inc()
            REQUEST_SECONDS.labels(self.service, route).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The matched route's template (`/workers/{id}`), which the routers write into the scope they were given."""
    # FastAPI >= 0.160 keeps included routers whole; the full template (with the include prefix) is here.
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    template = getattr(effective, "path_format", None) or getattr(scope.get("route"), "path_format", None)
    return str(template) if template else UNMATCHED


def metrics_response(registry: CollectorRegistry = REGISTRY) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
