"""The integrators' guide (docs/integration.md) followed by a test, so that it stays true:

- every example operation in docs/examples/*.graphql is valid against the published API schema
  (deploy/api-schema.graphql) and names its token in its header comment;
- each runs through the real gateway in front of the five real services on the test devstack, with the token its
  header names (`# token: DISNAKER region=16.06`, `# purpose: ...` for the X-Demimas-Purpose header, variables in
  `# variables: {...}` or a sibling `.json`), and answers without errors, or with exactly the error code its header
  documents (`# expect: PURPOSE_REQUIRED`); an example that needs something done first (an upload, a decided
  proposal, a request whose trace to follow) has a scenario here that does it as an integrator would, fills the
  example's placeholders (`"…"`) from it and checks the answer's values, not only that it came;
- the subscription examples deliver an event over WebSocket after the example operation their header names
  (`# trigger: ...`) has run;
- every ```python block of the guide runs: the token request (OAuth 2.0 client credentials) against a stand-in
  identity provider served here, which answers with a token signed by the test session's keys, then the guide's
  GraphQL, pagination and subscription helpers against the gateway with that token;
- the guide's ariadne-codegen configuration (its ```toml block, as written there) makes the real generator, which
  `make test` installs in a venv of its own (.venv/tools/codegen: its graphql-core and ruff caps conflict with ours;
  the test fails, never skips, without it), write a typed client from the published schema and example operations;
  used as the guide says (`async with Client(...)`, awaited calls, a header per call), it answers pydantic models
  through the gateway, enum members and `Date`/`DateTime` parsed, raises with each error's code, and the guide's
  own snippet runs with it;
- the guide's webhook verification, in Python and in JavaScript (run by Node), accepts a real delivery of the feeds
  service and refuses it tampered, with another secret or too old; its change-feed loop pulls the same event through
  the gateway and resumes from the cursor it returned;
- the documented bulk export, `demimas feeds export --since ... --types ...` with the token in DEMIMAS_TOKEN, run as
  a command against the gateway: JSON Lines of the given types from that time on, and a resume hint on stderr whose
  `--after` goes on from there."""

from __future__ import annotations

import asyncio
import base64
import csv
import datetime as dt
import importlib
import io
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pydantic
import pytest
from graphql import build_schema, parse, validate
from graphql.language import OperationDefinitionNode, OperationType
from standardwebhooks import Webhook

from demimas_common.devstack.testing import TestStack
from demimas_common.events.envelope import new_event
from demimas_common.events.nats import connect
from demimas_common.subscriptions.client import WsClient
from demimas_feeds.receiver import Receiver
from demimas_registry.importer.template import COLUMNS
from demimas_registry.synthetic import SyntheticWorkers
from tests.conftest import Endpoints, ask, serve
from tests.e2e.test_gateway_breakdowns import shown_values

from .test_subgraph_subscriptions import last_seq

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
GUIDE = ROOT / "docs" / "integration.md"
API_SCHEMA = ROOT / "deploy" / "api-schema.graphql"
_HEADER = re.compile(r"^#\s*(token|purpose|variables|expect|trigger):\s*(.*?)\s*$")


@dataclass
class Example:
    path: Path
    document: str
    agency: str
    claims: dict[str, Any] = field(default_factory=dict)
    purpose: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    expect: str | None = None
    trigger: str | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def operation(self) -> OperationType:
        [definition] = [d for d in parse(self.document).definitions if isinstance(d, OperationDefinitionNode)]
        return definition.operation


def load(path: Path) -> Example:
    text = path.read_text()
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        match = _HEADER.match(line)
        if match:
            headers[match.group(1)] = match.group(2)
    assert "token" in headers, f"{path.name}: the header names no `# token: AGENCY [region=...]`"
    agency, *rest = headers["token"].split()
    claims: dict[str, Any] = {}
    for item in rest:
        key, _, value = item.partition("=")
        assert key in ("region", "purpose", "scopes"), f"{path.name}: unknown token claim {key!r}"
        claims[key] = value.split(",") if key == "scopes" else value
    raw = headers.get("variables")
    sibling = path.with_suffix(".json")
    if raw and raw.endswith(".json"):
        variables = json.loads((path.parent / raw).read_text())
    elif raw:
        variables = json.loads(raw)
    else:
        variables = json.loads(sibling.read_text()) if sibling.is_file() else {}
    return Example(path, text, agency, claims, headers.get("purpose"), variables, headers.get("expect"),
                   headers.get("trigger"))  # fmt: skip


ALL = sorted(EXAMPLES.glob("*.graphql"))
EXAMPLE_IDS = [p.name for p in ALL]


def test_there_are_examples_of_every_kind() -> None:
    kinds = {load(p).operation for p in ALL}
    assert kinds == {OperationType.QUERY, OperationType.MUTATION, OperationType.SUBSCRIPTION}
    # every file in the folder is an example or an example's variables
    for other in EXAMPLES.iterdir():
        assert other.suffix == ".graphql" or other.with_suffix(".graphql").is_file(), other.name


@pytest.mark.parametrize("path", ALL, ids=EXAMPLE_IDS)
def test_each_example_is_valid_against_the_published_api_schema(path: Path) -> None:
    example = load(path)
    schema = build_schema(API_SCHEMA.read_text())
    errors = validate(schema, parse(example.document))
    assert not errors, [e.message for e in errors]
    if example.trigger:
        assert (EXAMPLES / example.trigger).is_file(), f"{path.name}: no example {example.trigger}"
    if example.expect:
        assert example.expect in GUIDE.read_text(), f"the guide does not explain {example.expect}"


