"""Gateway settings (`DEMIMAS_*` and `DEMIMAS_GATEWAY_*` environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from demimas_common.settings import CommonSettings, Environment

__all__ = ["GatewaySettings"]


class GatewaySettings(CommonSettings):
    # `DEMIMAS_GATEWAY_MAX_DEPTH=null` (docs/gateway-security.md) switches a limit off: read "null" as None
    model_config = SettingsConfigDict(env_prefix="DEMIMAS_", extra="ignore", env_parse_none_str="null")

    gateway_supergraph: Path = Field(
        default=Path("deploy/supergraph.graphql"), description="The composed supergraph the gateway serves."
    )
    gateway_subgraph_urls: dict[str, str] = Field(
        default_factory=dict,
        description='Subgraph URLs by subgraph name, overriding the supergraph\'s (JSON: {"registry": "http://..."}).',
    )
    gateway_subgraph_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    gateway_max_connections_per_worker: int = Field(default=100, ge=1, le=10_000)
    gateway_plan_cache_size: int = Field(default=2000, ge=1)
    gateway_introspection: bool | None = Field(
        default=None, description="Answer introspection; by default in development and test only."
    )
    gateway_require_jwks: bool = Field(
        default=False, description="Refuse to start without DEMIMAS_JWKS_PATH/URL (always so in production)."
    )

    # ---- security (docs/gateway-security.md) ----
    gateway_max_depth: int | None = Field(default=15, ge=1, description="Deepest field nesting; null: no limit.")
    gateway_max_height: int | None = Field(default=400, ge=1, description="Field selections in an operation.")
    gateway_max_aliases: int | None = Field(default=30, ge=0, description="Aliased fields in an operation.")
    gateway_max_root_fields: int | None = Field(default=20, ge=1, description="Top-level fields of an operation.")
    gateway_max_directives: int | None = Field(default=50, ge=0, description="Directive applications.")
    gateway_max_tokens: int | None = Field(default=5000, ge=1, description="Lexical tokens of a document.")
    gateway_max_query_bytes: int | None = Field(default=32_768, ge=1, description="Characters of a document.")
    gateway_max_variables_bytes: int | None = Field(default=65_536, ge=1, description="JSON size of variables.")
    gateway_max_body_bytes: int = Field(default=262_144, ge=1024, description="HTTP request body size.")
    gateway_max_upload_bytes: int = Field(
        default=200 * 1024 * 1024, ge=1024, description="Body of `POST /uploads/workers` (the file and its envelope)."
    )
    gateway_upload_timeout_seconds: float = Field(
        default=600.0, gt=0, description="How long an upload may take to reach the registry and be imported."
    )
    gateway_max_cost: float | None = Field(
        default=100_000, gt=0, description="Estimated cost (@cost/@listSize); null: not estimated."
    )
    gateway_cost_mode: Literal["enforce", "measure"] = Field(
        default="enforce", description="enforce: refuse costlier operations; measure: record the estimate only."
    )
    gateway_default_list_size: int = Field(default=10, ge=1, description="Assumed size of lists without @listSize.")
    gateway_reject_unauthorized: bool = Field(
        default=False, description="Refuse an operation that selects anything the caller may not see (else null)."
    )
    gateway_request_timeout_seconds: float | None = Field(default=30.0, gt=0, le=600)
    gateway_subgraph_timeouts: dict[str, float] = Field(
        default_factory=dict, description='Timeouts per subgraph, in seconds (JSON: {"audit": 20}).'
    )
    gateway_breaker_failures: int | None = Field(
        default=5, ge=1, description="Consecutive failures that open a subgraph's circuit breaker; null: none."
    )
    gateway_breaker_reset_seconds: float = Field(default=5.0, gt=0, description="How long a breaker stays open.")
    gateway_csrf_prevention: bool = Field(default=True, description="Refuse requests a browser sends cross-site.")
    gateway_trusted_documents: Path | None = Field(
        default=None, description="A manifest of registered operations: with it, only they run."
    )
    # Rate limits (docs/gateway-security.md, "Rate limits"): on by default in every environment. Each is
    # [requests per second, burst] per gateway replica; `null` switches one off.
    gateway_rate_limits: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description='Rate and burst of named agencies, per replica, instead of the default ({"KP2MI": [100, 200]}).',
    )
    gateway_default_rate_limit: tuple[float, float] | None = Field(
        default=(50, 100), description="Rate and burst of every agency without its own, per replica; null: none."
    )
    gateway_anonymous_rate_limit: tuple[float, float] | None = Field(
        default=(5, 10), description="Rate and burst of callers without a token, per client address and replica."
    )
    gateway_workers: int = Field(
        default=1,
        ge=1,
        le=256,
        description="Worker processes of this replica (set by `demimas-gateway serve --workers`): each process keeps "
        "its own buckets, so each gets rate / workers and burst / workers, and the replica as a whole the rate.",
    )
    # Subscriptions (docs/subscriptions.md): WebSocket (graphql-transport-ws) and SSE at /graphql.
    gateway_subscriptions_per_connection: int = Field(
        default=100, ge=1, description="Subscriptions one WebSocket connection may hold at once."
    )
    gateway_subscriptions_per_agency: int | None = Field(
        default=5000, ge=1, description="Subscriptions an agency may hold at once, per replica; null: no limit."
    )
    gateway_subscriptions_anonymous: int | None = Field(
        default=10, ge=1, description="Subscriptions a caller without a token may hold, per address and replica."
    )
    gateway_ws_init_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="Time a new WebSocket has to send `connection_init` (else 4408)."
    )
    gateway_stream_buffer_messages: int = Field(
        default=1000, ge=1, description="Messages waiting for one slow client at most (then 4413 / the SSE stream cut)."
    )
    gateway_share_subscriptions: bool = Field(
        default=True,
        description="One upstream subscription for live subscribers with the same document, variables and token.",
    )
    gateway_sse_keepalive_seconds: float = Field(default=15.0, gt=0, description="SSE comment line interval.")
    gateway_suggestions: bool | None = Field(
        default=None, description='"Did you mean" hints in validation errors; by default in development only.'
    )

    @property
    def introspection_enabled(self) -> bool:
        if self.gateway_introspection is not None:
            return self.gateway_introspection
        return self.environment is not Environment.PRODUCTION

    @property
    def suggestions_enabled(self) -> bool:
        if self.gateway_suggestions is not None:
            return self.gateway_suggestions
        return self.environment is not Environment.PRODUCTION

    @property
    def development(self) -> bool:
        return self.environment is Environment.DEVELOPMENT
