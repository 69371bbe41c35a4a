"""Database URLs. Settings hold the plain `postgresql://` form (contract of `.devstack/stack.env`); SQLAlchemy
wants `postgresql+asyncpg://`, and each service connects as its own role."""

from __future__ import annotations

import sys

from sqlalchemy.engine import URL, make_url

__all__ = ["asyncpg_dsn", "command_database_url", "runtime_url", "sqlalchemy_url", "with_user"]


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


def runtime_url(url: str, service: str) -> str:
    """A URL without a password (the devstack's local socket) switched to the service's runtime role, so that a
    command has exactly the service's privileges; a URL with credentials is used as given."""
    from demimas_common.db.provision import runtime_role

    return url if make_url(url).password else with_user(url, runtime_role(service))


def command_database_url(service: str) -> str | None:
    """The database URL a `demimas <service> ...` command connects with (`runtime_url` of DEMIMAS_DATABASE_URL), or
    None after telling the user what to set."""
    from demimas_common.settings import CommonSettings

    url = CommonSettings().database_url
    if url is None:
        print("set DEMIMAS_DATABASE_URL (make run writes it to .devstack/stack.env)", file=sys.stderr)
        return None
    return runtime_url(url, service)