def test_the_guide_links_every_example() -> None:
    guide = GUIDE.read_text()
    missing = [p.name for p in ALL if f"examples/{p.name}" not in guide]
    assert not missing, f"docs/integration.md does not mention {missing}"


# --- through the real gateway -----------------------------------------------------------------------------------
@dataclass
class Runner:
    endpoints: Endpoints
    mint: Callable[..., str]
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    url: str = ""  # the gateway on a real port (its /graphql), for what is not GraphQL: the upload route

    def token(self, example: Example) -> str:
        return self.mint(example.agency, **example.claims)

    async def ask(self, example: Example, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The example's answer through the gateway now, with its own variables or `variables` (never cached)."""
        status, body = await ask(self.endpoints.gateway, example.document,
                                 example.variables if variables is None else variables,
                                 token=self.token(example), purpose=example.purpose)  # fmt: skip
        assert status == 200, (example.name, status, body)
        return body

    async def run(self, example: Example, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The example's answer through the gateway; a mutation runs once per session (its variables are fixed)."""
        if example.name not in self.answers:
            self.answers[example.name] = await self.ask(example, variables)
        return self.answers[example.name]


_SESSION: dict[str, Any] = {}  # the answers of the examples run so far, and the stream's position before the first


@pytest.fixture
async def runner(stack: TestStack, endpoints: Endpoints, mint: Callable[..., str], gateway_over_http: str) -> Runner:
    # the subscription examples read the stream from before the first example ran, so they see the trigger's event
    # whichever test ran it
    if "start" not in _SESSION:
        _SESSION["start"] = await last_seq(stack)
        _SESSION["answers"] = {}
    return Runner(endpoints, mint, _SESSION["answers"], gateway_over_http)  # the gateway client belongs to the test


def start_seq() -> str:
    return str(_SESSION["start"])


def check(example: Example, body: dict[str, Any]) -> dict[str, Any]:
    """The answer's data, once it is what the example's header says (no error, or exactly its `# expect:` code)."""
    errors = body.get("errors") or []
    if example.expect is None:
        assert not errors, (example.name, errors)
        assert body.get("data"), (example.name, body)
        assert all(value is not None for value in body["data"].values()), (example.name, body)
    else:
        codes = {e.get("extensions", {}).get("code") for e in errors}
        assert codes == {example.expect}, (example.name, errors)
        assert body.get("data"), "the rest of the operation is answered"
    return dict(body["data"])


@pytest.mark.integration
@pytest.mark.parametrize("path", [p for p in ALL if load(p).operation is not OperationType.SUBSCRIPTION],
                         ids=[p.name for p in ALL if load(p).operation is not OperationType.SUBSCRIPTION])  # fmt: skip
async def test_each_example_runs_through_the_gateway_with_its_token(path: Path, runner: Runner) -> None:
    example = load(path)
    scenario = SCENARIOS.get(example.name)
    if scenario is None:
        check(example, await runner.run(example))
    else:
        await scenario(runner, example)


def test_every_scenario_names_an_example_and_fills_its_placeholders() -> None:
    assert set(SCENARIOS) <= set(EXAMPLE_IDS), set(SCENARIOS) - set(EXAMPLE_IDS)
    for path in ALL:
        if "…" in json.dumps(load(path).variables, ensure_ascii=False):
            assert path.name in SCENARIOS, f"{path.name}: a placeholder in its variables and no scenario to fill it"


# --- scenarios: what an example needs done first, and what its answer must then say ---------------------------------
Scenario = Callable[[Runner, Example], Awaitable[None]]
REGISTER = "mutation R($input: RegisterWorkerInput!) { registerWorker(input: $input) { id } }"
DEPART = "mutation D($id: ID!, $input: DepartureInput!) { recordDeparture(workerId: $id, input: $input) { status } }"
_serial = itertools.count(2501)  # NIK serials of this file's workers (district 16.06.13)
ACCESSED = "demimas.registry.personal_data.accessed"


async def _data(runner: Runner, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    status, body = await ask(runner.endpoints.gateway, query, variables, token=token)
    assert status == 200, body
    assert not body.get("errors"), body
    return dict(body["data"])


async def _register(runner: Runner, token: str, village: str, sex: str, education: str) -> str:
    born = dt.date(1994, 3, 7)
    day = born.day + (40 if sex == "FEMALE" else 0)  # the NIK's birth day: plus 40 for a woman
    while True:
        nik = f"160613{day:02d}{born:%m%y}{next(_serial):04d}"
        person = {"nik": nik, "fullName": "Siti Aminah" if sex == "FEMALE" else "Ahmad Fauzi", "sex": sex,
                  "birthDate": born.isoformat(), "educationLevel": education, "villageCode": village}  # fmt: skip
        status, body = await ask(runner.endpoints.gateway, REGISTER, {"input": person}, token=token)
        assert status == 200, body
        if not body.get("errors"):
            return str(body["data"]["registerWorker"]["id"])
        assert body["errors"][0]["extensions"]["code"] == "CONFLICT", body  # a NIK another test registered


def _by_key(entries: list[dict[str, Any]]) -> dict[str, int]:
    return {e["key"]: e["count"] for e in entries}


async def village_breakdowns(runner: Runner, example: Example) -> None:
    """Four people registered in Ulak Paceh by the regency office, three of them gone abroad: each breakdown of the
    village and of its regency moves by exactly them, and each sums to its total; KEMENDES, without registry:read,
    gets the values held by at least three people."""
    before = check(example, await runner.ask(example))
    office = runner.mint("DISNAKER", region="16.06")
    village = example.variables["code"]
    people = [("FEMALE", "SMK", "FORMAL", "8189"), ("MALE", "SMA", "FORMAL", "9329"),
              ("FEMALE", "SMK", "INFORMAL", None), ("MALE", "SMP", None, None)]  # fmt: skip
    for sex, education, sector, code in people:
        worker = await _register(runner, office, village, sex, education)
        if sector is None:
            continue  # still a candidate
        departure = {"destinationCountry": "MY", "sector": sector, "occupation": "Operator produksi",
                     "scheme": "P_TO_P", "procedural": True, "departureDate": "2026-01-05"}  # fmt: skip
        if code is not None:
            departure["occupationCode"] = code
        await _data(runner, DEPART, {"id": worker, "input": departure}, office)
    after = check(example, await runner.run(example))
    assert (after["village"]["name"], after["region"]["name"]) == ("Ulak Paceh", "Kabupaten Musi Banyuasin")
    for scope in ("village", "region"):
        old, new = before[scope]["migrantStats"], after[scope]["migrantStats"]
        assert (new["total"] - old["total"], new["abroad"] - old["abroad"]) == (4, 3), scope
        expected = {
            "byEducation": {"SMK": 2, "SMA": 1, "SMP": 1},
            "bySex": {"FEMALE": 2, "MALE": 2},
            "bySector": {"FORMAL": 2, "INFORMAL": 1},
            "byOccupation": {"8": 1, "9": 1, "UNCLASSIFIED": 1},
        }
        for breakdown, moved in expected.items():
            was, now = _by_key(old[breakdown]), _by_key(new[breakdown])
            assert {k: now[k] - was.get(k, 0) for k in now if now[k] != was.get(k, 0)} == moved, (scope, breakdown)
            summed = "total" if breakdown in ("byEducation", "bySex") else "abroad"
            assert sum(now.values()) == new[summed], (scope, breakdown)
        labels = {e["key"]: e["label"] for e in new["byOccupation"]}
        assert labels["8"], labels  # the KBJI major groups' names
        assert labels["9"] not in (None, labels["8"]), labels
    assert after["village"]["migrantStats"]["minCell"] == 1  # the regency office reads the registry: every value
    # KEMENDES (stats:read without registry:read) gets the same numbers without the values fewer than 3 people hold
    _, body = await ask(runner.endpoints.gateway, example.document, example.variables, token=runner.mint("KEMENDES"))
    assert not body.get("errors"), body
    for scope in ("village", "region"):
        exact, shown = after[scope]["migrantStats"], body["data"][scope]["migrantStats"]
        assert (shown["minCell"], shown["total"], shown["abroad"]) == (3, exact["total"], exact["abroad"]), scope
        for breakdown in ("byEducation", "bySex", "bySector", "byOccupation"):
            assert _by_key(shown[breakdown]) == shown_values(_by_key(exact[breakdown]), 3)


async def worker_by_nik(runner: Runner, example: Example) -> None:
    """The NIK example 01 registered finds that worker (a lookup by a personal field: pii:read and the purpose)."""
    register = load(EXAMPLES / "01-register-worker.graphql")
    registered = check(register, await runner.run(register))["registerWorker"]
    worker = check(example, await runner.run(example))["workerByNik"]
    assert worker["id"] == registered["id"]
    assert example.variables["nik"] == register.variables["input"]["nik"]
    assert worker["nikMasked"] == registered["nikMasked"]
    assert worker["nikMasked"].endswith(example.variables["nik"][-4:])
    assert (worker["fullName"], worker["status"]) == (register.variables["input"]["fullName"], "CANDIDATE")
    assert worker["village"]["code"] == register.variables["input"]["villageCode"]


async def import_job(runner: Runner, example: Example) -> None:
    """A CSV of three rows, one with an invalid sex, uploaded through the gateway with the office's token; the job
    read back by the id the upload returned says what was stored and which row was left out, and why."""
    gen = SyntheticWorkers(seed=2027)
    rows = [gen.row("16.06.02.2005", status="CANDIDATE") for _ in range(3)]
    rows[2]["sex"] = "?"
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=[c.name for c in COLUMNS])
    writer.writeheader()
    writer.writerows(rows)
    headers = {"Authorization": f"Bearer {runner.token(example)}"}
    async with httpx.AsyncClient(base_url=runner.url.removesuffix("/graphql"), timeout=60) as http:
        response = await http.post("/uploads/workers", files={"file": ("workers.csv", text.getvalue(), "text/csv")},
                                   headers=headers)  # fmt: skip
    assert response.status_code == 200, response.text
    job_id = response.json()["importJob"]["id"]
    job = check(example, await runner.run(example, {"id": job_id}))["importJob"]
    assert (job["id"], job["status"], job["agency"], job["errorCode"]) == (job_id, "SUCCEEDED", "DISNAKER", None)
    assert (job["total"], job["inserted"] + job["skippedExisting"], job["rejectedCount"]) == (3, 2, 1)
    assert [(e["line"], e["column"], e["code"]) for e in job["rejected"]] == [(4, "sex", "INVALID_VALUE")]
    assert job["finishedAt"] is not None


async def designation_links(runner: Runner, example: Example) -> None:
    """Bangun Harja proposed with a task force decree as evidence, verified, assessed and approved by the agencies
    whose steps they are; the designation then links to its village, its proposal (with the proposal's village and
    evidence) and the assessment frozen with the decision."""
    code = example.variables["code"]
    office, province, kp2mi = runner.mint("DISNAKER", region="16.06"), runner.mint("BP3MI", region="16"), runner.mint()
    why = "Residents work in Malaysia as plantation workers; the village task force is active."
    proposed = await _data(runner, "mutation P($v: String!, $j: String!) { proposeVillage(villageCode: $v,"
                           " justification: $j) { id } }", {"v": code, "j": why}, office)  # fmt: skip
    pid = proposed["proposeVillage"]["id"]
    decree = {"kind": "TASK_FORCE_DECREE", "title": "SK Kades satgas PMI", "number": "141/2026",
              "documentDate": "2026-06-01", "termEnd": "2029-05-31", "sha256": "c" * 64}  # fmt: skip
    add = "mutation E($id: ID!, $in: EvidenceInput!) { addEvidence(proposalId: $id, input: $in) { id } }"
    await _data(runner, add, {"id": pid, "in": decree}, office)
    today = dt.date.today().isoformat()
    steps = [
        ("mutation S($id: ID!) { submitProposal(id: $id) { id } }", office, {}),
        ("mutation V($id: ID!) { verifyProposal(id: $id, note: \"visited\") { id } }", province, {}),
        ("mutation A($id: ID!) { assessProposal(id: $id) { eligible } }", province, {}),
        ("mutation D($id: ID!, $d: Date!) { approveProposal(id: $id, decreeNumber: \"SK 40/2026\", decreeDate: $d,"
         " overrideReason: \"documents filed on paper\") { status } }", kp2mi, {"d": today}),
    ]  # fmt: skip
    for query, token, variables in steps:
        await _data(runner, query, {"id": pid, **variables}, token)
    designation = check(example, await runner.run(example))["village"]["designation"]
    village = {"code": code, "name": "Bangun Harja"}
    assert (designation["status"], designation["decreeNumber"], designation["decreeDate"]) == (
        "ACTIVE", "SK 40/2026", today)  # fmt: skip
    assert designation["village"] == village
    proposal = designation["proposal"]
    assert (proposal["id"], proposal["status"], proposal["village"]) == (pid, "APPROVED", village)
    assert proposal["eligibilityOverride"] == "documents filed on paper"
    assert [(e["kind"], e["number"], e["sha256"]) for e in proposal["evidence"]] == [
        ("TASK_FORCE_DECREE", "141/2026", "c" * 64)]  # fmt: skip
    frozen = designation["assessment"]
    assert (frozen["decision"], frozen["eligible"]) == ("APPROVED", False)
    results = {r["criterion"]: r for r in frozen["results"]}
    assert (results["TASK_FORCE"]["status"], results["TASK_FORCE"]["value"]) == ("MET", "141/2026")
    assert [e["id"] for e in frozen["evidence"]] == [e["id"] for e in proposal["evidence"]]


async def audit_trace(runner: Runner, example: Example) -> None:
    """The regency office looks a person up by NIK (example 26) and keeps the trace id its answer carries; the
    auditor's auditTrace of that id finds the one read the lookup recorded, naming the worker by id (never the
    NIK)."""
    lookup = load(EXAMPLES / "26-worker-by-nik.graphql")
    register = load(EXAMPLES / "01-register-worker.graphql")
    check(register, await runner.run(register))  # the worker to look up, once per session
    headers = {"Authorization": f"Bearer {runner.token(lookup)}", "X-Demimas-Purpose": str(lookup.purpose)}
    response = await runner.endpoints.gateway.post(
        "/graphql", json={"query": lookup.document, "variables": lookup.variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    worker = check(lookup, answer)["workerByNik"]["id"]
    version, trace_id, _span, _flags = response.headers["traceresponse"].split("-")
    assert version == "00"
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id)
    assert answer["extensions"]["traceId"] == trace_id
    variables = {"traceId": trace_id}
    for _ in range(300):  # the audit service records the event when the stream brings it
        events = check(example, await runner.ask(example, variables))["auditTrace"]
        if any(e["type"] == ACCESSED for e in events):
            break
        await asyncio.sleep(0.1)
    events = check(example, await runner.run(example, variables))["auditTrace"]
    reads = [e for e in events if e["type"] == ACCESSED]
    assert len(reads) == 1, json.dumps(events)
    [read] = reads
    assert (read["subject"], read["actorAgency"], read["traceId"]) == (worker, "DISNAKER", trace_id)
    assert read["data"]["workerIds"] == [worker]
    assert (read["data"]["fields"], read["data"]["purpose"]) == (["nik"], lookup.purpose)
    assert read["data"]["operation"] == "WorkerByNik"
    assert {e["traceId"] for e in events} == {trace_id}
    assert lookup.variables["nik"] not in json.dumps(events)


SCENARIOS: dict[str, Scenario] = {
    "25-village-breakdowns.graphql": village_breakdowns,
    "26-worker-by-nik.graphql": worker_by_nik,
    "27-import-job.graphql": import_job,
    "28-designation-links.graphql": designation_links,
    "29-audit-trace.graphql": audit_trace,
}


@pytest.mark.integration
@pytest.mark.parametrize("path", [p for p in ALL if load(p).operation is OperationType.SUBSCRIPTION],
                         ids=[p.name for p in ALL if load(p).operation is OperationType.SUBSCRIPTION])  # fmt: skip
async def test_each_subscription_example_delivers_through_the_gateway(
    path: Path, runner: Runner, gateway_over_http: str
) -> None:
    example = load(path)
    assert example.trigger, f"{path.name}: name the example whose run it receives (# trigger: ...)"
    trigger = load(EXAMPLES / example.trigger)
    check(trigger, await runner.run(trigger))  # once per session, whatever ran first
    variables = {**example.variables, "after": start_seq()}  # from before any example ran: the trigger's event is in
    url = "ws" + gateway_over_http.removeprefix("http")
    async with WsClient.connect(url, headers={"Authorization": f"Bearer {runner.token(example)}"}) as ws:
        await ws.subscribe("1", example.document, variables)
        [payload] = await ws.events("1", 1, timeout=30)
    assert "errors" not in payload, payload
    [event] = payload["data"].values()
    assert int(event["cursor"]) > int(start_seq())


# --- the guide's Python -----------------------------------------------------------------------------------------
def python_blocks() -> list[str]:
    """Every ```python block of the guide, those indented in a list item too (dedented)."""
    found = re.findall(r"^( *)```python\n(.*?)^\1```", GUIDE.read_text(), flags=re.S | re.M)
    return [textwrap.dedent(block) for _, block in found]


def guide_namespace() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "integration_guide"}
    for number, block in enumerate(python_blocks(), 1):
        exec(compile(block, f"docs/integration.md, python block {number}", "exec"), namespace)  # noqa: S102
    return namespace


def test_the_guide_has_python_blocks_that_define_its_helpers() -> None:
    namespace = guide_namespace()
    for name in ("TokenSource", "graphql", "GraphQLError", "all_nodes", "watch", "verify_webhook", "InvalidWebhook",
                 "sync_changes", "graphql_traced", "village_migrant_stats"):  # fmt: skip
        assert name in namespace, f"docs/integration.md defines no {name}"


# The stand-in identity provider: one confidential client per ministry system, its claims configured as the guide
# tells an identity provider's administrator to configure them.
CLIENTS = {
    "disnaker-muba-sipmi": ("s3cret-1", {"agency": "DISNAKER", "region": "16.06"}),
    "kemendes-sidesa": ("s3cret-2", {"agency": "KEMENDES"}),
}


@pytest.fixture
async def identity_provider(mint: Callable[..., str]) -> AsyncIterator[str]:
    async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":  # served with lifespan="on" like the services
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        authorization = dict(scope["headers"]).get(b"authorization", b"").decode()
        client_id, _, secret = base64.b64decode(authorization.removeprefix("Basic ")).decode().partition(":")
        known = CLIENTS.get(client_id)
        if scope["path"] != "/token" or form.get("grant_type") != "client_credentials":
            status, answer = 400, {"error": "unsupported_grant_type"}
        elif known is None or known[0] != secret:
            status, answer = 401, {"error": "invalid_client"}
        else:
            claims = dict(known[1])
            scopes = form.get("scope", "").split()
            token = mint(claims.pop("agency"), sub=client_id, scopes=scopes or None, **claims)
            status, answer = 200, {"access_token": token, "token_type": "Bearer", "expires_in": 300}
        payload = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})  # fmt: skip
        await send({"type": "http.response.body", "body": payload})

    url, server, task = await serve(app)
    yield url.removesuffix("/graphql") + "/token"
    server.should_exit = True
    await task


