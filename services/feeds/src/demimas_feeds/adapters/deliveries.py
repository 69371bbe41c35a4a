"""The delivery queue in PostgreSQL, in bulk statements over asyncpg (arrays, `unnest`): the fan-out's insert of a
whole batch, the dispatcher's per-endpoint claim of the next deliveries in order, and the recording of a batch of
attempts (one UPDATE of the deliveries, one INSERT of the attempts, the endpoint's health).

Leases are PostgreSQL session advisory locks held on one connection per dispatcher (`Leases`): an endpoint's queue is
sent by whoever holds its lock, and a dispatcher that dies loses its locks with its connection, so another replica
takes over at once, with no lease table to expire."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from demimas_feeds.domain.endpoint import effective_scopes

__all__ = [
    "NOTIFY_CHANNEL",
    "ActiveEndpoint",
    "Claimed",
    "EndpointHead",
    "EndpointState",
    "Outcome",
    "active_endpoints",
    "changed_since",
    "claim",
    "endpoint_heads",
    "endpoint_state",
    "endpoints_version",
    "insert_deliveries",
    "lease_key",
    "notify",
    "record",
]

NOTIFY_CHANNEL = "feeds_deliveries"
"""NOTIFY'd (payload: endpoint ids, comma-separated, or empty for "look") when deliveries become due."""
_LEASE_SPACE = 0x46454544  # "FEED": the advisory lock space of the endpoint leases


def lease_key(endpoint_id: uuid.UUID) -> int:
    """The advisory lock key of an endpoint: 64 bits of its id, the lock space mixed in."""
    return int.from_bytes(endpoint_id.bytes[8:], "big", signed=True) ^ _LEASE_SPACE


@dataclass(frozen=True, slots=True)
class ActiveEndpoint:
    id: uuid.UUID
    agency: str
    event_types: tuple[str, ...]
    region_prefix: str | None
    owner_scopes: frozenset[str]
    owner_region: str | None
    version: int = 0


async def endpoints_version(conn: Any) -> tuple[int, dt.datetime | None]:
    """Changes whenever an endpoint is created, changed or deleted (its `updated_at`), not by delivery health."""
    row = await conn.fetchrow("SELECT count(*) AS n, max(updated_at) AS at FROM feeds.endpoints")
    return int(row["n"]), row["at"]


async def changed_since(conn: Any, versions: dict[uuid.UUID, int]) -> bool:
    """Whether any of these endpoints has another version now (or is no longer ACTIVE), read under a KEY SHARE lock
    on their rows: an update holding its row lock is waited for, and one that comes later waits for this
    transaction's commit (so its check of the queue sees what was inserted here)."""
    rows = await conn.fetch(
        "SELECT id, version, status = 'ACTIVE' AND deleted_at IS NULL AS active FROM feeds.endpoints "
        "WHERE id = ANY($1::uuid[]) FOR KEY SHARE",
        list(versions),
    )
    return len(rows) != len(versions) or any(not r["active"] or versions[r["id"]] != r["version"] for r in rows)


async def active_endpoints(conn: Any) -> list[ActiveEndpoint]:
    rows = await conn.fetch(
        "SELECT id, agency, event_types, region_prefix, owner_scopes, owner_region, version FROM feeds.endpoints "
        "WHERE status = 'ACTIVE' AND deleted_at IS NULL ORDER BY id"
    )
    return [
        ActiveEndpoint(
            r["id"],
            r["agency"],
            tuple(r["event_types"]),
            r["region_prefix"],
            effective_scopes(r["agency"], r["owner_scopes"]),
            r["owner_region"],
            r["version"],
        )
        for r in rows
    ]


_INSERT = """
INSERT INTO feeds.deliveries
    (id, endpoint_id, stream_seq, event_id, event_type, body, status, attempts, next_attempt_at, created_at, replay_of)
SELECT d.id, d.endpoint_id, d.stream_seq, d.event_id, d.event_type, d.body, 'PENDING', 0, now(), now(), d.replay_of
FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::text[], $6::bytea[], $7::uuid[])
    WITH ORDINALITY AS d(id, endpoint_id, stream_seq, event_id, event_type, body, replay_of, n)
ORDER BY d.n
"""


@dataclass
class NewDeliveries:
    """Columns of deliveries to insert, in order (the order gives each endpoint's queue its order)."""

    ids: list[uuid.UUID]
    endpoint_ids: list[uuid.UUID]
    stream_seqs: list[int]
    event_ids: list[str]
    event_types: list[str]
    bodies: list[bytes]
    replay_of: list[uuid.UUID | None]

    @classmethod
    def empty(cls) -> NewDeliveries:
        return cls([], [], [], [], [], [], [])

    def add(self, delivery_id: uuid.UUID, endpoint_id: uuid.UUID, stream_seq: int, event_id: str,
            event_type: str, body: bytes, replay_of: uuid.UUID | None = None) -> None:  # fmt: skip
        self.ids.append(delivery_id)
        self.endpoint_ids.append(endpoint_id)
        self.stream_seqs.append(stream_seq)
        self.event_ids.append(event_id)
        self.event_types.append(event_type)
        self.bodies.append(body)
        self.replay_of.append(replay_of)

    def __len__(self) -> int:
        return len(self.ids)


