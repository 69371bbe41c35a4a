"""The webhook dispatcher: sends each endpoint's PENDING deliveries in order, many endpoints at once.

- **Leases.** An endpoint's queue is sent only by the process holding its lease (a session advisory lock on the
  dispatcher's own connection, adapters/deliveries.py), so two replicas never send the same queue at once; the lease
  is released when the queue is empty or its head waits for a retry. If the lease connection is lost, every
  endpoint loop stops before anything else is sent.
- **Per-endpoint loops.** Up to `concurrency` endpoints are served at once, one loop each: claim the next `batch`
  PENDING deliveries in order (one query), send them one after the other over the endpoint's kept-alive connection,
  then record the whole run (one UPDATE, one INSERT of the attempts, the endpoint's health) in one transaction.
- **Head of line.** A failed delivery is retried per the backoff schedule and blocks the endpoint's later deliveries
  until it succeeds or is exhausted (FAILED, after which the next one goes); other endpoints are not affected. An
  endpoint failing without a success for `disable_after` is disabled with a `demimas.feeds.endpoint.disabled` event
  (reason `failing`), its `disabledReason` and the head delivery's `lastError` say why.
- **Wake-ups.** The fan-out of this process wakes the dispatcher directly after its commit; other processes' fan-outs
  (and redeliveries, replays) by NOTIFY on `feeds_deliveries`; a look at every endpoint's head each `poll_seconds`
  (and when the earliest retry is due) catches anything else.
- **At least once.** A delivery is marked only after it was sent; a crash between the two sends it again with the
  same `webhook-id`, which lets receivers drop the duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from demimas_feeds.adapters.deliveries import (
    NOTIFY_CHANNEL,
    Claimed,
    EndpointState,
    Outcome,
    claim,
    direct_connection,
    direct_pool,
    disable_failing,
    endpoint_heads,
    endpoint_state,
    lease_key,
    record,
)
from demimas_feeds.adapters.sender import EndpointSender, Resolver, SendResult, system_resolver
from demimas_feeds.adapters.unit_of_work import FeedsUnitOfWork
from demimas_feeds.domain import events, signing
from demimas_feeds.domain.backoff import Backoff

DISABLED_FAILING = events.DISABLED_FAILING
"""The endpoint's `disabledReason` when the engine disabled it (`by_agency` when its agency did)."""

__all__ = ["DISABLED_FAILING", "DisableHook", "DispatchSettings", "Dispatcher", "publish_disabled"]

