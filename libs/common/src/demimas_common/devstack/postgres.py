"""An embedded PostgreSQL server from pgserver's binaries, run as a child of the devstack supervisor.

pgserver ships PostgreSQL binaries in its wheel. We drive them directly (initdb, then `postgres` in the
foreground) rather than through `pgserver.get_server`, so the supervisor owns the server's lifetime: it stops when
the supervisor stops, and tests can stop and start it at will. The server listens on a Unix socket only, so it
never collides with a system PostgreSQL. As root, PostgreSQL refuses to run, so it runs as the OS user
`pgserver` (created on first use, as pgserver itself does).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from demimas_common.devstack.lifetime import die_with_parent

__all__ = ["PRIVACY_SETTINGS", "EmbeddedPostgres"]

_SUPERUSER = "postgres"

# Personal data never reaches the server log (docs/personal-data.md; the production cluster in
# deploy/k8s/base/postgres.yaml sets the same, a test holds them equal). A failed statement is logged with its
# primary message only: `terse` drops DETAIL (`Key (nik)=(...) already exists`), HINT, QUERY and CONTEXT, and with
# `log_min_error_statement = panic` the text of the failing statement (whose literals may be personal) is never
# written. Statement and slow-statement logging stay off, as they would log statement texts too.
PRIVACY_SETTINGS = {
    "log_error_verbosity": "terse",
    "log_min_error_statement": "panic",
    "log_min_duration_statement": "-1",
    "log_statement": "none",
}


def _bin(name: str) -> Path:
    # Found without importing pgserver: its package import starts file locks and an atexit hook we do not want.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pgserver is not installed: install demimas-common[devstack]")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name


def _ensure_os_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True, capture_output=True)  # noqa: S603,S607
        return pwd.getpwnam(name)


def _open_path_to(path: Path) -> None:
    """Let another OS user traverse every folder above `path` (chmod o+x on the way up)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH | stat.S_IXGRP)


class EmbeddedPostgres:
    """One PostgreSQL cluster in `data_dir`, socket in `socket_dir`."""

    def __init__(self, root: Path, *, durable: bool = True, database: str = "demimas") -> None:
        self.root = root.resolve()  # the server runs elsewhere: every path it gets must be absolute
        self.data_dir = self.root / "pgdata"
        self.socket_dir = self.root / "pgsock"
        self.log_path = self.root / "postgres.log"
        self.database = database
        self.durable = durable
        self._process: subprocess.Popen[bytes] | None = None
        self._os_user: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._prepare_os_user()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._clear_stale_pid()
        args = [
            str(_bin("postgres")),
            "-D", str(self.data_dir),
            "-k", str(self.socket_dir),
            "-c", "listen_addresses=",
            "-c", "max_connections=200",
            "-c", "shared_buffers=256MB",
        ]  # fmt: skip
        for name, value in PRIVACY_SETTINGS.items():
            args += ["-c", f"{name}={value}"]
        if not self.durable:
            # Throw-away test clusters: durability costs time and protects nothing.
            args += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self._process = subprocess.Popen(  # noqa: S603 - fixed binary, arguments built above
                args,
                stdout=log,
                stderr=log,
                user=self._os_user,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        self._wait_ready()
        self._ensure_database()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # "fast shutdown": clients are disconnected, data is flushed
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- addresses -------------------------------------------------------------------------------------------------
    def url(self, database: str | None = None, user: str = _SUPERUSER) -> str:
        """The plain `postgresql://` form of the contract: user, database, and the socket dir as `host`."""
        return f"postgresql://{user}@/{database or self.database}?host={quote(str(self.socket_dir), safe='/')}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(  # noqa: S603
            [
                str(_bin("psql")),
                "-h",
                str(self.socket_dir),
                "-U",
                _SUPERUSER,
                "-d",
                database,
                "-XAtq",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()

    def pg_dump(self, *args: str, database: str) -> str:
        """`pg_dump` of this server's binaries (the same major version as the server), e.g.
        `pg_dump("--schema-only", "--schema=registry", database="x")`; its standard output."""
        result = subprocess.run(  # noqa: S603
            [str(_bin("pg_dump")), "-h", str(self.socket_dir), "-U", _SUPERUSER, "-d", database, *args],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout

    # -- internals -------------------------------------------------------------------------------------------------
    def _prepare_os_user(self) -> None:
        if os.geteuid() != 0:
            return
        self._os_user = "pgserver"
        entry = _ensure_os_user(self._os_user)
        install = _bin("postgres").parent.parent
        _open_path_to(install)
        for dirpath, dirnames, filenames in os.walk(install):
            for name in dirnames + filenames:
                target = Path(dirpath) / name
                mode = target.stat().st_mode
                wanted = mode | stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
                if wanted != mode:
                    target.chmod(wanted)
        _open_path_to(self.root)
        for path in (self.root, self.data_dir, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
            shutil.chown(path, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)
        self.log_path.touch()
        shutil.chown(self.log_path, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(  # noqa: S603
            [
                str(_bin("initdb")), "-D", str(self.data_dir), "-U", _SUPERUSER,
                "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions",
            ],
            check=False,
            capture_output=True,
            text=True,
            user=self._os_user,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed in {self.data_dir}:\n{result.stderr.strip()}")

    def _clear_stale_pid(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            pid_file.unlink(missing_ok=True)
            return
        except PermissionError:
            pass
        raise RuntimeError(f"a PostgreSQL server (pid {pid}) already runs on {self.data_dir}; stop it first")

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited at start; see {self.log_path}:\n{self._log_tail()}")
            probe = subprocess.run(  # noqa: S603
                [str(_bin("pg_isready")), "-h", str(self.socket_dir), "-U", _SUPERUSER, "-q"], check=False
            )
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError(f"PostgreSQL not ready after {timeout:.0f} s; see {self.log_path}")

    def _ensure_database(self) -> None:
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'")  # noqa: S608 - our own name
        if exists != "1":
            self.psql(f'CREATE DATABASE "{self.database}"')

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""
