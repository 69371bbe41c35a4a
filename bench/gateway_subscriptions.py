"""The gateway's share of the subscriptions benchmark (issue 18), measured without the real services: 1,000
WebSocket subscribers across 10 regions (a regional token each region, 100 subscribers per token) on the gateway,
in front of the test subgraphs of the gateway's tests (`services/gateway/tests/support/live.py`: strawberry,
`graphql-transport-ws`, an in-memory event log), which publish `--rate` changes per second spread over the regions.
Each event carries its publication time; each client measures publication -> receipt.

    .venv/bin/python -m bench.gateway_subscriptions --share on --seconds 20
    .venv/bin/python -m bench.gateway_subscriptions --share off --seconds 20

Three kinds of processes: the subgraphs (with the publisher), the gateway (one uvicorn worker, uvloop, httptools),
and `--client-processes` client processes. Prints one JSON object: delivered / expected, p50/p95/p99 in ms.
This measures what the gateway adds and whether sharing upstream subscriptions is needed; the issue's benchmark
(`make bench-subscriptions`) measures the whole path from a registry commit, with the real services.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REGIONS = [f"{11 + i}.01" for i in range(10)]
ISSUER, AUDIENCE = "https://auth.bench-subscriptions.test", "demimas"
QUERY = "subscription { workerChanged { cursor padding } }"
QUERY_JOINED = "subscription { workerChanged { cursor padding worker { id status name } } }"


def _support() -> Any:
    sys.path.insert(0, str(ROOT / "services" / "gateway" / "tests"))
    import support.live as live  # type: ignore[import-not-found]  # the test subgraphs

    return live


def run_subgraphs(ports: tuple[int, int], ready: Any, go: Any, rate: float, seconds: float, out: Any) -> None:
    live = _support()

    async def main() -> None:
        hub = live.Hub()
        changes = await live.serve_app(live.HubApp(live.CHANGES_SCHEMA, hub), ports[0])
        people = await live.serve_app(live.HubApp(live.PEOPLE_SCHEMA, hub), ports[1])
        ready.set()
        await asyncio.to_thread(go.wait)  # a process-shared event: waited on in a thread
        start = time.perf_counter()
        sent: dict[str, int] = dict.fromkeys(REGIONS, 0)
        n = 0
        while time.perf_counter() - start < seconds:
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            region = REGIONS[n % len(REGIONS)]
            hub.publish(f"w{n}", f"{region}.01.2001", padding=repr(time.time()))
            sent[region] += 1
            n += 1
        out.put(sent)
        await asyncio.sleep(3)
        await changes.stop()
        await people.stop()

    asyncio.run(main())


def run_gateway(port: int, urls: dict[str, str], jwks: str, share: bool) -> None:
    import uvicorn

    from demimas_common.settings import Environment
    from demimas_gateway.app import build_app
    from demimas_gateway.settings import GatewaySettings
    from demimas_gateway.supergraph import load_supergraph

    live = _support()
    settings = GatewaySettings(
        environment=Environment.TEST,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwks_path=Path(jwks),
        gateway_default_rate_limit=None,
        gateway_share_subscriptions=share,
    )
    app = build_app(settings, load_supergraph(live.SUPERGRAPH, graph_urls=urls))
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="error")


def run_clients(url: str, tokens: list[tuple[str, str]], query: str, stop: Any, ready: Any, out: Any) -> None:
    import orjson
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    async def client(token: str, region: str, latencies: list[float], counts: dict[str, int], up: Any) -> None:
        async with connect(
            url, subprotocols=[Subprotocol("graphql-transport-ws")], proxy=None, max_size=None, ping_interval=None
        ) as ws:
            init = {"authorization": token, "purpose": "STATISTICS"}
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            await ws.recv()
            await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": query}}))
            up()
            while True:  # until cancelled, once every event had time to arrive
                message = orjson.loads(await ws.recv(decode=False))
                if message["type"] == "next":
                    change = message["payload"]["data"]["workerChanged"]
                    latencies.append(time.time() - float(change["padding"]))
                    counts[region] += 1

    async def main() -> None:
        latencies: list[float] = []
        counts: dict[str, int] = dict.fromkeys(REGIONS, 0)
        started = 0

        def up() -> None:
            nonlocal started
            started += 1
            if started == len(tokens):
                ready.set()

        tasks = [asyncio.create_task(client(t, r, latencies, counts, up)) for t, r in tokens]
        await asyncio.to_thread(stop.wait)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        out.put({"latencies": latencies, "counts": counts})

    import uvloop

    uvloop.run(main())


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process (Linux), to tell the gateway's share from the clients' on one machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--share", choices=["on", "off"], default="on")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--joined", action="store_true", help="select a field of the people subgraph too")
    args = parser.parse_args()

    from demimas_common.auth.keys import ensure_dev_keys, mint_token
    from demimas_common.devstack.ports import free_port

    keys = ensure_dev_keys(Path(tempfile.mkdtemp(prefix="bench-subscription-keys-")))
    tokens = {
        region: "Bearer "
        + mint_token(keys, issuer=ISSUER, audience=AUDIENCE, agency="BP3MI", region=region, purpose="STATISTICS")
        for region in REGIONS
    }
    ctx = multiprocessing.get_context("spawn")
    sub_ports = (free_port(), free_port())
    urls = {"changes": f"http://127.0.0.1:{sub_ports[0]}/graphql", "people": f"http://127.0.0.1:{sub_ports[1]}/graphql"}
    sub_ready, go, published = ctx.Event(), ctx.Event(), ctx.Queue()
    total = args.seconds + 4
    subgraphs = ctx.Process(target=run_subgraphs, args=(sub_ports, sub_ready, go, args.rate, args.seconds, published))
    subgraphs.start()
    sub_ready.wait(30)
    gw_port = free_port()
    gateway = ctx.Process(target=run_gateway, args=(gw_port, urls, str(keys.jwks_path), args.share == "on"))
    gateway.start()
    import socket

    for _ in range(300):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", gw_port)) == 0:
                break
        time.sleep(0.1)
    assignments = [(tokens[REGIONS[i % len(REGIONS)]], REGIONS[i % len(REGIONS)]) for i in range(args.subscribers)]
    chunks = [assignments[i :: args.client_processes] for i in range(args.client_processes)]
    results, stop = ctx.Queue(), ctx.Event()
    readies = [ctx.Event() for _ in chunks]
    query = QUERY_JOINED if args.joined else QUERY
    clients = [
        ctx.Process(target=run_clients, args=(f"ws://127.0.0.1:{gw_port}/graphql", chunk, query, stop, ready, results))
        for chunk, ready in zip(chunks, readies, strict=True)
    ]
    for process in clients:
        process.start()
    for ready in readies:
        ready.wait(120)
    time.sleep(2)  # every upstream subscription open
    cpu_before = _cpu_seconds(gateway.pid)
    go.set()
    sent = published.get(timeout=total + 60)
    gateway_cpu = (_cpu_seconds(gateway.pid) - cpu_before) / args.seconds
    time.sleep(5)  # the last events on their way
    stop.set()
    collected = [results.get(timeout=total + 60) for _ in clients]
    for process in [*clients, subgraphs]:
        process.join(30)
    gateway.terminate()
    gateway.join(10)
    latencies = sorted(lat for r in collected for lat in r["latencies"])
    received = sum(sum(r["counts"].values()) for r in collected)
    per_region = args.subscribers // len(REGIONS)
    expected = sum(sent.values()) * per_region

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else -1.0

    print(
        json.dumps(
            {
                "share": args.share,
                "joined": args.joined,
                "subscribers": args.subscribers,
                "rate": args.rate,
                "seconds": args.seconds,
                "delivered_ratio": round(received / expected, 4) if expected else None,
                "p50_ms": pct(0.50),
                "p95_ms": pct(0.95),
                "p99_ms": pct(0.99),
                "gateway_cpu_cores": round(gateway_cpu, 2),
                "machine_cores": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