async def insert_deliveries(conn: Any, new: NewDeliveries) -> None:
    """One statement for the whole batch, whatever its size."""
    if new.ids:
        await conn.execute(_INSERT, new.ids, new.endpoint_ids, new.stream_seqs, new.event_ids, new.event_types,
                           new.bodies, new.replay_of)  # fmt: skip


async def notify(conn: Any, endpoint_ids: Sequence[uuid.UUID], *, origin: str = "") -> None:
    """Wake the dispatchers of every process on this database (delivered at commit). Payload `origin|ids`: the
    dispatcher that the sender already woke in process ignores its own origin; ids empty = "look"."""
    ids = ",".join(sorted({str(e) for e in endpoint_ids}))
    payload = f"{origin}|{ids if len(ids) < 7000 else ''}"
    await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, payload)


@dataclass(frozen=True, slots=True)
class EndpointHead:
    endpoint_id: uuid.UUID
    due_at: dt.datetime


async def endpoint_heads(conn: Any) -> list[EndpointHead]:
    """Each active endpoint that has PENDING deliveries, with when its head (its oldest) is due."""
    rows = await conn.fetch(
        """
        SELECT e.id, h.next_attempt_at FROM feeds.endpoints e
        CROSS JOIN LATERAL (
            SELECT d.next_attempt_at FROM feeds.deliveries d
            WHERE d.endpoint_id = e.id AND d.status = 'PENDING' ORDER BY d.seq LIMIT 1) h
        WHERE e.status = 'ACTIVE' AND e.deleted_at IS NULL
        """
    )
    return [EndpointHead(r["id"], r["next_attempt_at"]) for r in rows]


@dataclass(frozen=True, slots=True)
class EndpointState:
    id: uuid.UUID
    url: str
    version: int
    secrets: tuple[tuple[bytes, dt.datetime | None], ...]
    """Ciphertexts of the secrets not expired when read, with when they expire (newest first)."""

    def signing(self, now: dt.datetime) -> list[bytes]:
        """The ciphertexts of the secrets that sign at `now` (a rotated-out one until its grace ends)."""
        return [c for c, expires in self.secrets if expires is None or expires > now]


async def endpoint_state(conn: Any, endpoint_id: uuid.UUID) -> EndpointState | None:
    row = await conn.fetchrow(
        """
        SELECT e.id, e.url, e.version,
            coalesce((SELECT array_agg(s.ciphertext ORDER BY s.created_at DESC) FROM feeds.endpoint_secrets s
                      WHERE s.endpoint_id = e.id AND (s.expires_at IS NULL OR s.expires_at > now())), '{}') AS c,
            coalesce((SELECT array_agg(s.expires_at ORDER BY s.created_at DESC) FROM feeds.endpoint_secrets s
                      WHERE s.endpoint_id = e.id AND (s.expires_at IS NULL OR s.expires_at > now())), '{}') AS x
        FROM feeds.endpoints e WHERE e.id = $1
        """,
        endpoint_id,
    )
    if row is None:
        return None
    return EndpointState(row["id"], row["url"], row["version"], tuple(zip(row["c"], row["x"], strict=True)))


@dataclass(frozen=True, slots=True)
class Claimed:
    id: uuid.UUID
    seq: int
    body: bytes
    attempts: int
    next_attempt_at: dt.datetime


async def claim(conn: Any, endpoint_id: uuid.UUID, after_seq: int, limit: int) -> tuple[int | None, list[Claimed]]:
    """The endpoint's version (None when it is gone, deleted or not ACTIVE) and its next PENDING deliveries in
    order, in one round trip (the caller holds the endpoint's lease)."""
    rows = await conn.fetch(
        """
        SELECT e.version, e.status = 'ACTIVE' AND e.deleted_at IS NULL AS active,
            d.id, d.seq, d.body, d.attempts, d.next_attempt_at
        FROM feeds.endpoints e
        LEFT JOIN LATERAL (
            SELECT id, seq, body, attempts, next_attempt_at FROM feeds.deliveries
            WHERE endpoint_id = e.id AND status = 'PENDING' AND seq > $2 ORDER BY seq LIMIT $3) d ON true
        WHERE e.id = $1 ORDER BY d.seq
        """,
        endpoint_id,
        after_seq,
        limit,
    )
    if not rows or not rows[0]["active"]:
        return None, []
    claimed = [Claimed(r["id"], r["seq"], r["body"], r["attempts"], r["next_attempt_at"]) for r in rows if r["id"]]
    return int(rows[0]["version"]), claimed


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt and what it leaves the delivery as."""

    delivery_id: uuid.UUID
    status: str  # PENDING (retry at next_attempt_at), DELIVERED or FAILED
    attempts: int
    next_attempt_at: dt.datetime
    attempted_at: dt.datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    excerpt: str


_RECORD = """
WITH r AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::timestamptz[], $5::timestamptz[], $6::int[],
                         $7::text[], $8::int[], $9::text[])
        AS r(id, status, attempts, next_at, at, code, error, ms, excerpt)
), updated AS (
    UPDATE feeds.deliveries d SET status = r.status, attempts = r.attempts, next_attempt_at = r.next_at,
        delivered_at = CASE WHEN r.status = 'DELIVERED' THEN r.at ELSE d.delivered_at END,
        last_status_code = r.code, last_error = r.error
    FROM r WHERE d.id = r.id AND d.status = 'PENDING'
    RETURNING d.id
), logged AS (
    INSERT INTO feeds.attempts (delivery_id, endpoint_id, attempted_at, status_code, error, duration_ms,
                                response_excerpt)
    SELECT r.id, $10, r.at, r.code, r.error, r.ms, r.excerpt FROM r
    RETURNING id
)
UPDATE feeds.endpoints SET last_success_at = coalesce($11, last_success_at),
    failing_since = CASE WHEN $12 THEN $13 ELSE coalesce(failing_since, $13) END
