"""Duplicates of personal keys, through GraphQL and the import, answered without revealing a person registered
elsewhere and without a NIK or phone number in any log the devstack's servers (or the service) write.

Every log is read back at the end: PostgreSQL's (where a unique violation's DETAIL would carry `Key (nik)=(...)`),
NATS's, and the service's own (the masked JSON handler of `configure_logging`, written to a file here). A canary
proves each search reads the file its server really writes, so the test cannot pass by reading the wrong one.
"""

from __future__ import annotations

import csv
import logging
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from lokal.samaran.logging import SamaranFilter
from sqlalchemy import text

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency, Principal
from demimas_common.db.engine import create_engine
from demimas_common.db.urls import asyncpg_dsn
from demimas_common.devstack.log_leaks import find_leaks
from demimas_common.devstack.testing import TestStack
from demimas_common.logs import JsonFormatter
from demimas_registry.importer import load
from demimas_registry.importer.load import import_workers
from demimas_registry.importer.template import COLUMNS
from demimas_registry.synthetic import SyntheticWorkers

from .conftest import GraphQL, worker_input

pytestmark = pytest.mark.integration

REGISTER = "mutation($input: RegisterWorkerInput!) { registerWorker(input: $input) { id } }"
FAMILY = """mutation($id: ID!, $input: FamilyMemberInput!) { addFamilyMember(workerId: $id, input: $input) { id } }"""
HOME = "16.06.13.2001"  # Musi Banyuasin: inside DISNAKER 16.06's region
ELSEWHERE = "33.07.03.2011"  # Central Java: outside it


def fresh_phone() -> tuple[str, str]:
    """(as typed, as stored) for a mobile number no other test uses."""
    digits = f"{secrets.randbelow(10**8):08d}"
    return f"0813-{digits[:4]}-{digits[4:]}", f"+62813{digits}"


@pytest.fixture
def service_log(tmp_path: Path) -> Iterator[Path]:
    """The service's log as `configure_logging` writes it (masked JSON), into a file for the test to read."""
    path = tmp_path / "registry.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter("registry"))
    handler.addFilter(SamaranFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        handler.close()


def text_of(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def server_errors(stack: TestStack) -> int:
    """ERROR lines in the PostgreSQL server log so far (tests run one at a time: the count moves only with ours)."""
    return text_of(stack.postgres.log_path).count("ERROR:")


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    (error,) = body["errors"]
    return dict(error)


async def outbox(url: str, event_type: str, subject: str) -> list[dict[str, Any]]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT payload FROM registry.outbox WHERE type = :t AND subject = :s ORDER BY seq"),
                {"t": event_type, "s": subject},
            )
            return [dict(row[0]) for row in rows]
    finally:
        await engine.dispose()


def import_file(path: Path, rows: list[dict[str, str]]) -> bytes:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[c.name for c in COLUMNS])
        writer.writeheader()
        writer.writerows(rows)
    return path.read_bytes()


