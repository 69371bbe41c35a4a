"""Child servers die with their owner. A test session or supervisor killed abruptly (SIGKILL, a CI time-out)
must not leave PostgreSQL or NATS running: on Linux the kernel sends SIGTERM to the child when its parent dies."""

from __future__ import annotations

import ctypes
import signal
import sys
from collections.abc import Callable

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def _set_parent_death_signal() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` for subprocess.Popen (None where the platform has no such signal)."""
    return _set_parent_death_signal if sys.platform.startswith("linux") else None
