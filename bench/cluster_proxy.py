"""A small round-robin TCP proxy for the cluster rehearsal (`bench/cluster.py`), run as its own process:

    python -m bench.cluster_proxy CONFIG.json STATS.json

CONFIG maps a name to `{"listen": port, "backends": [port, ...]}` (all on 127.0.0.1). Each accepted connection
goes to the next backend in turn; a backend that refuses the connection (or does not accept it within a second) is
skipped for the next one, so a killed replica costs no new connection, only those open to it when it died. Like a
Kubernetes Service (kube-proxy), it balances connections, not requests: a keep-alive connection stays with its
backend. On SIGTERM it writes per backend how many connections it sent there and how many were refused to STATS.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import orjson

__all__ = ["Proxy", "main"]

CONNECT_TIMEOUT = 1.0


class Proxy:
    def __init__(self, name: str, listen: int, backends: list[int]) -> None:
        self.name = name
        self.listen = listen
        self.backends = backends
        self._turn = itertools.cycle(range(len(backends)))
        self.connections = {str(b): 0 for b in backends}
        self.refused = {str(b): 0 for b in backends}
        self.unserved = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def _backend(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for _ in range(len(self.backends)):
            port = self.backends[next(self._turn)]
            try:
                pair = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), CONNECT_TIMEOUT)
            except (OSError, TimeoutError):
                self.refused[str(port)] += 1
                continue
            self.connections[str(port)] += 1
            return pair
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backend = await self._backend()
        if backend is None:
            self.unserved += 1
            writer.close()
            return
        b_reader, b_writer = backend
        for sock_writer in (writer, b_writer):
            sock = sock_writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(self._pipe(reader, b_writer), self._pipe(b_reader, writer), return_exceptions=True)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # one side ended (or a replica died): close both directions, as a dead backend's peer sees a reset
            with contextlib.suppress(Exception):
                writer.close()

    async def start(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, "127.0.0.1", self.listen, backlog=512)

    def stats(self) -> dict[str, Any]:
        return {"connections": self.connections, "refused": self.refused, "unserved": self.unserved}


async def _run(config: dict[str, dict[str, Any]]) -> dict[str, Any]:
    proxies = [Proxy(name, int(c["listen"]), [int(b) for b in c["backends"]]) for name, c in config.items()]
    servers = [await p.start() for p in proxies]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    for server in servers:
        server.close()
    return {p.name: p.stats() for p in proxies}


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    config = orjson.loads(Path(args[0]).read_bytes())
    stats = asyncio.run(_run(config))
    Path(args[1]).write_bytes(orjson.dumps(stats, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
