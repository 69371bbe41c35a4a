"""`make run`'s dev tokens: always in an owner-only file whose path the banner prints; the tokens themselves on
the output only when it is a terminal, so `make run > run.log` leaves none in a log others may read."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from demimas_common.auth.principal import Agency
from demimas_common.devstack.supervisor import TOKENS_FILE, Stack, announce


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    stack = Stack(root=tmp_path / ".devstack")
    stack.ports = {"gateway": 4000}
    stack.settings = stack.settings.model_copy(
        update={"database_url": "postgresql://postgres@/demimas?host=/tmp", "nats_url": "nats://127.0.0.1:4222"}
    )
    return stack


class Terminal(io.StringIO):
    """Output that says it is a terminal, as `sys.stdout` does under `make run` in a shell."""

    def isatty(self) -> bool:
        return True


def tokens_in(path: Path) -> dict[str, str]:
    pairs = (line.partition("=") for line in path.read_text().splitlines() if line.startswith("DEMIMAS_TOKEN_"))
    return {key.removeprefix("DEMIMAS_TOKEN_"): value for key, _, value in pairs}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_redirected_output_shows_the_path_and_no_token(stack: Stack) -> None:
    out = io.StringIO()
    path = announce(stack, out)
    assert path == stack.root / TOKENS_FILE
    assert mode(path) == 0o600
    tokens = tokens_in(path)
    assert set(tokens) == {agency.value for agency in Agency}
    printed = out.getvalue()
    assert str(path) in printed
    assert "not printed here" in printed
    for token in tokens.values():
        assert token.count(".") == 2  # a JWT
        assert token not in printed


def test_a_terminal_sees_the_tokens(stack: Stack) -> None:
    out = Terminal()
    path = announce(stack, out)
    printed = out.getvalue()
    assert str(path) in printed
    assert all(token in printed for token in tokens_in(path).values())


def test_the_file_is_private_whatever_was_there_and_whatever_the_umask(stack: Stack) -> None:
    stack.root.mkdir(parents=True)
    old = stack.root / TOKENS_FILE
    old.write_text("DEMIMAS_TOKEN_KP2MI=stale\n")
    old.chmod(0o644)
    previous = os.umask(0)
    try:
        path = stack.write_tokens(stack.dev_tokens())
    finally:
        os.umask(previous)
    assert mode(path) == 0o600
    assert tokens_in(path)["KP2MI"] != "stale"
    assert [p.name for p in stack.root.iterdir() if p.name.startswith(".tokens")] == []  # no staging file left


def test_the_gateway_port_is_chosen_once_before_the_services_start(tmp_path: Path) -> None:
    """The audit service is told the gateway's URL when it starts, so the gateway must later listen there."""
    stack = Stack(root=tmp_path / ".devstack")
    first = stack.gateway_port()
    assert stack.gateway_port() == first
    assert stack.ports == {"gateway": first}