WHERE id = $10
RETURNING failing_since, (SELECT count(*) FROM updated) AS updated, (SELECT count(*) FROM logged) AS logged
"""


async def record(conn: Any, endpoint_id: uuid.UUID, outcomes: Sequence[Outcome]) -> dt.datetime | None:
    """The outcomes of a run of attempts on one endpoint in one statement (so one round trip, and atomic without a
    transaction of its own): the deliveries, their attempts, and the endpoint's health. `failing_since` is when the
    endpoint has been failing without a success since: a run with a success sets it to its first failure after its
    last success (NULL when the run ended in a success), so a busy endpoint whose runs are "successes..., failure"
    is never failing for long; a run of failures only sets it if unset. Returns `failing_since`."""
    if not outcomes:
        return None
    successes = [o.attempted_at for o in outcomes if o.status == "DELIVERED"]
    after_success = outcomes
    for i, o in enumerate(outcomes):
        if o.status == "DELIVERED":
            after_success = outcomes[i + 1 :]
    failing_from = after_success[0].attempted_at if after_success else None
    row = await conn.fetchrow(
        _RECORD,
        [o.delivery_id for o in outcomes],
        [o.status for o in outcomes],
        [o.attempts for o in outcomes],
        [o.next_attempt_at for o in outcomes],
        [o.attempted_at for o in outcomes],
        [o.status_code for o in outcomes],
        [o.error for o in outcomes],
        [o.duration_ms for o in outcomes],
        [o.excerpt.replace("\x00", "\ufffd") for o in outcomes],
        endpoint_id,
        max(successes) if successes else None,
        bool(successes),
        failing_from,
    )
    return None if row is None else row["failing_since"]


async def disable_failing(conn: Any, endpoint_id: uuid.UUID, reason: str, now: dt.datetime) -> bool:
    """Mark the endpoint DISABLED (it stays so until its agency enables it); False when it was not ACTIVE."""
    row = await conn.fetchrow(
        "UPDATE feeds.endpoints SET status = 'DISABLED', disabled_reason = $2, disabled_at = $3, updated_at = $3, "
        "version = version + 1 WHERE id = $1 AND status = 'ACTIVE' AND deleted_at IS NULL RETURNING id",
        endpoint_id,
        reason,
        now,
    )
    return row is not None


async def _no_reset(_conn: Any) -> None:
    """The dispatcher's connections hold no session state to reset (its leases live on a connection of their own):
    skipping the reset saves a round trip per use."""


DISPATCH_SESSION = {"application_name": "feeds-dispatch", "synchronous_commit": "off"}
"""The dispatcher's pool sessions. `synchronous_commit = off`: the pool only reads (claims, heads, endpoint state)
and records attempts, and a record does not wait for its WAL flush (one fsync per endpoint and run: at 20 events/s
to 50 endpoints, 1,000 flushes a second). A crash of PostgreSQL may lose the last records (up to 3 x
wal_writer_delay, 0.6 s by default, never a torn one): their deliveries are PENDING again and sent again with the
same `webhook-id`, which at-least-once delivery already allows and receivers drop. The fan-out's inserts, the
disabling of an endpoint and its event stay synchronous (they go through the service's engine)."""


async def direct_pool(engine: Any, size: int) -> Any:
    """A small asyncpg pool of the dispatcher: its short queries go without the engine's pre-ping and reset round
    trips (each claim and each record is one round trip), and its commits without waiting for the WAL flush
    (`DISPATCH_SESSION`)."""
    import asyncpg

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return await asyncpg.create_pool(url, min_size=1, max_size=size, reset=_no_reset,
                                     server_settings=DISPATCH_SESSION)  # fmt: skip


async def direct_connection(engine: Any) -> Any:
    """An asyncpg connection outside the pool, for what lives as long as the connection: session advisory locks
    (leases, the fan-out lock) and LISTEN. Never returned to a pool, so a lock never outlives its holder's use."""
    import asyncpg

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return await asyncpg.connect(url, server_settings={"application_name": "feeds-engine"})