@pytest.mark.integration
async def test_the_guide_python_runs_against_the_gateway(
    identity_provider: str, gateway_over_http: str, runner: Runner, stack: TestStack
) -> None:
    guide = guide_namespace()
    # the guide's code is synchronous (httpx): run it in a thread, the gateway serves in this event loop
    source = guide["TokenSource"](identity_provider, "disnaker-muba-sipmi", "s3cret-1")
    token = await asyncio.to_thread(source.token)
    assert token == await asyncio.to_thread(source.token), "the token is reused until it nears its expiry"
    wrong = guide["TokenSource"](identity_provider, "disnaker-muba-sipmi", "not-the-secret")
    with pytest.raises(Exception, match="401"):
        await asyncio.to_thread(wrong.token)

    village = "16.06.02.2006"  # only this test registers here
    register = load(EXAMPLES / "01-register-worker.graphql")
    made = []
    for serial in range(3):
        nik = f"160602120890{serial + 1:04d}"
        person = {"villageCode": village, "nik": nik, "sex": "MALE", "birthDate": "1990-08-12"}
        variables = {"input": {**register.variables["input"], **person}}
        data = await asyncio.to_thread(guide["graphql"], gateway_over_http, token, register.document, variables)
        made.append(data["registerWorker"]["id"])

    # the pagination helper walks every page (two workers a page) and sees exactly the three
    page = load(EXAMPLES / "02-workers-by-village.graphql")
    walk = guide["all_nodes"](
        gateway_over_http, token, page.document, {"code": village, "first": 2}, ["village", "workers"]
    )
    nodes = await asyncio.to_thread(list, walk)
    assert sorted(n["id"] for n in nodes) == sorted(made)

    # errors come back as GraphQLError with the stable code
    kemendes = await asyncio.to_thread(guide["TokenSource"](identity_provider, "kemendes-sidesa", "s3cret-2").token)
    forbidden = load(EXAMPLES / "15-forbidden-field.graphql")
    with pytest.raises(guide["GraphQLError"]) as refused:
        await asyncio.to_thread(guide["graphql"], gateway_over_http, kemendes, forbidden.document, forbidden.variables)
    assert refused.value.codes == {"UNAUTHORIZED_FIELD_OR_TYPE"}
    answered = refused.value.data["village"]
    assert answered["workers"] is None  # removed
    assert isinstance(answered["migrantStats"]["total"], int)  # the rest is answered
    # the trace id of each request comes back, with the data or with the error
    _, trace_id = await asyncio.to_thread(guide["graphql_traced"], gateway_over_http, token, page.document,
                                          {"code": village, "first": 1})  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id)
    with pytest.raises(guide["GraphQLError"]) as refused:
        await asyncio.to_thread(guide["graphql_traced"], gateway_over_http, kemendes, forbidden.document,
                                forbidden.variables)  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{32}", refused.value.trace_id)
    assert refused.value.trace_id != trace_id

    # the subscription helper: from a cursor, the changes since then (the three registrations)
    watch = load(EXAMPLES / "16-worker-changed.subscription.graphql")
    seen: list[str] = []

    async def follow() -> None:
        variables = {"filter": {"villageCode": village}, "after": start_seq()}
        async with aclosing(guide["watch"](gateway_over_http, token, watch.document, variables)) as changes:
            async for change in changes:
                if change["workerChanged"]["villageCode"] == village:
                    seen.append(change["workerChanged"]["workerId"])
                if len(seen) == len(made):
                    return

    await asyncio.wait_for(follow(), 30)
    assert sorted(seen) == sorted(made)


