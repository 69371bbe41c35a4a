"""`demimas stack run`: the one long-lived owner of the dev servers and the services (`make run`).

It starts PostgreSQL and NATS under `.devstack/` unless `DEMIMAS_DATABASE_URL` / `DEMIMAS_NATS_URL` are set,
writes `.devstack/stack.env` (contract), migrates every service and loads its demo data once, starts each service
(uvicorn) on its port, then the federation gateway on port 4000 in front of them (when `demimas_gateway` is
installed and the composed supergraph exists), then the services that read through the gateway (the portal's
pages, `ServiceSpec.behind_gateway`), and prints where everything is. One dev token per agency goes to
`.devstack/tokens.env` (owner-only); the banner prints the tokens too, but only to a terminal: redirected output
(`make run > run.log`) may land in a file others can read.
Ctrl-C stops everything; the data stays for the next start.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import httpx

from demimas_common.auth.grants import REGIONAL_AGENCIES
from demimas_common.auth.keys import ensure_dev_keys, mint_token
from demimas_common.auth.principal import Agency
from demimas_common.db.provision import runtime_role
from demimas_common.db.urls import with_user
from demimas_common.devstack.lifetime import die_with_parent
from demimas_common.devstack.nats import EmbeddedNats
from demimas_common.devstack.ports import free_port, port_is_free
from demimas_common.devstack.postgres import EmbeddedPostgres
from demimas_common.devstack.provisioning import load_demo_once, migrate_service
from demimas_common.events.nats import connect
from demimas_common.events.stream import ensure_stream
from demimas_common.service import ServiceSpec, discover_services
from demimas_common.settings import CommonSettings

__all__ = ["DEMO_REGIONS", "TOKENS_FILE", "Stack", "announce", "run"]

GATEWAY_PORT = 4000
SUPERGRAPH = Path("deploy/supergraph.graphql")
TOKENS_FILE = "tokens.env"

# Regions of the demo tokens of regional offices: BP3MI Sumatera Selatan, Disnaker Musi Banyuasin.
DEMO_REGIONS = {Agency.BP3MI: "16", Agency.DISNAKER: "16.06"}


@dataclass
class Stack:
    root: Path
    settings: CommonSettings = field(default_factory=CommonSettings)

    def __post_init__(self) -> None:
        # `demimas` loads .devstack/stack.env into the environment for every command. The servers named there
        # are the ones this supervisor started last time: they are ours to start again, not external servers.
        written = _read_env(self.root / "stack.env")
        ours = {
            key: None
            for key in ("DEMIMAS_DATABASE_URL", "DEMIMAS_NATS_URL")
            if written.get(key) is not None and os.environ.get(key) == written.get(key)
        }
        if ours:
            self.settings = self.settings.model_copy(
                update={"database_url" if k.endswith("DATABASE_URL") else "nats_url": None for k in ours}
            )

    postgres: EmbeddedPostgres | None = None
    nats: EmbeddedNats | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    specs: dict[str, ServiceSpec] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        if self.settings.database_url:
            return self.settings.database_url
        assert self.postgres is not None
        return self.postgres.url()

    @property
    def nats_url(self) -> str:
        if self.settings.nats_url:
            return self.settings.nats_url
        assert self.nats is not None
        return self.nats.url

    def start_servers(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.settings.database_url:
            self.postgres = EmbeddedPostgres(self.root / "postgres", durable=True)
            self.postgres.start()
        if not self.settings.nats_url:
            self.nats = EmbeddedNats(self.root / "nats")
            self.nats.start()

    def write_env(self) -> Path:
        keys = ensure_dev_keys(self.root / "keys")
        values = {
            "DEMIMAS_DATABASE_URL": self.database_url,
            "DEMIMAS_NATS_URL": self.nats_url,
            "DEMIMAS_JWT_ISSUER": self.settings.jwt_issuer,
            "DEMIMAS_JWT_AUDIENCE": self.settings.jwt_audience,
            "DEMIMAS_JWKS_PATH": str(keys.jwks_path.resolve()),
            "DEMIMAS_DEV_KEYS_DIR": str(keys.private_key_path.parent.resolve()),
        }
        path = self.root / "stack.env"
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        os.environ.update(values)
        return path

    async def prepare(self, specs: list[ServiceSpec], *, demo: bool = True) -> None:
        nc = await connect(self.nats_url, name="devstack", reconnect=False)
        try:
            await ensure_stream(nc.jetstream(), replicas=self.settings.stream_replicas)
        finally:
            await nc.close()
        for spec in specs:
            await migrate_service(self.database_url, spec)
            if demo and await load_demo_once(self.database_url, spec):
                print(f"  {spec.name}: demo data loaded", flush=True)

    def gateway_port(self) -> int:
        """The gateway's port, chosen once before the services start: the audit service sends the data-subject
        report's requests (with the caller's token) there, so it must never be whatever else holds port 4000."""
        if "gateway" not in self.ports:
            self.ports["gateway"] = GATEWAY_PORT if port_is_free(GATEWAY_PORT) else free_port()
        return self.ports["gateway"]

    def start_services(self, specs: list[ServiceSpec]) -> None:
        gateway_url = f"http://127.0.0.1:{self.gateway_port()}/graphql"
        for spec in specs:
            port = spec.port if port_is_free(spec.port) else free_port()
            if port != spec.port:
                print(f"  port {spec.port} is busy; {spec.name} listens on {port}", flush=True)
            env = os.environ | {"DEMIMAS_GATEWAY_URL": gateway_url}
            # a page-only service gets no way to the database, and to NATS only when its spec asks (the portal)
            env = {k: v for k, v in env.items() if k not in ("DEMIMAS_DATABASE_URL", "DEMIMAS_NATS_URL")}
            if spec.database:
                env["DEMIMAS_DATABASE_URL"] = with_user(self.database_url, runtime_role(spec.name))
            if spec.nats:
                env["DEMIMAS_NATS_URL"] = self.nats_url
            args = [sys.executable, "-m", "uvicorn", "--factory", spec.app_factory, "--host", "127.0.0.1",
                    "--port", str(port), "--no-access-log"]  # fmt: skip
            self.processes[spec.name] = subprocess.Popen(  # noqa: S603 - our own interpreter
                args,
                env=env,
                preexec_fn=die_with_parent(),
            )
            self.ports[spec.name] = port
            self.specs[spec.name] = spec

    def start_gateway(self, supergraph: Path = SUPERGRAPH) -> bool:
        """The gateway over the subgraphs just started (their real ports), once they are ready."""
        if importlib.util.find_spec("demimas_gateway") is None or not supergraph.is_file():
            print(f"  gateway not started: needs demimas_gateway and {supergraph} (`make supergraph`)", flush=True)
            return False
        port = self.gateway_port()
        urls = {
            name: f"http://127.0.0.1:{p}/graphql"
            for name, p in self.ports.items()
            if name != "gateway" and (name not in self.specs or self.specs[name].graphql_schema is not None)
        }
        env = os.environ | {"DEMIMAS_GATEWAY_SUBGRAPH_URLS": json.dumps(urls)}
        args = [sys.executable, "-m", "demimas_gateway", "serve", "--supergraph", str(supergraph.resolve()),
                "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
        self.processes["gateway"] = subprocess.Popen(args, env=env, preexec_fn=die_with_parent())  # noqa: S603
        return True

    def wait_ready(self, timeout: float | None = None) -> None:
        """Until every service answers /readyz; `DEMIMAS_STACK_READY_SECONDS` (180) allows for a loaded machine, where
        eight processes importing and migrating on two cores can take well over a minute."""
        if timeout is None:
            timeout = float(os.environ.get("DEMIMAS_STACK_READY_SECONDS", "180"))
        deadline = time.monotonic() + timeout
        for name, port in self.ports.items():
            if name not in self.processes:  # the gateway's port is chosen before the gateway starts
                continue
            while True:
                process = self.processes[name]
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {process.returncode} during start-up")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not ready after {timeout:.0f} s")
                time.sleep(0.2)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        if self.nats is not None:
            self.nats.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def dev_tokens(self) -> list[tuple[str, str]]:
        """(label, JWT) of one 8-hour dev token per agency (regional offices with their demo region)."""
        keys = ensure_dev_keys(self.root / "keys")
        tokens = []
        for agency in Agency:
            region = DEMO_REGIONS.get(agency) if agency in REGIONAL_AGENCIES else None
            token = mint_token(
                keys, issuer=self.settings.jwt_issuer, audience=self.settings.jwt_audience, agency=agency, region=region
            )
            tokens.append((f"{agency.value}" + (f" (region {region})" if region else ""), token))
        return tokens

    def write_tokens(self, tokens: list[tuple[str, str]]) -> Path:
        """The dev tokens in `tokens.env` (`DEMIMAS_TOKEN_<AGENCY>=...`), readable by the owner only (0600): the
        banner may go to a log file others can read, the tokens must not. Written to a private temporary file
        first and renamed, so the tokens never sit in a file with wider permissions, even for a moment."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / TOKENS_FILE
        staging = path.with_name(f".{TOKENS_FILE}.{os.getpid()}")
        staging.unlink(missing_ok=True)
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write("# Dev tokens of `demimas stack run` (8 h); `demimas token --agency A` makes more.\n")
            for label, token in tokens:
                out.write(f"# {label}\nDEMIMAS_TOKEN_{label.split()[0]}={token}\n")
        os.chmod(staging, 0o600)  # the umask may have narrowed it (then the owner could not read it); never wider
        os.replace(staging, path)
        return path

    def banner(self, tokens_path: Path, tokens: list[tuple[str, str]] | None = None) -> str:
        """Where everything is; the tokens themselves only when given (`run` gives them for a terminal only)."""
        lines = ["", "Demimas is running (Ctrl-C stops everything; data stays in .devstack/)."]
        for name, port in self.ports.items():
            if name in self.processes:
                spec = self.specs.get(name)
                if spec is not None and spec.home_path != "/graphql":
                    lines.append(f"  {name:<12} http://127.0.0.1:{port}{spec.home_path}   (pages, in a browser)")
                else:
                    lines.append(f"  {name:<12} http://127.0.0.1:{port}/graphql   (GraphiQL in a browser)")
                for label, path in spec.dev_links if spec else ():
                    lines.append(f"  {'':<12} http://127.0.0.1:{port}{path}   ({label})")
                if spec and spec.dev_links and port != spec.port:
                    lines.append(f"  {'':<12} (the demo data expects port {spec.port}, not {port})")
        lines.append(f"  PostgreSQL   {self.database_url}")
        lines.append(f"  NATS         {self.nats_url}")
        lines.append("  Settings     .devstack/stack.env")
        lines.append("")
        lines.append(
            f"Dev tokens (8 h; `demimas token --agency A` makes more) are in {tokens_path} (readable by you only)."
        )
        if tokens:
            lines.append("Send one as `Authorization: Bearer <token>`:")
            for label, token in tokens:
                lines.append(f"  {label}:\n    {token}")
        else:
            lines.append("They are not printed here because the output is not a terminal.")
        return "\n".join(lines)


