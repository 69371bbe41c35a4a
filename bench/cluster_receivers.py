"""Webhook receivers for the cluster rehearsal (`bench/cluster.py`), run as a process of their own:

    python -m bench.cluster_receivers CONFIG.json OUT_DIR

CONFIG maps a receiver's name to `{"fail_share": f}`. Each receiver is a `demimas_feeds.receiver.Receiver` on a free
loopback port; it prints `ready {"name": port, ...}` once all listen. Every request is written as one JSON line to
`OUT_DIR/<name>.jsonl`: the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers, the body, when it
arrived (`time.time()`), the status answered, the connection it came on, and how many other requests to the same
receiver were being answered at that moment (`concurrent`: two replicas sending one endpoint's queue at once would
show here). A share `fail_share` of the webhook-ids seen for the first time are answered 503 (a receiver having a bad
moment: the delivery is retried with the same id); every other request is answered 204 after a short pause
(`ANSWER_DELAY`, which widens the window in which a concurrent sender would be seen). The signatures are verified by
the rehearsal afterwards, with the secrets the API showed. On SIGTERM it writes `OUT_DIR/stats.json` and exits.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import signal
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from demimas_feeds.receiver import Answer, Received, Receiver

__all__ = ["main"]

ANSWER_DELAY = 0.002
_CONNECTION: contextvars.ContextVar[int] = contextvars.ContextVar("connection", default=0)


class RecordingReceiver(Receiver):
    """A receiver that numbers its connections (for the record of each request)."""

    connections: int = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        _CONNECTION.set(self.connections)
        await super()._serve(reader, writer)


class Recorder:
    def __init__(self, name: str, out: Path, fail_share: float) -> None:
        self.name = name
        self.file = out.open("ab")
        self.fail_share = fail_share
        self.seen: set[str] = set()
        self.in_flight = 0
        self.max_concurrent = 0
        self.overlaps = 0
        self.requests = 0

    def _fails(self, webhook_id: str) -> bool:
        if webhook_id in self.seen or not self.fail_share:
            return False
        digest = hashlib.blake2b(f"{self.name}:{webhook_id}".encode(), digest_size=4).digest()
        return int.from_bytes(digest) / 2**32 < self.fail_share

    async def respond(self, r: Received) -> Answer:
        self.requests += 1
        concurrent = self.in_flight
        self.in_flight += 1
        self.max_concurrent = max(self.max_concurrent, self.in_flight)
        self.overlaps += concurrent > 0
        try:
            webhook_id = r.headers.get("webhook-id", "")
            status = 503 if self._fails(webhook_id) else 204
            self.seen.add(webhook_id)
            self.file.write(
                orjson.dumps(
                    {
                        "id": webhook_id,
                        "ts": r.headers.get("webhook-timestamp"),
                        "sig": r.headers.get("webhook-signature"),
                        "body": r.body.decode("utf-8", "replace"),
                        "at": r.at,
                        "status": status,
                        "conn": _CONNECTION.get(),
                        "concurrent": concurrent,
                    }
                )
                + b"\n"
            )
            await asyncio.sleep(ANSWER_DELAY)
            return Answer(status, b"not now" if status == 503 else b"")
        finally:
            self.in_flight -= 1

    def stats(self, receiver: RecordingReceiver) -> dict[str, Any]:
        return {"requests": self.requests, "connections": receiver.connections,
                "max_concurrent": self.max_concurrent, "overlapping_requests": self.overlaps}  # fmt: skip


async def _run(config: dict[str, Any], out: Path) -> None:
    recorders: dict[str, tuple[Recorder, RecordingReceiver]] = {}
    for name, options in config.items():
        recorder = Recorder(name, out / f"{name}.jsonl", float(options.get("fail_share", 0.0)))
        receiver = RecordingReceiver(respond=recorder.respond, received=[])
        await receiver.start()
        recorders[name] = (recorder, receiver)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready " + orjson.dumps({n: r.port for n, (_, r) in recorders.items()}).decode(), flush=True)
    while not stop.is_set():
        with_timeout = asyncio.ensure_future(stop.wait())
        await asyncio.wait([with_timeout], timeout=1.0)
        for recorder, receiver in recorders.values():
            recorder.file.flush()
            receiver.received.clear()  # the lines on disk are the record; keep the memory flat
    stats = {}
    for name, (recorder, receiver) in recorders.items():
        await receiver.stop()
        recorder.file.close()
        stats[name] = recorder.stats(receiver)
    (out / "stats.json").write_bytes(orjson.dumps({"at": time.time(), "receivers": stats}))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    config = orjson.loads(Path(args[0]).read_bytes())
    asyncio.run(_run(config, Path(args[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
