"""One owner role and one runtime role per service, and the service's schema.

The owner role owns the schema and runs its migrations; the runtime role, which the service connects as, gets
only what the service needs (DML on its tables, never DDL). A table the runtime role must not change (the audit
chain) revokes UPDATE/DELETE in its own migration. Idempotent: safe at every start.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["owner_role", "provision_service", "runtime_role"]


def owner_role(service: str) -> str:
    return f"{service}_owner"


def runtime_role(service: str) -> str:
    return f"{service}_app"


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe identifier {name!r}")
    return f'"{name}"'


async def provision_service(admin: AsyncConnection, service: str, *, schema: str | None = None) -> None:
    """Create the roles and schema of `service` (as a superuser or a role with CREATEROLE)."""
    schema = schema or service
    owner, runtime = _ident(owner_role(service)), _ident(runtime_role(service))
    for role in (owner_role(service), runtime_role(service)):
        exists = await admin.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
        if not exists:
            await admin.execute(text(f"CREATE ROLE {_ident(role)} LOGIN"))
    database = await admin.scalar(text("SELECT current_database()"))
    await admin.execute(text(f"GRANT CONNECT, TEMPORARY ON DATABASE {_ident(str(database))} TO {owner}, {runtime}"))
    await admin.execute(text(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)} AUTHORIZATION {owner}"))
    await admin.execute(text(f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {runtime}"))
    await admin.execute(text(f"ALTER ROLE {runtime} SET search_path = {_ident(schema)}"))
    await admin.execute(text(f"ALTER ROLE {owner} SET search_path = {_ident(schema)}"))
    # Tables and sequences the owner creates later are usable (not alterable) by the runtime role.
    await admin.execute(
        text(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {_ident(schema)} "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {runtime}"
        )
    )
    await admin.execute(
        text(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {_ident(schema)} "
            f"GRANT USAGE, SELECT ON SEQUENCES TO {runtime}"
        )
    )