def _read_env(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    pairs = (line.partition("=") for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, _, value in pairs}


def announce(stack: Stack, out: TextIO) -> Path:
    """Write the dev tokens to the owner-only file and print the banner to `out`, with the tokens only if `out` is
    a terminal (redirected output may end up in a log others can read). Returns the tokens file."""
    tokens = stack.dev_tokens()
    path = stack.write_tokens(tokens)
    print(stack.banner(path, tokens if out.isatty() else None), file=out, flush=True)
    return path


def run(root: Path) -> int:
    stack = Stack(root=root)
    specs = discover_services()
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        print("Starting PostgreSQL and NATS ...", flush=True)
        stack.start_servers()
        stack.write_env()
        print("Migrating and loading demo data ...", flush=True)
        asyncio.run(stack.prepare(specs))
        stack.start_services([s for s in specs if not s.behind_gateway])
        stack.wait_ready()
        if stack.start_gateway():
            stack.wait_ready()
            # the pages read through the gateway, and their /readyz says so: they start once it answers
            stack.start_services([s for s in specs if s.behind_gateway])
            stack.wait_ready()
        announce(stack, sys.stdout)
        while not stopping:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print(f"{name} stopped (exit code {process.returncode}); shutting down", file=sys.stderr)
                    return 1
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        print("\nStopping ...", flush=True)
        stack.stop()