# --- a generated client (ariadne-codegen) --------------------------------------------------------------------------
# The generator lives in a venv of its own (its graphql-core and ruff caps conflict with ours); `make test` builds it
CODEGEN = ROOT / ".venv" / "tools" / "codegen" / "bin" / "ariadne-codegen"
CODEGEN_OPERATIONS = ("01-register-worker.graphql", "02-workers-by-village.graphql",
                      "04-personal-data-with-purpose.graphql", "05-personal-data-without-purpose.graphql",
                      "06-village-stats.graphql")  # fmt: skip


def codegen_config() -> str:
    """The guide's `pyproject.toml` block for ariadne-codegen, as it stands in the guide."""
    blocks = re.findall(r"^( *)```toml\n(.*?)^\1```", GUIDE.read_text(), flags=re.S | re.M)
    [block] = [textwrap.dedent(b) for _, b in blocks if "[tool.ariadne-codegen]" in b]
    return block


@pytest.mark.integration
async def test_a_client_generated_as_the_guide_says_answers_typed_models(
    tmp_path: Path, gateway_over_http: str, mint: Callable[..., str]
) -> None:
    assert CODEGEN.is_file(), f"{CODEGEN} is missing: run `make test` (or `make .venv/tools/codegen/.installed`)"
    config = codegen_config()
    settings = tomllib.loads(config)["tool"]["ariadne-codegen"]
    assert settings["scalars"] == {"Date": {"type": "datetime.date"}, "DateTime": {"type": "datetime.datetime"}}
    (tmp_path / "pyproject.toml").write_text(config)
    (tmp_path / settings["schema_path"]).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(API_SCHEMA, tmp_path / settings["schema_path"])
    (tmp_path / settings["queries_path"]).mkdir(parents=True, exist_ok=True)
    for name in CODEGEN_OPERATIONS:
        shutil.copy(EXAMPLES / name, tmp_path / settings["queries_path"] / name)
    process = await asyncio.create_subprocess_exec(str(CODEGEN), cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.STDOUT)  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, out.decode()

    package = settings["target_package_name"]
    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module(package)
        enums = importlib.import_module(f"{package}.enums")
        exceptions = importlib.import_module(f"{package}.exceptions")
        input_types = importlib.import_module(f"{package}.input_types")
        Client = client_module.Client  # noqa: N806

        village = "16.06.02.2009"  # only this test registers here
        office = {"Authorization": f"Bearer {mint('DISNAKER', region='16.06')}"}
        register = load(EXAMPLES / "01-register-worker.graphql")
        person = {**register.variables["input"], "villageCode": village, "nik": "1606022105920001", "sex": "MALE",
                  "birthDate": "1992-05-21", "fullName": "Ahmad Fauzi"}  # fmt: skip
        async with Client(url=gateway_over_http, headers=office) as client:
            made = await client.register_worker(input=input_types.RegisterWorkerInput.model_validate(person))
            assert isinstance(made, pydantic.BaseModel)
            worker = made.register_worker
            assert worker.status is enums.WorkerStatus.CANDIDATE
            assert (worker.village.code, worker.nik_masked[-4:]) == (village, "0001")

            page = await client.workers_by_village(code=village, first=50)
            workers = page.village.workers
            assert workers.total_count == 1
            [edge] = workers.edges
            assert (edge.node.id, edge.node.status) == (worker.id, enums.WorkerStatus.CANDIDATE)
            assert isinstance(edge.node.updated_at, dt.datetime)  # DateTime, as the guide maps it
            assert edge.node.updated_at.tzinfo is not None

            # another header with one call: the purpose of a personal-data read; Date parsed
            personal = await client.personal_data(code=village, headers={"X-Demimas-Purpose": "PLACEMENT_SERVICE"})
            [edge] = personal.village.workers.edges
            assert (edge.node.id, edge.node.nik) == (worker.id, person["nik"])
            assert edge.node.birth_date == dt.date(1992, 5, 21)
            # an answer with errors raises, with each error's extensions and the data answered anyway
            with pytest.raises(exceptions.GraphQLClientGraphQLMultiError) as refused:
                await client.personal_data_without_purpose(code=village)
            assert {e.extensions["code"] for e in refused.value.errors} == {"PURPOSE_REQUIRED"}
            assert refused.value.data["village"]["workers"]["edges"][0]["node"]["nik"] is None

        # the guide's own snippet, with a KEMENDES token: the village's numbers as a typed model
        stats = await guide_namespace()["village_migrant_stats"](gateway_over_http, mint("KEMENDES"), village)
        assert isinstance(stats, pydantic.BaseModel)
        assert (stats.total, stats.candidates, stats.abroad) == (1, 1, 0)
        async with Client(url=gateway_over_http, headers={"Authorization": f"Bearer {mint('KEMENDES')}"}) as client:
            numbers = (await client.village_stats(code=village)).village
        assert numbers.regency.code == "16.06"
        assert numbers.migrant_stats == stats
        if numbers.pillar_progress is not None:
            assert all(isinstance(p.pillar, enums.ServicePillar) for p in numbers.pillar_progress.pillars)

        # `async_client = false`, as the guide says, for a synchronous client (run in a thread: the gateway serves in
        # this event loop)
        sync_package = f"{package}_sync"
        sync_config = config.replace(f'target_package_name = "{package}"\n',
                                     f'target_package_name = "{sync_package}"\nasync_client = false\n')  # fmt: skip
        assert sync_config != config
        (tmp_path / "pyproject.toml").write_text(sync_config)
        process = await asyncio.create_subprocess_exec(str(CODEGEN), cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.STDOUT)  # fmt: skip
        out, _ = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, out.decode()
        SyncClient = importlib.import_module(sync_package).Client  # noqa: N806

        def sync_stats() -> Any:
            with SyncClient(url=gateway_over_http, headers={"Authorization": f"Bearer {mint('KEMENDES')}"}) as client:
                return client.village_stats(code=village).village.migrant_stats

        assert (await asyncio.to_thread(sync_stats)).model_dump() == stats.model_dump()
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.split(".")[0] in (package, f"{package}_sync")]:
            del sys.modules[name]


