"""The witness as a process (`demimas audit witness`): subscribed to `audit.checkpoints` until SIGINT or SIGTERM,
handing each message to the witness (`service_layer/witness.py`), with a watchdog that warns when no validly signed
checkpoint arrived for `warn_after` seconds (the audit service re-publishes its last one each interval, so silence
is not a quiet chain)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from demimas_audit.adapters.bus import CHECKPOINT_SUBJECT
from demimas_audit.domain.witness import seconds
from demimas_audit.service_layer.witness import Witness
from demimas_audit.settings import AuditSettings
from demimas_common.events.nats import connect

__all__ = ["DEFAULT_WARN_AFTER", "WitnessListener", "serve"]

log = logging.getLogger("demimas.audit.witness")

_interval = AuditSettings.model_fields["audit_checkpoint_seconds"].default
assert isinstance(_interval, float)
DEFAULT_WARN_AFTER = 3 * _interval
"""Seconds without a validly signed checkpoint before a warning: three of the service's default checkpoint
intervals (`DEMIMAS_AUDIT_CHECKPOINT_SECONDS`, 60 s), so one lost heartbeat is no alarm."""


class WitnessListener:
    """Subscribes to `audit.checkpoints` (core NATS, reconnecting forever: a checkpoint published while the
    witness is away is not replayed, but the next one covers the whole chain before it)."""

    def __init__(
        self, witness: Witness, nats_url: str, *, warn_after: float = DEFAULT_WARN_AFTER, tick: float | None = None
    ) -> None:
        """`warn_after`: seconds of silence before a warning (repeated each further `warn_after`); `tick`: how often
        the watchdog looks (default min(warn_after / 4, 5 s)). The clock is the witness's `now`."""
        if warn_after <= 0 or (tick is not None and tick <= 0):
            raise ValueError("warn_after and tick must be positive")
        self.witness, self.nats_url = witness, nats_url
        self.warn_after = dt.timedelta(seconds=warn_after)
        self.tick = tick if tick is not None else min(warn_after / 4, 5.0)
        self._stop = asyncio.Event()
        self.subscribed = asyncio.Event()

    async def _watch(self) -> None:
        """Until stopped: every tick, let the witness warn about a silence (a failure is logged, never fatal)."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.tick)
            if not self._stop.is_set():
                try:
                    self.witness.check_silence(self.warn_after)
                except Exception:
                    log.exception("the witness's watchdog failed")

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Until `stop()`: keep the subscription (nats-py reconnects and resubscribes after an outage). Opens the
        witness if it is not open yet, and closes it in the end."""
        if not self.witness.is_open:
            self.witness.open()
        watchdog = asyncio.create_task(self._watch())  # from now on: NATS unreachable at the start is a silence too
        connecting = asyncio.create_task(connect(self.nats_url, name="audit-witness"))
        stopping = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not connecting.done():  # stopped before NATS ever answered
                connecting.cancel()
                return
            nc = connecting.result()

            async def on_message(msg: Any) -> None:
                try:
                    self.witness.handle(msg.data)
                except Exception:  # e.g. the disk is full: say so loudly, keep listening
                    log.exception("could not record a checkpoint in %s", self.witness.store)

            try:
                await nc.subscribe(CHECKPOINT_SUBJECT, cb=on_message)
                await nc.flush()
                log.info("witnessing %s on %s", CHECKPOINT_SUBJECT, self.nats_url)
                self.subscribed.set()
                await stopping
            finally:
                try:
                    await nc.drain()  # the messages already received are handled before closing
                except Exception:  # stopped during an outage: nothing is left to drain
                    await nc.close()
        finally:
            stopping.cancel()
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)
            self.witness.close()


def serve(store: Path, public_key: Ed25519PublicKey, nats_url: str, *, warn_after: float = DEFAULT_WARN_AFTER) -> int:
    """Witness until SIGINT or SIGTERM, then say what was seen (and the longest silence); the exit status (2: the
    store cannot be opened)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    witness = Witness(store, public_key)
    try:
        witness.open()
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"demimas audit witness: {exc}", file=sys.stderr)
        return 2
    listener = WitnessListener(witness, nats_url, warn_after=warn_after)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, listener.stop)
            except NotImplementedError:  # Windows: Ctrl+C still ends it (KeyboardInterrupt)
                break
        await listener.run()

    asyncio.run(run())
    counts = ", ".join(f"{n} {d.value.lower()}" for d, n in sorted(witness.counts.items())) or "no checkpoint"
    print(
        f"witness stopped: {counts}; last sequence {witness.last.seq if witness.last else 0}; "
        f"longest silence {seconds(witness.longest_silence())}",
        file=sys.stderr,
    )
    return 0
