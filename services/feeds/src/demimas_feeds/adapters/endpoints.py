"""Webhook endpoints and their encrypted secrets in PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, func, insert, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from demimas_common.auth.principal import Principal
from demimas_common.errors import Conflict
from demimas_feeds.adapters.tables import endpoint_secrets as s
from demimas_feeds.adapters.tables import endpoints as t
from demimas_feeds.domain.endpoint import Endpoint, EndpointStatus, effective_scopes

__all__ = ["EndpointRepository", "endpoint_of"]


def endpoint_of(r: Any) -> Endpoint:
    return Endpoint(
        id=r.id,
        agency=r.agency,
        url=r.url,
        description=r.description,
        event_types=tuple(r.event_types),
        region_prefix=r.region_prefix,
        owner_scopes=effective_scopes(r.agency, r.owner_scopes),
        owner_region=r.owner_region,
        status=EndpointStatus(r.status),
        created_by=r.created_by,
        created_at=r.created_at,
        updated_at=r.updated_at,
        version=r.version,
        disabled_reason=r.disabled_reason,
        disabled_at=r.disabled_at,
        failing_since=r.failing_since,
        last_success_at=r.last_success_at,
        deleted_at=r.deleted_at,
    )


def _values(e: Endpoint) -> dict[str, Any]:
    return {
        "id": e.id,
        "agency": e.agency,
        "url": e.url,
        "description": e.description,
        "event_types": list(e.event_types),
        "region_prefix": e.region_prefix,
        "owner_scopes": sorted(e.owner_scopes),
        "owner_region": e.owner_region,
        "status": e.status.value,
        "disabled_reason": e.disabled_reason,
        "disabled_at": e.disabled_at,
        "failing_since": e.failing_since,
        "last_success_at": e.last_success_at,
        "created_by": e.created_by,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
        "version": e.version,
        "deleted_at": e.deleted_at,
    }


def visible_rows(principal: Principal) -> Any:
    """The SQL side of `domain.endpoint.visible_to` (kept in step with it)."""
    condition = and_(t.c.agency == principal.agency.value, t.c.deleted_at.is_(None))
    if principal.region is not None:
        region = principal.region
        condition = and_(
            condition,
            or_(t.c.owner_region == region, t.c.owner_region.startswith(region + ".", autoescape=True)),
        )
    return condition


class EndpointRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, e: Endpoint) -> None:
        await self._conn.execute(insert(t).values(**_values(e)))

    async def get(self, endpoint_id: uuid.UUID, *, for_update: bool = False) -> Endpoint | None:
        query = select(t).where(t.c.id == endpoint_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return endpoint_of(row) if row is not None else None

    async def save(self, e: Endpoint) -> None:
        """Write a changed endpoint (version + 1) over the version it was read at; CONFLICT if another change won."""
        values = _values(e)
        del values["id"]
        done = await self._conn.execute(update(t).where(t.c.id == e.id, t.c.version == e.version - 1).values(**values))
        if done.rowcount != 1:
            raise Conflict("the webhook endpoint changed meanwhile; read it again", reason="version")

    async def count_live(self, agency: str, owner_region: str | None) -> tuple[int, int]:
        """(the agency's live endpoints, those of the office: created by tokens of `owner_region`, or by national
        tokens when None), counted under a transaction lock on the agency so that concurrent creations cannot both
        pass a limit."""
        await self._conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('feeds.endpoints'), hashtext(:a))"),
                                 {"a": agency})  # fmt: skip
        region = t.c.owner_region.is_(None) if owner_region is None else t.c.owner_region == owner_region
        query = select(func.count(), func.count().filter(region)).select_from(t)
        row = (await self._conn.execute(query.where(t.c.agency == agency, t.c.deleted_at.is_(None)))).one()
        return int(row[0]), int(row[1])

    def _page_query(self, principal: Principal) -> Select[Any]:
        return select(t).where(visible_rows(principal))

    async def page(
        self, principal: Principal, *, first: int, after: tuple[dt.datetime, uuid.UUID] | None
    ) -> list[Endpoint]:
        """Up to `first + 1` endpoints the principal sees, oldest first by (created_at, id)."""
        query = self._page_query(principal)
        if after is not None:
            query = query.where(tuple_(t.c.created_at, t.c.id) > tuple_(*after))
        query = query.order_by(t.c.created_at, t.c.id).limit(first + 1)
        return [endpoint_of(r) for r in await self._conn.execute(query)]

    async def count(self, principal: Principal) -> int:
        query = select(func.count()).select_from(t).where(visible_rows(principal))
        return int(await self._conn.scalar(query) or 0)

    # secrets

    async def add_secret(
        self, endpoint_id: uuid.UUID, ciphertext: bytes, at: dt.datetime, expires_at: dt.datetime | None = None
    ) -> uuid.UUID:
        secret_id = uuid.uuid4()
        await self._conn.execute(
            insert(s).values(
                id=secret_id, endpoint_id=endpoint_id, ciphertext=ciphertext, created_at=at, expires_at=expires_at
            )
        )
        return secret_id

    async def expire_secrets(self, endpoint_id: uuid.UUID, at: dt.datetime, expires_at: dt.datetime) -> None:
        """Give every secret of the endpoint that is active at `at` an end no later than `expires_at`."""
        await self._conn.execute(
            update(s)
            .where(
                s.c.endpoint_id == endpoint_id,
                or_(s.c.expires_at.is_(None), s.c.expires_at > expires_at),
                or_(s.c.expires_at.is_(None), s.c.expires_at > at),
            )
            .values(expires_at=expires_at)
        )

    async def active_secrets(self, endpoint_id: uuid.UUID, at: dt.datetime) -> Sequence[bytes]:
        """The ciphertexts of the secrets that sign at `at`, newest first."""
        query = (
            select(s.c.ciphertext)
            .where(s.c.endpoint_id == endpoint_id, or_(s.c.expires_at.is_(None), s.c.expires_at > at))
            .order_by(s.c.created_at.desc(), s.c.id)
        )
        return [bytes(r.ciphertext) for r in await self._conn.execute(query)]

    async def pending_bodies(
        self, endpoint_id: uuid.UUID, *, after_seq: int = 0, limit: int = 2000
    ) -> list[tuple[uuid.UUID, int, bytes]]:
        """A slice of the endpoint's queue in order: (delivery id, seq, the exact body it would send)."""
        from demimas_feeds.adapters.tables import deliveries as d

        query = (
            select(d.c.id, d.c.seq, d.c.body)
            .where(d.c.endpoint_id == endpoint_id, d.c.status == "PENDING", d.c.seq > after_seq)
            .order_by(d.c.seq)
            .limit(limit)
        )
        return [(r.id, r.seq, bytes(r.body)) for r in await self._conn.execute(query)]

    async def cancel_deliveries(self, delivery_ids: Sequence[uuid.UUID], reason: str) -> None:
        """PENDING deliveries that must not be sent become CANCELLED, with the reason as their last error."""
        from demimas_feeds.adapters.tables import deliveries as d

        if delivery_ids:
            await self._conn.execute(
                update(d)
                .where(d.c.id.in_(list(delivery_ids)), d.c.status == "PENDING")
                .values(status="CANCELLED", last_error=reason)
            )

    async def cancel_pending(self, endpoint_id: uuid.UUID) -> int:
        """A deleted endpoint's queue: its PENDING deliveries become CANCELLED (kept for the log)."""
        from demimas_feeds.adapters.tables import deliveries as d

        done = await self._conn.execute(
            update(d).where(d.c.endpoint_id == endpoint_id, d.c.status == "PENDING").values(status="CANCELLED")
        )
        return int(done.rowcount)
