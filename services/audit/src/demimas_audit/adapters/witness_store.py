"""The witness's store: a JSON Lines file of the checkpoints it accepted (each line flushed and fsynced before it
counts) and, beside it, a `.conflicts` file of validly signed checkpoints that contradict it. One witness holds a
store at a time (an exclusive lock); a torn last line left by a crash is cut when the store is opened again."""

from __future__ import annotations

import binascii
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import orjson

from demimas_audit.domain.witness import WitnessEntry

__all__ = ["WitnessStore", "conflicts_path", "find_entry", "read_conflicts", "read_last_entry", "read_store"]

log = logging.getLogger("demimas.audit.witness")


def conflicts_path(store: Path) -> Path:
    return store.with_name(store.name + ".conflicts")


def _entries(path: Path) -> Iterator[tuple[int, WitnessEntry | None]]:
    """(line number, entry) for each non-blank line; None for a line that does not parse."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
                yield number, WitnessEntry.from_json(item) if isinstance(item, dict) else None
            except (ValueError, KeyError, TypeError, binascii.Error):
                yield number, None


def read_store(path: Path) -> tuple[list[WitnessEntry], list[int]]:
    """Every entry of a witness store, and the numbers of the lines that do not parse."""
    entries, bad = [], []
    for number, entry in _entries(path):
        if entry is None:
            bad.append(number)
        else:
            entries.append(entry)
    return entries, bad


def read_conflicts(store: Path) -> list[dict[str, Any]]:
    path = conflicts_path(store)
    if not path.is_file():
        return []
    out = []
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                try:
                    item = orjson.loads(line)
                except orjson.JSONDecodeError:
                    item = {"unreadable": line.decode(errors="replace")}
                out.append(item if isinstance(item, dict) else {"unreadable": item})
    return out


def find_entry(path: Path, seq: int) -> WitnessEntry | None:
    """The stored entry at `seq` (a scan: only needed for a checkpoint below the last one, which is rare)."""
    if not path.is_file():
        return None
    for _, entry in _entries(path):
        if entry is not None and entry.seq == seq:
            return entry
    return None


def _repair_tail(path: Path) -> None:
    """A crash while appending can leave a partial last line (it was never fsynced, so never acknowledged): cut it,
    saying what was cut, so the next entry starts on a line of its own."""
    with path.open("r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        start = max(0, size - 65536)
        handle.seek(start)
        tail = handle.read()
        cut = start + tail.rfind(b"\n") + 1 if b"\n" in tail else 0
        handle.seek(cut)
        log.warning("witness store %s: removing an incomplete last line (a crash while writing): %r", path, tail)
        handle.truncate(cut)
        handle.flush()
        os.fsync(handle.fileno())


def read_last_entry(path: Path) -> WitnessEntry | None:
    """The last entry of the store (reads from the end), or None for a missing or empty store; ValueError if the last
    complete line is not an entry."""
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        block, data = 4096, b""
        while end > 0:
            start = max(0, end - block)
            handle.seek(start)
            data = handle.read(end - start) + data
            end = start
            lines = [line for line in data.split(b"\n") if line.strip()]
            if len(lines) >= 2 or (lines and end == 0):
                break
    lines = [line for line in data.split(b"\n") if line.strip()]
    if not lines:
        return None
    try:
        item = orjson.loads(lines[-1])
        if not isinstance(item, dict):
            raise ValueError("not a JSON object")
        return WitnessEntry.from_json(item)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ValueError(f"the last line of the witness store {path} is not a witness entry: {exc}") from exc


def _append(handle: IO[bytes], item: Mapping[str, object]) -> None:
    handle.write(orjson.dumps(item) + b"\n")
    handle.flush()
    os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    if sys.platform != "win32":
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _lock(handle: IO[bytes], path: Path) -> None:
    """One witness per store: two appending to one file would interleave their lines."""
    if sys.platform != "win32":
        import fcntl

        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another witness is already writing to {path}") from None


class WitnessStore:
    """The store as one witness writes it: `open` takes the lock and says where it ends, `append` adds an accepted
    entry, `record_conflict` keeps a contradicting checkpoint apart (that file is created on the first conflict)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[bytes] | None = None
        self._conflicts: IO[bytes] | None = None

    @property
    def conflicts_path(self) -> Path:
        return conflicts_path(self.path)

    @property
    def is_open(self) -> bool:
        return self._handle is not None

    def open(self) -> WitnessEntry | None:
        """Open (or create) the store, take its lock, cut a torn last line; the last entry, if any."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        handle = self.path.open("ab")
        try:
            _lock(handle, self.path)
            if created:
                _fsync_dir(self.path)
            _repair_tail(self.path)
            last = read_last_entry(self.path)
        except BaseException:
            handle.close()
            raise
        self._handle = handle
        return last

    def close(self) -> None:
        for handle in (self._handle, self._conflicts):
            if handle is not None:
                handle.close()
        self._handle = self._conflicts = None

    def append(self, entry: WitnessEntry) -> None:
        assert self._handle is not None, "open() the store first"
        _append(self._handle, entry.to_json())

    def find(self, seq: int) -> WitnessEntry | None:
        return find_entry(self.path, seq)

    def record_conflict(self, item: Mapping[str, object]) -> None:
        if self._conflicts is None:
            path = self.conflicts_path
            created = not path.exists()
            self._conflicts = path.open("ab")
            if created:
                _fsync_dir(path)
        _append(self._conflicts, item)
