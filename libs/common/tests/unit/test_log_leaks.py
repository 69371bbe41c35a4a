"""The search for personal data in the servers' logs: it finds NIK- and phone-shaped values in their usual
spellings and the exact values a test used, names file, line and kind but never the value, and stays quiet on the
ordinary lines PostgreSQL and NATS write."""

from __future__ import annotations

from pathlib import Path

import pytest

from demimas_common.devstack.log_leaks import find_leaks, log_files

QUIET = """\
2026-12-06 01:53:49.230 UTC [81234] LOG:  database system is ready to accept connections
2026-12-06 01:53:50.001 UTC [81240] ERROR:  duplicate key value violates unique constraint "workers_nik_key"
2026-12-06 08:12:34.567 UTC [81240] LOG:  checkpoint complete: wrote 1234 buffers (7.5%); distance=16384 kB
[93412] 2026/12/06 01:53:49.230812 [INF]   Version:  2.10.18
[93412] 2026/12/06 01:53:49.230812 [INF]   ID:       NCXQ7Y4Z2B6D3F5H7J9K1M3P5R7T9V2X4Z6B8D0F2H4J6L8N0P2R4T
[93412] 2026/12/06 01:53:49.230900 [INF] Listening for client connections on 127.0.0.1:40812
request 0190a5a0-0000-7000-8000-000000000000 took 0.081234567 s
"""


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("DETAIL:  Key (nik)=(1606134703940001) already exists.", "NIK"),
        ("STATEMENT:  INSERT INTO registry.workers VALUES ('3307035110720001', 'Sri')", "NIK"),
        ("phone +6281234567890 invalid", "phone"),
        ("phone 0812-3456-7890 invalid", "phone"),
        ("phone 0812 3456 789 invalid", "phone"),
        ("phone 62813123456789", "phone"),
        # URL-encoded, as a GET's query string is logged (`%22` before the NIK ends in a digit)
        ("GET /graphql?variables=%7B%22nik%22%3A%221606134703940001%22%7D 200", "NIK"),
        ("GET /graphql?variables=%7B%22phone%22%3A%22%2B6281234567890%22%7D 200", "phone"),
    ],
)
def test_personal_data_is_found(tmp_path: Path, line: str, kind: str) -> None:
    log = tmp_path / "postgres.log"
    log.write_text(QUIET + line + "\n")
    (leak,) = find_leaks([log])
    assert (leak.path, leak.line, leak.kind) == (log, QUIET.count("\n") + 1, kind)
    assert line.split()[1] not in str(leak)  # the report names where, not what


def test_ordinary_server_lines_are_quiet(tmp_path: Path) -> None:
    log = tmp_path / "nats.log"
    log.write_text(QUIET)
    assert find_leaks([log]) == []


def test_exact_values_alone(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    log.write_text('{"message": "user Siti Aminah not found"}\n' + QUIET)
    assert [(leak.line, leak.kind) for leak in find_leaks([log], values=["Siti Aminah"], shapes=False)] == [
        (1, "value used by the test")
    ]
    assert find_leaks([log], values=["Budi"], shapes=False) == []


def test_every_log_file_under_the_stack_is_searched(tmp_path: Path) -> None:
    for name in ("pg/postgres.log", "nats/nats.log", "nats-outage/nats.log", "pg/pgdata/PG_VERSION"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("16\n")
    found = sorted(p.relative_to(tmp_path).as_posix() for p in log_files(tmp_path))
    assert found == ["nats-outage/nats.log", "nats/nats.log", "pg/postgres.log"]
