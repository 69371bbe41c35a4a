"""How a service describes itself to the devstack, the CLI and the tests (entry-point group `demimas.services`)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

__all__ = ["ServiceSpec", "discover_services"]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    """Service name; also its PostgreSQL schema and the middle of its event types."""
    port: int
    """Default port under `make run` (gateway 4000, registry 4001, designation 4002, pillars 4003, audit 4004)."""
    app_factory: str
    """`module:function` returning the ASGI app; uvicorn calls it with `--factory`."""
    migrations: Path
    """The service's Alembic script folder."""
    demo_loader: str | None = None
    """`module:function` (async, taking the runtime database URL) that loads demo data once."""
    graphql_schema: str | None = None
    """`module:attribute` of the Strawberry federation schema; `make supergraph` prints its SDL from it."""

    @property
    def schema(self) -> str:
        return self.name


def discover_services() -> list[ServiceSpec]:
    specs = [ep.load() for ep in entry_points(group="demimas.services")]
    return sorted((s for s in specs if isinstance(s, ServiceSpec)), key=lambda s: s.port)