# --- webhooks and the change feed -----------------------------------------------------------------------------------
CREATE_ENDPOINT = """mutation C($in: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $in) { secret endpoint { id } } }"""


def javascript_block() -> str:
    [block] = re.findall(r"^```javascript\n(.*?)^```", GUIDE.read_text(), flags=re.S | re.M)
    return block


def run_javascript(
    tmp_path: Path, secret: str, headers: dict[str, str], body: bytes
) -> subprocess.CompletedProcess[str]:
    module = tmp_path / "verify.mjs"
    module.write_text(javascript_block())
    main = tmp_path / "main.mjs"
    main.write_text(
        'import { verifyWebhook } from "./verify.mjs";\n'
        'import { readFileSync } from "node:fs";\n'
        'const input = JSON.parse(readFileSync(0, "utf8"));\n'
        'const event = verifyWebhook(input.secret, input.headers, Buffer.from(input.body, "base64"));\n'
        "console.log(JSON.stringify(event));\n"
    )
    stdin = json.dumps({"secret": secret, "headers": headers, "body": base64.b64encode(body).decode()})
    node = shutil.which("node")
    assert node is not None
    return subprocess.run([node, str(main)], input=stdin, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.integration
async def test_the_guide_verifies_a_real_webhook_and_pulls_the_change_feed(
    endpoints: Endpoints, gateway_over_http: str, mint: Callable[..., str], stack: TestStack, tmp_path: Path
) -> None:
    guide = guide_namespace()
    village = "16.06.02.2007"  # only this test writes here
    receiver = await Receiver().start()
    try:
        token = mint("KP2MI")
        hook = {"url": receiver.url, "eventTypes": ["demimas.registry.worker.*"], "regionPrefix": village,
                "description": "the integration guide"}  # fmt: skip
        status, answer = await ask(endpoints.gateway, CREATE_ENDPOINT, {"in": hook}, token=token)
        assert status == 200, answer
        assert "errors" not in answer, answer
        secret = answer["data"]["createWebhookEndpoint"]["secret"]

        worker = str(uuid.uuid4())
        data = {"workerId": worker, "villageCode": village, "status": "CANDIDATE", "version": 1}
        event = new_event("demimas.registry.worker.registered", worker, data)
        nc = await connect(stack.nats_url, name="e2e-guide-webhook")
        try:
            await nc.jetstream().publish(event.type, event.to_json(), headers={"Nats-Msg-Id": event.id})
        finally:
            await nc.close()
        [request, *_] = await receiver.wait_for(1)
    finally:
        await receiver.stop()

    # Python: the real request verifies; tampered, another secret or too old does not
    verified = guide["verify_webhook"](secret, request.headers, request.body)
    assert verified["id"] == event.id
    assert verified["data"]["workerId"] == worker
    invalid = guide["InvalidWebhook"]
    with pytest.raises(invalid):
        guide["verify_webhook"](secret, request.headers, request.body.replace(b"CANDIDATE", b"ABROAD"))
    other = "whsec_" + base64.b64encode(b"another-secret-of-24-byte").decode()
    with pytest.raises(invalid):
        guide["verify_webhook"](other, request.headers, request.body)
    with pytest.raises(invalid):
        guide["verify_webhook"](secret, request.headers, request.body, tolerance_s=-1)
    assert verified == Webhook(secret).verify(request.body, request.headers)  # the specification's own library

    # JavaScript: the same request, then a tampered one
    if shutil.which("node") is None:
        pytest.fail("Node is needed to run the guide's JavaScript (the machine's Node 20)")
    ran = run_javascript(tmp_path, secret, request.headers, request.body)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["data"]["workerId"] == worker
    refused = run_javascript(tmp_path, secret, request.headers, request.body + b" ")
    assert refused.returncode != 0
    assert "no signature matches" in refused.stderr

    # the change feed: a regency office pulls the same event, then resumes from the cursor with nothing new
    office = mint("DISNAKER", region="16.06")
    seen: list[dict[str, Any]] = []
    types = ["demimas.registry.worker.*"]
    cursor = await asyncio.to_thread(
        guide["sync_changes"], gateway_over_http, office, None, seen.append, types, village
    )
    assert event.id in {change["id"] for change in seen}
    assert all(change["villageCode"] == village for change in seen)
    again: list[dict[str, Any]] = []
    assert (
        await asyncio.to_thread(guide["sync_changes"], gateway_over_http, office, cursor, again.append, types, village)
        == cursor
    )
    assert again == []


# --- the bulk export ------------------------------------------------------------------------------------------------
DEMIMAS = Path(sys.executable).parent / "demimas"  # the console script of this environment, as installed


async def feeds_export(gateway: str, token: str, *args: str) -> tuple[list[dict[str, Any]], str]:
    """`demimas feeds export ARGS --gateway URL` as a command with DEMIMAS_TOKEN set, as docs/feeds.md shows it: its
    JSON lines and its stderr (the gateway serves in this event loop: the command runs as a child process)."""
    env = {**os.environ, "DEMIMAS_TOKEN": token}
    env.pop("DEMIMAS_GATEWAY_URL", None)
    process = await asyncio.create_subprocess_exec(
        str(DEMIMAS), "feeds", "export", *args, "--gateway", gateway, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines()], err.decode()


@pytest.mark.integration
async def test_the_documented_export_writes_the_change_feed_as_json_lines(
    gateway_over_http: str, mint: Callable[..., str], stack: TestStack
) -> None:
    village = "16.06.02.2008"  # only this test writes here

    def worker_event(kind: str) -> Any:
        worker = str(uuid.uuid4())
        data: dict[str, Any] = {"workerId": worker, "villageCode": village, "status": "CANDIDATE", "version": 1}
        if kind == "departed":
            data.update(status="ABROAD", version=2, destinationCountry="MY", scheme="P_TO_P", procedural=True)
        return new_event(f"demimas.registry.worker.{kind}", worker, data)

    nc = await connect(stack.nats_url, name="e2e-guide-export")
    js = nc.jetstream()

    async def publish(*events: Any) -> None:
        for event in events:
            await js.publish(event.type, event.to_json(), headers={"Nats-Msg-Id": event.id})

    before, after, other_type, later = (worker_event(k) for k in ("departed", "departed", "registered", "departed"))
    try:
        await publish(before)
        await asyncio.sleep(1.1)
        since = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # a whole second after `before`
        await publish(after, other_type)
        token = mint("KP2MI")
        lines, err = await feeds_export(gateway_over_http, token, "--since", since,
                                        "--types", "demimas.registry.worker.departed")  # fmt: skip

        # types filtered, --since honoured: of this village's events exactly the departure after `since`
        assert lines, err
        assert {line["type"] for line in lines} == {"demimas.registry.worker.departed"}
        ours = [line for line in lines if line["data"].get("villageCode") == village]
        assert [line["id"] for line in ours] == [after.id]
        [line] = ours
        assert set(line) == {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "sequence",
                             "data"}  # fmt: skip
        assert line["specversion"] == "1.0"
        assert line["data"]["workerId"] == after.subject
        sequences = [int(line["sequence"]) for line in lines]
        assert sequences == sorted(sequences)  # stream order

        # the resume hint on stderr, and resuming from it gives what came later, nothing written before
        hint = re.search(r"^(\d+) changes; resume with --after (\d+)$", err, flags=re.M)
        assert hint is not None, err
        assert int(hint.group(1)) == len(lines)
        assert int(hint.group(2)) >= sequences[-1]
        await publish(later)
        more, err = await feeds_export(gateway_over_http, token, "--after", hint.group(2),
                                       "--types", "demimas.registry.worker.departed")  # fmt: skip
    finally:
        await nc.close()
    assert [line["id"] for line in more if line["data"].get("villageCode") == village] == [later.id]
    assert all(int(line["sequence"]) > int(hint.group(2)) for line in more)
    assert re.search(r"^\d+ changes; resume with --after \d+$", err, flags=re.M), err
