"""How a service describes itself to the devstack, the CLI and the tests (entry-point group `demimas.services`)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

__all__ = ["ServiceSpec", "discover_services"]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    """Service name; also its PostgreSQL schema and the middle of its event types."""
    port: int
    """Default port under `make run` (gateway 4000, registry 4001, designation 4002, pillars 4003, audit 4004,
    cases 4005, feeds 4006, portal 4007)."""
    app_factory: str
    """`module:function` returning the ASGI app; uvicorn calls it with `--factory`."""
    migrations: Path | None
    """The service's Alembic script folder (None for a service without a database: `database=False`)."""
    demo_loader: str | None = None
    """`module:function` (async, taking the runtime database URL) that loads demo data once."""
    graphql_schema: str | None = None
    """`module:attribute` of the Strawberry federation schema; `make supergraph` prints its SDL from it."""
    dev_links: tuple[tuple[str, str], ...] = ()
    """(label, path) of development pages `make run` prints under the service's URL (the feeds webhook sinks)."""
    database: bool = True
    """Whether the service owns a PostgreSQL schema (roles, migrations, demo data, event tables) and its events on
    NATS. A page-only service (the portal) owns neither: the devstack, `demimas events` and the deploy checks skip
    it."""
    nats: bool = True
    """Whether the service connects to NATS (`DEMIMAS_NATS_URL`): every data service; a page-only service only when
    it says so (the portal: its revoked sessions, a key-value bucket)."""
    behind_gateway: bool = False
    """Whether the service reads through the gateway (its `/readyz` checks it), so `make run` starts it after the
    gateway instead of before."""
    home_path: str = "/graphql"
    """What `make run` prints as the service's URL: the GraphQL endpoint, or the pages' start for the portal."""

    @property
    def schema(self) -> str:
        return self.name

    @classmethod
    def of(cls, name: str, port: int, *, demo: bool = True, dev_links: tuple[tuple[str, str], ...] = ()) -> ServiceSpec:
        """The spec of a service laid out as the skeleton says (docs/service-skeleton.md): package `demimas_<name>`
        with `app:create_app`, `migrations/`, the schema at `entrypoints.graphql.schema:schema` and, with `demo`,
        `demo:load_demo`."""
        package = f"demimas_{name}"
        module = importlib.import_module(package)
        assert module.__file__ is not None
        return cls(
            name=name,
            port=port,
            app_factory=f"{package}.app:create_app",
            migrations=Path(module.__file__).parent / "migrations",
            demo_loader=f"{package}.demo:load_demo" if demo else None,
            graphql_schema=f"{package}.entrypoints.graphql.schema:schema",
            dev_links=dev_links,
        )

    @classmethod
    def pages(cls, name: str, port: int, *, nats: bool = False) -> ServiceSpec:
        """The spec of a page-only service (docs/service-skeleton.md, "A service without a database"): package
        `demimas_<name>` with `app:create_app`; no schema, migrations, demo data, events or GraphQL schema of its
        own; it reads through the gateway, so `make run` starts it once the gateway is up. With `nats` it gets
        `DEMIMAS_NATS_URL` (for state shared by its replicas, not events)."""
        return cls(
            name=name,
            port=port,
            app_factory=f"demimas_{name}.app:create_app",
            migrations=None,
            database=False,
            nats=nats,
            behind_gateway=True,
            home_path="/",
        )


def discover_services() -> list[ServiceSpec]:
    specs = [ep.load() for ep in entry_points(group="demimas.services")]
    return sorted((s for s in specs if isinstance(s, ServiceSpec)), key=lambda s: s.port)
