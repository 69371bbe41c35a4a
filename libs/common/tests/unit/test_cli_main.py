"""The `demimas` entry point: subcommands from entry points, and the devstack's settings from stack.env."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demimas_common import cli
from demimas_common.errors import NotFound


@pytest.fixture(autouse=True)
def environment() -> Iterator[None]:
    """`load_stack_env` writes os.environ directly; put it back as it was."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_stack_env_fills_in_without_overriding(tmp_path: Path) -> None:
    env = tmp_path / "stack.env"
    env.write_text(
        "# written by make run\n\nDEMIMAS_NATS_URL=nats://127.0.0.1:4222\nexport DEMIMAS_JWT_ISSUER='https://dev'\n"
        "DEMIMAS_DATABASE_URL=postgresql://stack@/demimas?host=/tmp/x\nnot a setting\n"
    )
    os.environ.pop("DEMIMAS_NATS_URL", None)
    os.environ.pop("DEMIMAS_JWT_ISSUER", None)
    os.environ["DEMIMAS_DATABASE_URL"] = "postgresql://mine@db/demimas"
    os.environ["DEMIMAS_STACK_ENV"] = str(env)
    loaded = cli.load_stack_env()
    assert loaded == {"DEMIMAS_NATS_URL": "nats://127.0.0.1:4222", "DEMIMAS_JWT_ISSUER": "https://dev"}
    assert os.environ["DEMIMAS_DATABASE_URL"] == "postgresql://mine@db/demimas"


def test_stack_env_from_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".devstack").mkdir()
    (tmp_path / ".devstack" / "stack.env").write_text("DEMIMAS_TEST_MARKER=1\n")
    os.environ.pop("DEMIMAS_STACK_ENV", None)
    monkeypatch.chdir(tmp_path)
    assert cli.load_stack_env() == {"DEMIMAS_TEST_MARKER": "1"}


def test_no_stack_env_is_fine(tmp_path: Path) -> None:
    os.environ["DEMIMAS_STACK_ENV"] = str(tmp_path / "missing.env")
    assert cli.load_stack_env() == {}


def test_commands_come_from_entry_points() -> None:
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {"token", "events", "stack"} <= set(subparsers.choices)


def test_handler_results_become_exit_codes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    outcomes: dict[str, Any] = {"ok": None, "three": 3}

    def fail(args: argparse.Namespace) -> int:
        raise NotFound("no village 99.99")

    def parser_with_fakes() -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog="demimas")
        subparsers = parser.add_subparsers(dest="command", required=True)
        for name, result in outcomes.items():
            subparsers.add_parser(name).set_defaults(func=lambda args, result=result: result)
        subparsers.add_parser("fail").set_defaults(func=fail)
        return parser

    monkeypatch.setattr(cli, "build_parser", parser_with_fakes)
    os.environ["DEMIMAS_STACK_ENV"] = "/nonexistent"
    assert cli.main(["ok"]) == 0
    assert cli.main(["three"]) == 3
    assert cli.main(["fail"]) == 2
    assert capsys.readouterr().err == "demimas fail: no village 99.99\n"
