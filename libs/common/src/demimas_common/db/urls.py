"""Database URLs. Settings hold the plain `postgresql://` form (contract of `.devstack/stack.env`); SQLAlchemy
wants `postgresql+asyncpg://`, and each service connects as its own role."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

__all__ = ["asyncpg_dsn", "sqlalchemy_url", "with_user"]


def sqlalchemy_url(url: str) -> URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+asyncpg"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(f"not a PostgreSQL URL: {parsed.drivername}://…")


def with_user(url: str, user: str, password: str | None = None) -> str:
    """The same server and database, another role (the service's owner or runtime role)."""
    parsed = make_url(url).set(username=user, password=password)
    return parsed.render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    """A DSN asyncpg accepts directly (plain scheme, Unix socket as ?host=)."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)
