"""Composition root of the gateway: settings -> supergraph -> subgraph client -> pipeline -> ASGI app.

uvicorn calls `create_app` (`--factory`) in each worker process; `demimas-gateway serve` sets the settings."""

from __future__ import annotations

import gc
import logging

from demimas_common.auth.jwt import TokenVerifier
from demimas_common.logs import configure_logging
from demimas_common.settings import TraceExporter
from demimas_common.telemetry import configure_tracing
from demimas_gateway.fetcher import SubgraphClient
from demimas_gateway.gateway import Gateway
from demimas_gateway.http import GatewayApp
from demimas_gateway.limits import RequestLimits
from demimas_gateway.ratelimit import RateLimiter
from demimas_gateway.settings import GatewaySettings
from demimas_gateway.sublimits import StreamSettings, SubscriptionLimits
from demimas_gateway.supergraph import Supergraph, load_supergraph
from demimas_gateway.trusted import TrustedDocuments

__all__ = ["build_app", "create_app", "limits_from_settings", "load_from_settings", "rate_limiter_from_settings"]

log = logging.getLogger("demimas.gateway")


def load_from_settings(settings: GatewaySettings) -> Supergraph:
    path = settings.gateway_supergraph
    if not path.is_file():
        raise SystemExit(f"supergraph {path} not found: run `make supergraph` or pass --supergraph")
    return load_supergraph(path.read_text(), graph_urls=settings.gateway_subgraph_urls)


def build_app(settings: GatewaySettings, supergraph: Supergraph) -> GatewayApp:
    client = SubgraphClient(
        {name: graph.url for name, graph in supergraph.graphs.items()},
        timeout_seconds=settings.gateway_subgraph_timeout_seconds,
        max_connections=settings.gateway_max_connections_per_worker,
        timeouts=settings.gateway_subgraph_timeouts,
        breaker_failures=settings.gateway_breaker_failures,
        breaker_reset_seconds=settings.gateway_breaker_reset_seconds,
    )
    gateway = Gateway(
        supergraph,
        client,
        plan_cache_size=settings.gateway_plan_cache_size,
        introspection=settings.introspection_enabled,
        trace_fetches=settings.trace_exporter is not TraceExporter.NONE,
        limits=limits_from_settings(settings),
        max_cost=settings.gateway_max_cost,
        cost_mode=settings.gateway_cost_mode,
        default_list_size=settings.gateway_default_list_size,
        reject_unauthorized=settings.gateway_reject_unauthorized,
        suggestions=settings.suggestions_enabled,
    )
    verifier = TokenVerifier(settings) if settings.jwks_path or settings.jwks_url else None
    if verifier is None and (settings.gateway_require_jwks or not settings.development):
        raise SystemExit("set DEMIMAS_JWKS_PATH or DEMIMAS_JWKS_URL: outside development the gateway verifies tokens")
    trusted = settings.gateway_trusted_documents
    return GatewayApp(
        gateway,
        verifier=verifier,
        development=settings.development,
        max_body_bytes=settings.gateway_max_body_bytes,
        max_upload_bytes=settings.gateway_max_upload_bytes,
        upload_timeout=settings.gateway_upload_timeout_seconds,
        max_variables_bytes=settings.gateway_max_variables_bytes,
        request_timeout=settings.gateway_request_timeout_seconds,
        rate_limiter=rate_limiter_from_settings(settings),
        trusted_documents=TrustedDocuments.load(trusted) if trusted else None,
        csrf_prevention=settings.gateway_csrf_prevention,
        on_shutdown=client.close,
        subscription_limits=subscription_limits_from_settings(settings),
        share_subscriptions=settings.gateway_share_subscriptions,
        stream_settings=StreamSettings(
            init_timeout_seconds=settings.gateway_ws_init_timeout_seconds,
            send_buffer_messages=settings.gateway_stream_buffer_messages,
            sse_keepalive_seconds=settings.gateway_sse_keepalive_seconds,
        ),
    )


def subscription_limits_from_settings(settings: GatewaySettings) -> SubscriptionLimits:
    """The replica's per-agency limits shared among its worker processes, as the rate limits are."""
    workers = settings.gateway_workers

    def share(limit: int | None) -> int | None:
        return None if limit is None else max(1, limit // workers)

    return SubscriptionLimits(
        per_connection=settings.gateway_subscriptions_per_connection,
        per_agency=share(settings.gateway_subscriptions_per_agency),
        anonymous_per_address=share(settings.gateway_subscriptions_anonymous),
    )


def rate_limiter_from_settings(settings: GatewaySettings) -> RateLimiter | None:
    """The replica's rules shared among its worker processes (each keeps its own buckets); None when all are off."""
    return RateLimiter.per_process(
        settings.gateway_rate_limits,
        settings.gateway_default_rate_limit,
        settings.gateway_anonymous_rate_limit,
        processes=settings.gateway_workers,
    )


def limits_from_settings(settings: GatewaySettings) -> RequestLimits:
    return RequestLimits(
        max_depth=settings.gateway_max_depth,
        max_height=settings.gateway_max_height,
        max_aliases=settings.gateway_max_aliases,
        max_root_fields=settings.gateway_max_root_fields,
        max_directives=settings.gateway_max_directives,
        max_tokens=settings.gateway_max_tokens,
        max_query_bytes=settings.gateway_max_query_bytes,
        max_variables_bytes=settings.gateway_max_variables_bytes,
    )


def create_app(settings: GatewaySettings | None = None) -> GatewayApp:
    settings = settings or GatewaySettings()
    configure_logging(settings.log_level, "gateway")
    configure_tracing("gateway", settings)
    app = build_app(settings, load_from_settings(settings))
    tune_gc()
    return app


def tune_gc() -> None:
    """Every request decodes and builds thousands of small dicts and lists that die young and form no cycles; the
    default gen-0 threshold (700) makes the collector scan them over and over (about a quarter of the CPU on the
    benchmark query). Collect rarely, and move the start-up objects (schema, plans) out of its sight."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