log = logging.getLogger("demimas.feeds.dispatch")
ATTEMPTS = Counter(
    "demimas_feeds_attempts_total", "Webhook delivery attempts by outcome (delivered, retry, failed)", ["outcome"]
)
ATTEMPT_SECONDS = Histogram(
    "demimas_feeds_attempt_seconds", "Duration of webhook delivery attempts",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
DISABLED = Counter("demimas_feeds_endpoints_disabled_total", "Endpoints disabled after failing too long")
ENDPOINTS_SERVED = Gauge("demimas_feeds_endpoints_served", "Endpoints whose queue this process is sending now")
DisableHook = Callable[[AsyncConnection, uuid.UUID, str, dt.datetime | None], Awaitable[None]]
"""`(connection, endpoint id, reason text, failing since)`: publishes the disabled event in the transaction
that disabled the endpoint."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class DispatchSettings:
    backoff: Backoff = field(default_factory=Backoff)
    concurrency: int = 64
    batch: int = 100
    timeout: float = 10.0
    connect_timeout: float = 5.0
    response_cap: int = 64 * 1024
    poll_seconds: float = 1.0
    connections: int = 8
    """PostgreSQL connections of the dispatcher's own pool (claims and records), besides its lease and LISTEN
    connections."""
    linger_seconds: float = 2.0
    """An endpoint whose queue is empty keeps its lease and slot this long for the next event (unless other
    endpoints wait for a slot)."""
    https_only: bool = False
    """Production: an endpoint whose URL is not https:// is not sent to, even if its row says otherwise (the API
    refuses such URLs when they are registered; this is the second check, at the moment of sending)."""
    turn_seconds: float = 5.0
    """An endpoint with more to send gives its slot up after this long when other endpoints wait for one (a slow
    receiver with a deep queue must not keep other agencies' deliveries waiting)."""
    idle_connections: int = 256
    """Kept-alive connections to endpoints whose queue is empty (the least recently used are closed)."""


class _Lost(Exception):
    """The lease connection is gone: no loop may send any more."""


class Dispatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        decrypt: Callable[[uuid.UUID, bytes], str],
        settings: DispatchSettings | None = None,
        resolve: Resolver = system_resolver,
        on_disable: DisableHook | None = None,
    ) -> None:
        self.engine = engine
        self.decrypt = decrypt
        self.settings = settings or DispatchSettings()
        self.resolve = resolve
        self.on_disable = on_disable
        self._wake = asyncio.Event()
        self._woken: set[uuid.UUID] = set()
        self._look = True  # look at every endpoint's head at the next round
        self._loops: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._poked: dict[uuid.UUID, asyncio.Event] = {}
        self._states: dict[uuid.UUID, EndpointState] = {}
        self._complained: dict[uuid.UUID, int] = {}
        self._turn_ended: dict[uuid.UUID, float] = {}
        """When each endpoint last gave its slot up (monotonic): waiting endpoints served least recently first."""
        self._senders: dict[uuid.UUID, EndpointSender] = {}
        self._keys: dict[bytes, bytes] = {}
        self._lease_conn: Any = None
        self._lease_lock = asyncio.Lock()
        self._listen_conn: Any = None
        self._db: Any = None
        self._running = True
        self.own_origin = ""
        """The origin of the fan-out that wakes this dispatcher in process (its NOTIFYs are then ignored)."""
        self.sent = 0  # deliveries sent by this process (metrics, benchmark)

    # -- wake-ups -----------------------------------------------------------------------------------------------
    def wake(self, endpoint_ids: Iterable[uuid.UUID] | None = None) -> None:
        """New or due deliveries: for these endpoints, or (None) anywhere."""
        if endpoint_ids is None:
            self._look = True
        else:
            for endpoint_id in endpoint_ids:
                poked = self._poked.get(endpoint_id)
                if poked is not None:
                    poked.set()
                else:
                    self._woken.add(endpoint_id)
        self._wake.set()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        origin, _, ids = payload.rpartition("|")
        if origin and origin == self.own_origin:
            return  # this process's fan-out woke us already, in process
        if not ids:
            self.wake(None)
            return
        try:
            self.wake([uuid.UUID(part) for part in ids.split(",")])
        except ValueError:
            self.wake(None)

    # -- the scheduler --------------------------------------------------------------------------------------------
    async def run(self) -> None:
        while self._running:
            try:
                await self._connect()
                await self._schedule()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("feeds dispatcher: %s: %s; reconnecting", type(exc).__name__, exc)
                await self._stop_loops()
                await self._disconnect()
                await asyncio.sleep(1.0)
        await self._stop_loops()

    async def _connect(self) -> None:
        if self._lease_conn is None or self._lease_conn.is_closed():
            self._lease_conn = await direct_connection(self.engine)
            # losing it loses every lease: the scheduler wakes at once and stops every loop
            self._lease_conn.add_termination_listener(lambda _conn: self._wake.set())
        if self._db is None:
            self._db = await direct_pool(self.engine, self.settings.connections)
        if self._listen_conn is None or self._listen_conn.is_closed():
            self._listen_conn = await direct_connection(self.engine)
            await self._listen_conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
            self._look = True  # what was notified while not listening

    async def _disconnect(self) -> None:
        for attr in ("_lease_conn", "_listen_conn"):
            conn = getattr(self, attr)
            setattr(self, attr, None)
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)

    async def _schedule(self) -> None:
        next_due: float | None = None
        looked = time.monotonic()
        while self._running:
            timeout = self.settings.poll_seconds
            if next_due is not None:
                timeout = max(0.0, min(timeout, next_due - time.time()))
            timed_out = False
            if not self._wake.is_set():
                try:
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
                except TimeoutError:
                    timed_out = True
            self._wake.clear()
            if self._lease_conn is None or self._lease_conn.is_closed():
                raise _Lost("the lease connection closed")
            candidates, self._woken = self._woken, set()
            overdue = time.monotonic() - looked >= self.settings.poll_seconds  # busy with wake-ups: look anyway
            if self._look or timed_out or overdue or (next_due is not None and time.time() >= next_due):
                self._look = False
                looked = time.monotonic()
                next_due = None
                now = _now()
                async with self._db.acquire() as driver:
                    heads = await endpoint_heads(driver)
                for head in heads:
                    if head.due_at <= now:
                        candidates.add(head.endpoint_id)
                    else:
                        due = head.due_at.timestamp()
                        next_due = due if next_due is None else min(next_due, due)
            await self._start(candidates)

    async def _start(self, candidates: set[uuid.UUID]) -> None:
        free = self.settings.concurrency - len(self._loops)
        waiting = sorted((e for e in candidates if e not in self._loops), key=lambda e: self._turn_ended.get(e, 0.0))
        wanted = waiting[: max(0, free)]
        if len(wanted) < len(candidates - self._loops.keys()):
            self._look = True  # some wait for a free slot: look again when one frees
        if not wanted:
            return
        keys = [lease_key(e) for e in wanted]
        async with self._lease_lock:
            got = await self._lease_conn.fetch(
                "SELECT k FROM unnest($1::bigint[]) AS k WHERE pg_try_advisory_lock(k)", keys
            )
        held = {r["k"] for r in got}
        for endpoint_id in wanted:
            if lease_key(endpoint_id) in held:
                self._poked[endpoint_id] = asyncio.Event()
                ENDPOINTS_SERVED.inc()
                self._loops[endpoint_id] = asyncio.create_task(self._serve(endpoint_id), name=f"feeds-{endpoint_id}")

    async def _release(self, endpoint_id: uuid.UUID) -> None:
        conn = self._lease_conn
        if conn is None or conn.is_closed():
            return
        with contextlib.suppress(Exception):
            async with self._lease_lock:
                await conn.execute("SELECT pg_advisory_unlock($1)", lease_key(endpoint_id))

    # -- one endpoint ---------------------------------------------------------------------------------------------
    async def _serve(self, endpoint_id: uuid.UUID) -> None:
        try:
            await self._serve_queue(endpoint_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("feeds dispatcher: endpoint %s: %s: %s", endpoint_id, type(exc).__name__, exc)
            self._look = True
        finally:
            self._turn_ended[endpoint_id] = time.monotonic()
            if len(self._turn_ended) > 100_000:
                self._turn_ended.clear()
            self._poked.pop(endpoint_id, None)
            self._loops.pop(endpoint_id, None)
            ENDPOINTS_SERVED.dec()
            await self._release(endpoint_id)
            self._wake.set()  # a slot is free
            if len(self._senders) > self.settings.idle_connections:
                for idle in [e for e in self._senders if e not in self._loops][: len(self._senders) // 4]:
                    await self._senders.pop(idle).close()

    async def _serve_queue(self, endpoint_id: uuid.UUID) -> None:
        # Each run is recorded before the next claim, so a claim from the start of the queue (its oldest PENDING
        # delivery) never takes one again, and a redelivered (older) delivery is the next head at once.
        poked = self._poked[endpoint_id]
        drained = False
        turn_ends = time.monotonic() + self.settings.turn_seconds
        while self._running:
            if drained and not poked.is_set():
                # the last claim took all there was: whatever comes later comes with a wake-up
                if self._look:  # other endpoints wait for a slot: do not linger
                    return
                try:  # keep the lease and the connection a moment: the next event is likely to come soon
                    async with asyncio.timeout(self.settings.linger_seconds):
                        await poked.wait()
                except TimeoutError:
                    return
            poked.clear()
            async with self._db.acquire() as driver:
                version, batch = await claim(driver, endpoint_id, 0, self.settings.batch)
                if version is None:
                    return
                state = self._states.get(endpoint_id)
                if state is None or state.version != version:
                    state = await endpoint_state(driver, endpoint_id)
                    if state is None:
                        return
                    self._states[endpoint_id] = state
            drained = len(batch) < self.settings.batch
            if not batch:
                continue
            outcomes, blocked = await self._send(state, batch, turn_ends)
            if outcomes:
                await self._record(state, outcomes)
            if blocked:
                return  # the head waits for its retry: the scheduler comes back when it is due
            if self._look and time.monotonic() >= turn_ends:
                self._look = True  # others wait for a slot: give this one up; the queue is due and comes back
                return

    async def _send(
        self, state: EndpointState, batch: list[Claimed], turn_ends: float = float("inf")
    ) -> tuple[list[Outcome], bool]:
        """Send the claimed deliveries in order; stops early (not blocked) when the endpoint's turn is over and other
        endpoints wait for a slot: what was not sent stays PENDING and due, claimed again next turn."""
        sender = self._senders.get(state.id)
        if sender is None or sender.url != state.url:
            if sender is not None:
                await self._senders.pop(state.id).close()
            if self.settings.https_only and not state.url.lower().startswith("https://"):
                self._complain(state, "its URL is not https:// (production sends over TLS only)")
                return [], True
            try:
                sender = EndpointSender(
                    state.url, resolve=self.resolve, connect_timeout=self.settings.connect_timeout,
                    timeout=self.settings.timeout, max_response=self.settings.response_cap,
                )  # fmt: skip
            except ValueError:
                self._complain(state, "its URL is not an http(s) URL")
                return [], True
            self._senders[state.id] = sender
        backoff = self.settings.backoff
        outcomes: list[Outcome] = []
        for delivery in batch:
            if outcomes and self._look and time.monotonic() >= turn_ends:
                return outcomes, False
            now = _now()
            if delivery.next_attempt_at > now:
                return outcomes, True
            try:
                keys = [self._key(state.id, c) for c in state.signing(now)]
            except ValueError:
                self._complain(state, "its signing secret does not decrypt (was DEMIMAS_FEEDS_SECRET_KEY changed?)")
                return outcomes, True
            if not keys:
                return outcomes, True  # no secret signs (cannot happen through the API): send nothing unsigned
            msg_id = str(delivery.id)
            headers = signing.headers(keys, msg_id, int(now.timestamp()), delivery.body)
            result: SendResult = await sender.post(headers, delivery.body)
            self.sent += 1
            attempts = delivery.attempts + 1
            if result.delivered:
                status, next_at = "DELIVERED", now
            else:
                retry_at = backoff.next_attempt_at(attempts, _now())
                status, next_at = ("FAILED", now) if retry_at is None else ("PENDING", retry_at)
            ATTEMPTS.labels({"DELIVERED": "delivered", "PENDING": "retry"}.get(status, "failed")).inc()
            ATTEMPT_SECONDS.observe(result.duration_ms / 1000)
            outcomes.append(Outcome(delivery.id, status, attempts, next_at, now, result.status_code, result.error,
                                    result.duration_ms, result.excerpt))  # fmt: skip
            if status == "PENDING":
                return outcomes, True
        return outcomes, False

    def _complain(self, state: EndpointState, problem: str) -> None:
        """Log a problem that stops an endpoint once per version of the endpoint, not at every look."""
        if self._complained.get(state.id) != state.version:
            self._complained[state.id] = state.version
            log.error("feeds: endpoint %s cannot be served: %s", state.id, problem)

    def _key(self, endpoint_id: uuid.UUID, ciphertext: bytes) -> bytes:
        key = self._keys.get(ciphertext)
        if key is None:
            key = signing.secret_key(self.decrypt(endpoint_id, ciphertext))
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[ciphertext] = key
        return key

    async def _record(self, state: EndpointState, outcomes: list[Outcome]) -> None:
        async with self._db.acquire() as db:
            failing_since = await record(db, state.id, outcomes)
        last = outcomes[-1]
        now = _now()
        if last.status == "DELIVERED" or not self.settings.backoff.should_disable(failing_since, now):
            return
        hours = self.settings.backoff.disable_after.total_seconds() / 3600
        notice = f"failing since {failing_since:%Y-%m-%dT%H:%M:%SZ} (over {hours:g} h without a success)"
        async with self.engine.begin() as conn:
            await conn.exec_driver_sql("SELECT 1")  # the transaction begins (SQLAlchemy's asyncpg adapter is lazy)
            driver: Any = (await conn.get_raw_connection()).driver_connection
            if await disable_failing(driver, state.id, DISABLED_FAILING, now):
                await driver.execute(
                    "UPDATE feeds.deliveries SET last_error = $2 WHERE id = $1",
                    last.delivery_id,
                    f"endpoint disabled: {notice}; last error: {last.error or last.status_code}",
                )
                if self.on_disable is not None:
                    await self.on_disable(conn, state.id, notice, failing_since)
                DISABLED.inc()
                log.warning("feeds: endpoint %s disabled: %s", state.id, notice)

    # -- shutdown -------------------------------------------------------------------------------------------------
    def stop(self) -> None:
        self._running = False
        self._wake.set()

    async def _stop_loops(self) -> None:
        loops = list(self._loops.values())
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        self._loops.clear()

    async def close(self) -> None:
        await self._stop_loops()
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(db.close(), 5)
        for sender in self._senders.values():
            await sender.close()
        self._senders.clear()
        await self._disconnect()


async def publish_disabled(conn: AsyncConnection, endpoint_id: uuid.UUID, notice: str, _since: object) -> None:
    """The `demimas.feeds.endpoint.disabled` event (reason `failing`), in the transaction that disabled it."""
    async with FeedsUnitOfWork.joining(conn, schema="feeds") as uow:
        endpoint = await uow.endpoints.get(endpoint_id)
        if endpoint is not None:
            uow.publish(events.endpoint_disabled(endpoint, None, events.DISABLED_FAILING))
            await uow.commit()
