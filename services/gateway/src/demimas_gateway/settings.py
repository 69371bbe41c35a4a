"""Gateway settings (`DEMIMAS_*` and `DEMIMAS_GATEWAY_*` environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from demimas_common.settings import CommonSettings, Environment

__all__ = ["GatewaySettings"]


class GatewaySettings(CommonSettings):
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

    @property
    def introspection_enabled(self) -> bool:
        if self.gateway_introspection is not None:
            return self.gateway_introspection
        return self.environment is not Environment.PRODUCTION

    @property
    def development(self) -> bool:
        return self.environment is Environment.DEVELOPMENT
