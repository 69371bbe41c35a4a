"""`make run`'s banner: a service's development links (the feeds webhook sinks) under its URL, on the port it
really got, with a word when that is not the port its demo data was made for."""

from __future__ import annotations

import subprocess
from dataclasses import replace
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


def test_a_page_only_service_prints_its_pages_and_starts_behind_the_gateway(tmp_path: Path) -> None:
    """The portal: its URL is its pages' start (not /graphql), it gets no database but NATS (its revoked sessions),
    and the gateway is not told it is a subgraph."""
    from demimas_portal.app import SERVICE as PORTAL

    assert (PORTAL.port, PORTAL.database, PORTAL.behind_gateway, PORTAL.migrations) == (4007, False, True, None)
    assert PORTAL.nats
    stack = Stack(root=tmp_path / ".devstack")
    stack.settings = stack.settings.model_copy(
        update={"database_url": "postgresql://postgres@/demimas?host=/tmp", "nats_url": "nats://127.0.0.1:4222"}
    )
    stack.ports = {"portal": 4007}
    stack.specs = {"portal": PORTAL}
    stack.processes = {"portal": cast(subprocess.Popen[bytes], object())}
    printed = stack.banner(tmp_path / "tokens.env")
    assert "portal       http://127.0.0.1:4007/   (pages, in a browser)" in printed
    assert "4007/graphql" not in printed


def test_the_gateway_is_not_given_a_page_only_service_as_a_subgraph(tmp_path: Path) -> None:
    from demimas_portal.app import SERVICE as PORTAL

    stack = Stack(root=tmp_path / ".devstack")
    stack.ports = {"registry": 4001, "portal": 4007, "gateway": 4000}
    stack.specs = {"registry": replace(SPEC, graphql_schema="tests:schema"), "portal": PORTAL}
    started: list[dict[str, str]] = []

    class Recorder:
        def __init__(self, args: list[str], env: dict[str, str], preexec_fn: object) -> None:
            started.append(env)

    import demimas_common.devstack.supervisor as supervisor

    supervisor_popen = supervisor.subprocess.Popen
    supervisor.subprocess.Popen = Recorder  # type: ignore[misc,assignment]
    try:
        graph = tmp_path / "supergraph.graphql"
        graph.write_text("schema { query: Query }")
        assert stack.start_gateway(graph)
    finally:
        supervisor.subprocess.Popen = supervisor_popen  # type: ignore[misc]
    assert '"portal"' not in started[0]["DEMIMAS_GATEWAY_SUBGRAPH_URLS"]
    assert '"registry"' in started[0]["DEMIMAS_GATEWAY_SUBGRAPH_URLS"]


def test_a_page_only_service_gets_nats_only_when_its_spec_asks(tmp_path: Path) -> None:
    """`make run` hands the portal DEMIMAS_NATS_URL (its revoked sessions), never the database's URL; a page-only
    service without `nats` gets neither."""
    import demimas_common.devstack.supervisor as supervisor
    from demimas_portal.app import SERVICE as PORTAL

    stack = Stack(root=tmp_path / ".devstack")
    stack.settings = stack.settings.model_copy(
        update={"database_url": "postgresql://postgres@/demimas?host=/tmp", "nats_url": "nats://127.0.0.1:4222"}
    )
    stack.ports = {"gateway": 4000}
    started: dict[str, dict[str, str]] = {}

    class Recorder:
        def __init__(self, args: list[str], env: dict[str, str], preexec_fn: object) -> None:
            started[args[args.index("--factory") + 1]] = env

    plain = ServiceSpec.pages("plain", 4108)
    supervisor_popen = supervisor.subprocess.Popen
    supervisor.subprocess.Popen = Recorder  # type: ignore[misc,assignment]
    try:
        stack.start_services([replace(PORTAL, port=0), replace(plain, port=0)])
    finally:
        supervisor.subprocess.Popen = supervisor_popen  # type: ignore[misc]
    portal, other = started[PORTAL.app_factory], started[plain.app_factory]
    assert portal["DEMIMAS_NATS_URL"] == "nats://127.0.0.1:4222"
    assert "DEMIMAS_DATABASE_URL" not in portal
    assert "DEMIMAS_NATS_URL" not in other
    assert "DEMIMAS_DATABASE_URL" not in other
