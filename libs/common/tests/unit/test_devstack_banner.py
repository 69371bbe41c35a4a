"""`make run`'s banner: a service's development links (the feeds webhook sinks) under its URL, on the port it
really got, with a word when that is not the port its demo data was made for."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import cast

from demimas_common.devstack.supervisor import Stack
from demimas_common.service import ServiceSpec

SPEC = ServiceSpec(name="hooks", port=4106, app_factory="tests:app", migrations=Path("."),
                   dev_links=(("sink a", "/dev/sink/a"), ("sink b", "/dev/sink/b")))  # fmt: skip


def banner(tmp_path: Path, port: int) -> str:
    stack = Stack(root=tmp_path / ".devstack")
    stack.settings = stack.settings.model_copy(
        update={"database_url": "postgresql://postgres@/demimas?host=/tmp", "nats_url": "nats://127.0.0.1:4222"}
    )
    stack.ports = {"hooks": port}
    stack.specs = {"hooks": SPEC}
    stack.processes = {"hooks": cast(subprocess.Popen[bytes], object())}
    return stack.banner(tmp_path / "tokens.env")


def test_the_links_are_printed_under_the_service(tmp_path: Path) -> None:
    lines = banner(tmp_path, 4106).splitlines()
    at = next(i for i, line in enumerate(lines) if "http://127.0.0.1:4106/graphql" in line)
    assert "http://127.0.0.1:4106/dev/sink/a   (sink a)" in lines[at + 1]
    assert "http://127.0.0.1:4106/dev/sink/b   (sink b)" in lines[at + 2]
    assert "expects port" not in "\n".join(lines)


def test_another_port_is_said(tmp_path: Path) -> None:
    printed = banner(tmp_path, 41999)
    assert "http://127.0.0.1:41999/dev/sink/a" in printed
    assert "the demo data expects port 4106, not 41999" in printed
