"""Issue 20 item 6: the spreadsheet import through the gateway (`POST /uploads/workers`, on a real port, the body
streamed as the gateway forwards it), with the agencies' own tokens, against the real registry: the per-row report
read back with `importJob(id)`, a file refused whole leaving nothing, the scope checked by the gateway and again by
the registry, the gateway's size limit."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook

from demimas_common.auth.jwt import TokenVerifier
from demimas_common.auth.keys import DevKeys
from demimas_gateway.fetcher import SubgraphClient
from demimas_gateway.gateway import Gateway
from demimas_gateway.http import GatewayApp
from demimas_gateway.supergraph import load_supergraph
from demimas_registry.importer.template import COLUMNS
from demimas_registry.settings import RegistrySettings
from demimas_registry.synthetic import SyntheticWorkers
from tests.conftest import AUDIENCE, ISSUER, SUPERGRAPH

pytestmark = pytest.mark.integration

NAMES = [c.name for c in COLUMNS]
LIMIT = 12_000  # a one-row XLSX is about 5 KB, 300 rows about 40 KB
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JOB = """query ($id: ID!) { importJob(id: $id) {
  id status total inserted skippedExisting rejectedCount rejectedTruncated errorCode agency
  rejected { line column code message } } }"""


def xlsx(rows: list[dict[str, str]], extra_cell_on_last_row: bool = False) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(NAMES)
    for r in rows:
        sheet.append([r[n] for n in NAMES])
    if extra_cell_on_last_row:
        sheet.cell(row=len(rows) + 1, column=65, value="x")  # past DEMIMAS_IMPORT_MAX_COLUMNS (64): the file is refused
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def upload(http: httpx.AsyncClient, body: bytes, token: str | None) -> httpx.Response:
    headers = bearer(token) if token else {}
    return await http.post("/uploads/workers", files={"file": ("workers.xlsx", body, XLSX)}, headers=headers)


async def import_job(http: httpx.AsyncClient, job_id: str, token: str) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": JOB, "variables": {"id": job_id}}, headers=bearer(token))
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture
async def gateway(gateway_over_http: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_over_http.removesuffix("/graphql"), timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
def gen() -> SyntheticWorkers:
    return SyntheticWorkers(seed=20_06)


async def test_an_xlsx_through_the_gateway_gets_its_per_row_report(
    gateway: httpx.AsyncClient, mint: Callable[..., str], gen: SyntheticWorkers
) -> None:
    kp2mi = mint("KP2MI")
    rows = [gen.row(village="16.06.13.2001") for _ in range(4)] + [gen.row(village="16.06.13.2001") | {"sex": "?"}]
    response = await upload(gateway, xlsx(rows), kp2mi)
    assert response.status_code == 200, response.text
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", response.headers["traceresponse"])
    body = response.json()
    assert body["extensions"]["traceId"] == response.headers["traceresponse"].split("-")[1]
    assert (body["total"], body["inserted"], body["importJob"]["status"]) == (5, 4, "SUCCEEDED")

    job = (await import_job(gateway, body["importJob"]["id"], kp2mi))["data"]["importJob"]
    assert job["status"] == "SUCCEEDED"
    assert (job["total"], job["inserted"], job["skippedExisting"], job["rejectedCount"]) == (5, 4, 0, 1)
    assert job["agency"] == "KP2MI"
    assert job["errorCode"] is None
    assert [(e["line"], e["column"], e["code"]) for e in job["rejected"]] == [(6, "sex", "INVALID_VALUE")]
    stored = str(job)
    for row in rows:  # the kept report names no value of the file
        assert row["nik"] not in stored
        assert row["full_name"] not in stored

    # the same file again: nothing added, each worker counted as already there
    again = (await upload(gateway, xlsx(rows), kp2mi)).json()
    assert (again["inserted"], again["skippedExisting"]) == (0, 4)

    # another agency that may import, regional or not, does not see KP2MI's job
    for other in (mint("DISNAKER", region="16.06"), mint("BP3MI", region="16.06")):
        seen = await import_job(gateway, body["importJob"]["id"], other)
        assert seen["data"]["importJob"] is None, seen


async def test_a_row_with_three_mistakes_gets_three_entries_and_is_rejected_once(
    gateway: httpx.AsyncClient, mint: Callable[..., str], gen: SyntheticWorkers
) -> None:
    """A bad NIK, a bad sex and a missing village on one row: all three in one report (the clerk fixes them in one
    go), the row counted once, and the kept report still names no value of the file."""
    kp2mi = mint("KP2MI")
    rows = [gen.row(village="16.06.13.2001") for _ in range(3)]
    rows.insert(1, gen.row(village="16.06.13.2001") | {"nik": "12345", "sex": "X", "village_code": ""})
    response = await upload(gateway, xlsx(rows), kp2mi)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["inserted"], body["rejectedCount"], body["rejectedTruncated"]) == (4, 3, 1, False)
    expected = [(3, "nik", "INVALID_NIK"), (3, "sex", "INVALID_VALUE"), (3, "village_code", "REQUIRED")]
    assert [(e["line"], e["column"], e["code"]) for e in body["rejected"]] == expected
    assert [e["message"] for e in body["rejected"]] == [
        "NIK must be exactly 16 digits",
        "'X' is not MALE/FEMALE (or L/P)",
        "village_code is required",
    ]  # the uploader's own answer: the messages of each error alone, as before

    job = (await import_job(gateway, body["importJob"]["id"], kp2mi))["data"]["importJob"]
    assert (job["status"], job["total"], job["inserted"], job["rejectedCount"], job["rejectedTruncated"]) == (
        "SUCCEEDED",
        4,
        3,
        1,
        False,
    )
    assert [(e["line"], e["column"], e["code"]) for e in job["rejected"]] == expected
    assert [e["message"] for e in job["rejected"]] == [
        "nik: not a valid NIK (16 digits consistent with sex and birth date)",
        "sex: not one of the accepted values for this column",
        "village_code: a required value is missing",
    ]
    stored = str(job)
    for value in ("12345", rows[1]["full_name"], *(row["nik"] for row in rows)):
        assert value not in stored


async def test_a_file_refused_whole_stores_nothing_and_its_job_says_why(
    gateway: httpx.AsyncClient, mint: Callable[..., str], gen: SyntheticWorkers
) -> None:
    disnaker = mint("DISNAKER", region="16.06")
    rows = [gen.row(village="16.06.13.2001") for _ in range(6)]
    refused = await upload(gateway, xlsx(rows, extra_cell_on_last_row=True), disnaker)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == "TOO_MANY_COLUMNS"
    assert "nothing of the file was stored" in refused.json()["error"]["message"]
    job = (await import_job(gateway, refused.headers["x-demimas-import-job"], disnaker))["data"]["importJob"]
    assert (job["status"], job["errorCode"], job["inserted"], job["rejected"]) == (
        "REJECTED",
        "TOO_MANY_COLUMNS",
        0,
        [],
    )
    # nothing half-written: the same workers in a good file are all new
    stored = (await upload(gateway, xlsx(rows), disnaker)).json()
    assert (stored["total"], stored["inserted"], stored["skippedExisting"], stored["rejected"]) == (6, 6, 0, [])
    # KP2MI does not see DISNAKER's job; a DISNAKER token of the whole province does
    assert (await import_job(gateway, stored["importJob"]["id"], mint("KP2MI")))["data"]["importJob"] is None
    national = await import_job(gateway, stored["importJob"]["id"], mint("DISNAKER", region="16"))
    assert national["data"]["importJob"]["inserted"] == 6


async def test_an_upload_answered_at_once_is_followed_by_its_job_to_its_report(
    gateway: httpx.AsyncClient, mint: Callable[..., str], gen: SyntheticWorkers
) -> None:
    """`Prefer: respond-async`: 202 with the RUNNING job as soon as the gateway has forwarded the file; `importJob`
    follows it to the same report an upload that waits gets."""
    bp3mi = mint("BP3MI", region="16.06")
    rows = [gen.row(village="16.06.13.2001") for _ in range(7)] + [gen.row(village="16.06.13.2001") | {"nik": "1"}]
    response = await gateway.post(
        "/uploads/workers",
        files={"file": ("workers.xlsx", xlsx(rows), XLSX)},
        headers=bearer(bp3mi) | {"Prefer": "respond-async"},
    )
    assert response.status_code == 202, response.text
    assert response.headers["preference-applied"] == "respond-async"
    body = response.json()
    job_id = body["importJob"]["id"]
    assert body["importJob"]["status"] == "RUNNING"
    assert response.headers["x-demimas-import-job"] == job_id
    assert body["extensions"]["traceId"] == response.headers["traceresponse"].split("-")[1]

    seen: list[str] = []
    for _ in range(300):
        job = (await import_job(gateway, job_id, bp3mi))["data"]["importJob"]
        seen.append(job["status"])
        if job["status"] != "RUNNING":
            break
        await asyncio.sleep(0.1)
    assert job["status"] == "SUCCEEDED", seen
    assert (job["total"], job["inserted"], job["rejectedCount"]) == (8, 7, 1)
    assert [(e["line"], e["column"], e["code"]) for e in job["rejected"]] == [(9, "nik", "INVALID_NIK")]
    assert (await import_job(gateway, job_id, mint("DISNAKER", region="16.06")))["data"]["importJob"] is None


async def test_without_registry_write_the_gateway_and_the_registry_refuse(
    gateway: httpx.AsyncClient,
    registry_url: str,
    mint: Callable[..., str],
    gen: SyntheticWorkers,
) -> None:
    body = xlsx([gen.row(village="16.06.13.2001")])
    reader = mint("KEMENPPPA")  # registry:read, not registry:write
    refused = await upload(gateway, body, reader)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await upload(gateway, body, None)
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    forged = await upload(gateway, body, mint("KP2MI") + "x")
    assert forged.status_code == 401
    registry = registry_url.removesuffix("/graphql") + "/imports/workers"
    async with httpx.AsyncClient() as direct:
        again = await direct.post(registry, files={"file": ("w.xlsx", body, XLSX)}, headers=bearer(reader))
    assert again.status_code == 403
    assert again.json()["error"]["code"] == "FORBIDDEN"
    job = await import_job(gateway, "00000000-0000-4000-8000-000000000000", reader)
    assert not (job["data"] or {}).get(
        "importJob"
    )  # refused by the gateway's @requiresScopes before the registry is asked
    assert job["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"


@pytest.fixture
async def small_gateway(
    registry_url: str, designation_url: str, pillars_url: str, audit_url: str, cases_url: str, feeds_url: str,
    e2e_keys: DevKeys,
) -> AsyncIterator[httpx.AsyncClient]:  # fmt: skip
    """The gateway with an upload limit of LIMIT bytes."""
    urls = {"registry": registry_url, "designation": designation_url, "pillars": pillars_url, "audit": audit_url,
            "cases": cases_url, "feeds": feeds_url}  # fmt: skip
    client = SubgraphClient(urls, timeout_seconds=10)
    settings = RegistrySettings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwks_path=Path(e2e_keys.jwks_path))
    supergraph = load_supergraph(SUPERGRAPH.read_text(), graph_urls=urls)
    app = GatewayApp(Gateway(supergraph, client), verifier=TokenVerifier(settings), max_upload_bytes=LIMIT)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        yield http
    await client.close()
    if app.uploads is not None:
        await app.uploads.close()


async def test_an_upload_over_the_gateway_limit_is_refused_with_its_code(
    small_gateway: httpx.AsyncClient, mint: Callable[..., str], gen: SyntheticWorkers
) -> None:
    kp2mi = mint("KP2MI")
    rows = [gen.row(village="16.06.13.2001") for _ in range(300)]
    big = xlsx(rows)
    assert len(big) > LIMIT
    declared = await upload(small_gateway, big, kp2mi)  # Content-Length over the limit: refused from the headers
    assert declared.status_code == 413
    assert declared.json()["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: cut while streaming
        for start in range(0, len(big), 1024):
            yield big[start : start + 1024]

    streamed = await small_gateway.post(
        "/uploads/workers",
        content=chunks(),
        headers=bearer(kp2mi) | {"content-type": "multipart/form-data; boundary=x"},
    )
    assert streamed.status_code == 413
    assert streamed.json()["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"
    # nothing of the rows reached the registry: the same rows are new in a file under the limit elsewhere
    small = await upload(small_gateway, xlsx(rows[:1]), kp2mi)
    assert small.status_code == 200, small.text
    assert (small.json()["inserted"], small.json()["skippedExisting"]) == (1, 0)
    wrong_type = await small_gateway.post(
        "/uploads/workers", content=b"{}", headers=bearer(kp2mi) | {"content-type": "application/json"}
    )
    assert wrong_type.status_code == 415
