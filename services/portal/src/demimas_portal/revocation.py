"""Revoked sessions, shared by every portal replica through a NATS JetStream key-value bucket.

Sign-out writes the session's id (`Session.sid`) into the bucket `portal_revoked_sessions` (file storage, history 1,
entries kept as long as a session can live: `portal_session_hours`); the value is the session's expiry (Unix
seconds). Every portal process watches the bucket, initial values included, into an in-memory table, and keeps
watching: after a NATS reconnect it watches again from the bucket's current values (what the server held for the
old watch may be gone with a restarted server), so a revocation written while it was away is not missed. A request
whose session's sid is in the table is signed out (`Portal.page`).

Failure modes (docs/portal.md, "Sign-out and revocation"):
- before the first complete read of the bucket a process cannot tell a revoked session from a live one: a signed-in
  page answers 503 (`RevocationsUnavailable`) and `/readyz` fails, for at most the time NATS takes to answer;
- during a NATS outage afterwards the process keeps refusing what it has read (a revocation written elsewhere in
  that time reaches it when the watch is back);
- a failed write at sign-out still signs the person out in the browser and on this process, and says so
  (`revoke` returns False).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KeyValue

from demimas_common.events.nats import connect

__all__ = ["BUCKET", "Revocations", "RevocationsUnavailable"]

BUCKET = "portal_revoked_sessions"
log = logging.getLogger("demimas.portal.revocation")


class RevocationsUnavailable(Exception):
    """The process has not read the revoked sessions yet: a signed-in page cannot be served safely."""


class Revocations:
    """The process's view of the revoked sessions (`nats_url` None: revocation is off, as in development without
    NATS). `run` is the watcher's loop; `start` runs it as a task once (the app's lifespan, or the first request
    when the app runs without one, as under httpx's ASGI transport)."""

    def __init__(
        self,
        nats_url: str | None,
        *,
        ttl_seconds: float,
        bucket: str = BUCKET,
        name: str = "portal",
        ready_within: float = 5.0,
        write_timeout: float = 3.0,
    ) -> None:
        self.nats_url = nats_url
        self.ttl_seconds = ttl_seconds
        self.bucket = bucket
        self.name = name
        self.ready_within = ready_within
        self.write_timeout = write_timeout
        self._revoked: dict[str, float] = {}
        """sid -> until when it matters (the session's expiry), pruned as they pass."""
        self._pruned = time.time()
        self._loaded = asyncio.Event()
        self._rewatch = asyncio.Event()
        self._stop = asyncio.Event()
        self._nc: Client | None = None
        self._kv: KeyValue | None = None
        self._task: asyncio.Task[None] | None = None
        self.watches = 0
        """How many watches were started (the first, and one after every reconnect); for tests and logs."""

    @property
    def enabled(self) -> bool:
        return self.nats_url is not None

    @property
    def loaded(self) -> bool:
        return self._loaded.is_set()

    # -- the requests' side ---------------------------------------------------------------------------------------

    async def is_revoked(self, sid: str) -> bool:
        """Whether `sid` was revoked (on any replica). `RevocationsUnavailable` while the bucket has never been
        read (within `ready_within` seconds)."""
        until = self._revoked.get(sid)
        if until is not None and until > time.time():
            return True  # revoked here, or already read: no need to wait for NATS
        if not self.enabled:
            return False
        if not self._loaded.is_set():
            self.start()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.ready_within):
                    await self._loaded.wait()
            if not self._loaded.is_set():
                raise RevocationsUnavailable
        until = self._revoked.get(sid)
        return until is not None and until > time.time()

    async def revoke(self, sid: str, until: float) -> bool:
        """Revoke `sid` until `until` (Unix seconds): at once in this process, then in the bucket for the others.
        False when the bucket could not be written (or revocation is off): the caller tells the person."""
        self._remember(sid, until)
        if not self.enabled:
            return False
        try:
            async with asyncio.timeout(self.write_timeout):
                kv = self._kv
                if kv is None:  # not watching yet (a sign-out as the first request): open the bucket for the write
                    self.start()
                    await self._loaded.wait()
                    kv = self._kv
                assert kv is not None
                await kv.put(sid, str(int(until)).encode())
        except Exception as exc:
            # no personal data: the sid is a secret of the session, not logged either
            log.warning("session revocation could not be written to %s: %s", self.bucket, type(exc).__name__)
            return False
        return True

    # -- the watcher ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Run the watcher as a task of the running loop (once)."""
        if self.enabled and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name=f"{self.name}-revocations")

    async def ready(self) -> None:
        """The readiness check: the bucket was read once and NATS is connected (nothing to check when off)."""
        if not self.enabled:
            return
        self.start()
        if not self._loaded.is_set():
            raise ConnectionError("the revoked sessions have not been read yet")
        if self._nc is None or not self._nc.is_connected:
            raise ConnectionError("NATS is not connected")

    async def run(self) -> None:
        """Connect, open (or create) the bucket, watch it; watch again after a reconnect; retry what fails."""
        assert self.nats_url is not None
        while not self._stop.is_set():
            try:
                if self._nc is None or self._nc.is_closed:
                    self._nc = await connect(
                        self.nats_url, name=f"{self.name}-revocations", on_reconnect=self._on_reconnected
                    )
                self._kv = await self._open_bucket(self._nc)
                await self._watch(self._kv)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s: revoked sessions: %s; retrying", self.name, type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._stop.wait()

    async def _on_reconnected(self) -> None:
        self._rewatch.set()

    async def _open_bucket(self, nc: Client) -> KeyValue:
        js = nc.jetstream()
        try:
            kv = await js.key_value(self.bucket)
        except BucketNotFoundError:
            config = KeyValueConfig(
                bucket=self.bucket,
                description="Portal sessions signed out before their expiry (session ids; values: expiry).",
                history=1,
                ttl=self.ttl_seconds,
                storage=StorageType.FILE,
            )
            return await js.create_key_value(config)  # two replicas at once: the same config is accepted twice
        info = await js.stream_info(f"KV_{self.bucket}")
        if info.config.max_age is not None and 0 < info.config.max_age < self.ttl_seconds:
            # sessions live longer here than the bucket keeps their revocations: keep them as long as this needs
            await js.update_stream(info.config.evolve(max_age=self.ttl_seconds))
            log.info("%s: %s now keeps revocations %.0f s", self.name, self.bucket, self.ttl_seconds)
        return kv

    async def _watch(self, kv: KeyValue) -> None:
        """Read the bucket's current values, then every change, until stopped or a reconnect asks for a new watch."""
        self._rewatch.clear()
        watcher = await kv.watchall()
        self.watches += 1
        try:
            while not self._stop.is_set() and not self._rewatch.is_set():
                try:
                    entry = await watcher.updates(timeout=1.0)  # type: ignore[no-untyped-call]
                except nats.errors.TimeoutError:  # nothing new within the second
                    continue
                if entry is None:  # the initial values are all delivered
                    if not self._loaded.is_set():
                        log.info("%s: %d revoked sessions read from %s", self.name, len(self._revoked), self.bucket)
                    self._loaded.set()
                    continue
                self._apply(entry)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]

    def _apply(self, entry: Any) -> None:
        if entry.operation in ("DEL", "PURGE"):  # an operator lifting a revocation (or the server's expiry marker)
            self._revoked.pop(entry.key, None)
            return
        try:
            until = float(entry.value.decode())
        except (AttributeError, UnicodeDecodeError, ValueError):
            until = time.time() + self.ttl_seconds  # unreadable: keep it as long as any session may live
        self._remember(entry.key, until)

    def _remember(self, sid: str, until: float) -> None:
        now = time.time()
        if now - self._pruned > 60:  # once a minute at most: forget the sessions whose time has passed anyway
            self._pruned = now
            for old in [s for s, t in self._revoked.items() if t <= now]:
                del self._revoked[old]
        self._revoked[sid] = until

    async def close(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        nc, self._nc, self._kv = self._nc, None, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):
                await nc.close()