async def test_duplicates_reveal_nothing_and_no_log_holds_a_nik_or_phone(
    gql: GraphQL,
    client: httpx.AsyncClient,
    token: Callable[..., str],
    stack: TestStack,
    registry_db: Any,
    service_log: Path,
    tmp_path: Path,
) -> None:
    kp2mi, disnaker = token("KP2MI"), token("DISNAKER", region="16.06")
    used: list[str] = []
    errors_before = server_errors(stack)

    async def registered(village: str, by: str) -> tuple[dict[str, Any], str]:
        typed, stored = fresh_phone()
        values = worker_input(village, phone=typed)
        used.extend([values["nik"], typed, stored])
        body = await gql(REGISTER, {"input": values}, token=by)
        assert "errors" not in body, body
        return values, body["data"]["registerWorker"]["id"]

    # In the caller's region: CONFLICT naming the worker to a caller that may look it up by NIK (with a purpose).
    home, home_id = await registered(HOME, disnaker)
    again = error_of(await gql(REGISTER, {"input": home}, token=disnaker, purpose="PLACEMENT_SERVICE"))
    assert (again["extensions"]["code"], again["extensions"]["workerId"]) == ("CONFLICT", home_id)

    # Outside it: FORBIDDEN, saying nothing of where or by whom; the attempt recorded without the NIK.
    elsewhere, elsewhere_id = await registered(ELSEWHERE, kp2mi)
    moved = home | {"nik": elsewhere["nik"]}  # a village of the caller's region, a NIK registered in 33
    refused = error_of(await gql(REGISTER, {"input": moved}, token=disnaker))
    assert refused["extensions"] == {"code": "FORBIDDEN", "field": "nik", "reason": "NIK_NOT_REGISTRABLE"}
    for hint in (elsewhere_id, ELSEWHERE, "33", "already", "region"):
        assert hint not in refused["message"]
    (event,) = await outbox(registry_db.admin_url, "demimas.registry.registration.refused", elsewhere_id)
    assert event["data"] == {"workerId": elsewhere_id, "villageCode": HOME, "via": "registerWorker"}
    assert event["actoragency"] == "DISNAKER"
    assert elsewhere["nik"] not in str(event)

    # Family members carry no unique personal key; adding the same one twice is no failed statement either.
    child = {"relation": "SPOUSE", "fullName": "Ahmad Fauzi", "birthDate": "1990-05-01"}
    for _ in range(2):
        body = await gql(FAMILY, {"id": home_id, "input": child}, token=kp2mi, purpose="FAMILY_SUPPORT")
        assert "errors" not in body, body

    # The import: a NIK of the region is skipped, one registered elsewhere is rejected the same way and recorded.
    gen = SyntheticWorkers(seed=secrets.randbelow(10**6))
    typed, stored = fresh_phone()
    new = worker_input(HOME)
    used.extend([new["nik"], typed, stored])
    rows = [
        gen.row(village=HOME, status="CANDIDATE")
        | {"nik": values["nik"], "birth_date": values["birthDate"], "sex": "FEMALE", "phone": typed}
        for values in (home, elsewhere, new)
    ]
    files = {"file": ("workers.csv", import_file(tmp_path / "workers.csv", rows), "text/csv")}
    response = await client.post("/imports/workers", files=files, headers={"Authorization": f"Bearer {disnaker}"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["total"], report["inserted"], report["skippedExisting"]) == (3, 1, 1), report
    assert [(r["line"], r["column"], r["code"]) for r in report["rejected"]] == [(3, "nik", "NIK_NOT_REGISTRABLE")]
    assert report["rejected"][0]["message"] == refused["message"]
    recorded = await outbox(registry_db.admin_url, "demimas.registry.registration.refused", elsewhere_id)
    assert [e["data"]["via"] for e in recorded] == ["registerWorker", "import"]

    # Every duplicate above was detected without a failing statement: the server logged no error meanwhile.
    assert server_errors(stack) == errors_before

    # The server's own settings: a unique violation that does fail, its key and statement text carrying a NIK,
    # leaves only its primary message in the server log (log_error_verbosity=terse, log_min_error_statement=panic).
    conn = await asyncpg.connect(asyncpg_dsn(registry_db.admin_url))
    try:
        with pytest.raises(asyncpg.UniqueViolationError) as violation:
            await conn.execute(
                "INSERT INTO registry.workers (id, nik, full_name, sex, birth_date, education, village_code, status, "
                f"version) VALUES (gen_random_uuid(), '{elsewhere['nik']}', 'Sri', 'FEMALE', '1994-03-07', 'SMK', "
                f"'{HOME}', 'CANDIDATE', 1)"
            )
        assert elsewhere["nik"] in str(violation.value.detail)  # the client is told; the log must not be
        canary = f"log-canary-{uuid.uuid4()}"
        await conn.execute(f"DO $$ BEGIN RAISE WARNING '{canary}'; END $$")
    finally:
        await conn.close()
    logging.getLogger("demimas.registry.test").warning("%s", canary)

    logs = [*stack.log_files(), service_log]
    assert stack.postgres.log_path in logs
    assert stack.nats.log_path in logs
    server_log = text_of(stack.postgres.log_path)
    assert canary in server_log  # these are the files really written
    assert canary in text_of(service_log)
    assert 'duplicate key value violates unique constraint "workers_nik_key"' in server_log
    leaks = find_leaks(logs, values=used, shapes=False)
    assert not leaks, "\n".join(map(str, leaks))


async def test_an_import_racing_a_registration_still_refuses_and_logs_no_nik(
    gql: GraphQL, token: Callable[..., str], stack: TestStack, registry_db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another office registers a NIK of the batch after its lookup: the COPY fails on the unique key (the one
    failing statement the import can meet), the batch is written again through ON CONFLICT, and the rows are
    still sorted out: skipped inside the region, NIK_NOT_REGISTRABLE outside it."""
    kp2mi = token("KP2MI")
    home, elsewhere, new = worker_input(HOME), worker_input(ELSEWHERE), worker_input(HOME)
    ids = {}
    for values in (home, elsewhere):
        body = await gql(REGISTER, {"input": values}, token=kp2mi)
        ids[values["villageCode"]] = body["data"]["registerWorker"]["id"]
    gen = SyntheticWorkers(seed=secrets.randbelow(10**6))
    rows = [
        gen.row(village=HOME, status="CANDIDATE")
        | {"nik": values["nik"], "birth_date": values["birthDate"], "sex": "FEMALE", "phone": values["phone"]}
        for values in (home, elsewhere, new)
    ]
    real = load._Refusals.sort_out
    lookups = 0

    async def registered_just_after_the_lookup(self: Any, *args: Any) -> Any:
        nonlocal lookups
        lookups += 1
        if lookups == 1:  # the batch's lookup ran before the two were registered
            return set(), [], []
        return await real(self, *args)

    monkeypatch.setattr(load._Refusals, "sort_out", registered_just_after_the_lookup)
    principal = Principal("test", Agency.DISNAKER, DEFAULT_GRANTS[Agency.DISNAKER], region="16.06")
    engine = create_engine(registry_db.runtime_url)
    errors_before = server_errors(stack)
    try:
        report = await import_workers(engine, [(i + 2, row) for i, row in enumerate(rows)], principal=principal)
    finally:
        await engine.dispose()
    assert lookups == 2  # the fallback ran
    assert (report.inserted, report.skipped_existing) == (1, 1)
    assert [(e.line, e.code) for e in report.rejected] == [(3, "NIK_NOT_REGISTRABLE")]
    recorded = await outbox(registry_db.admin_url, "demimas.registry.registration.refused", ids[ELSEWHERE])
    assert [e["data"] for e in recorded] == [{"workerId": ids[ELSEWHERE], "villageCode": HOME, "via": "import"}]
    assert server_errors(stack) == errors_before + 1  # the COPY, logged without its key
    leaks = find_leaks(stack.log_files(), values=[v["nik"] for v in (home, elsewhere, new)], shapes=False)
    assert not leaks, "\n".join(map(str, leaks))
