"""Federated subscriptions end to end: the real gateway on a real port in front of the five real services, clients
speaking `graphql-transport-ws` (WebSocket) and GraphQL over SSE with the agencies' own tokens.

- every subscription field delivers its event with entity fields joined from another subgraph (the village's name
  from the registry, its designation and pillar progress from designation and pillars);
- a regional token never receives another region's event, and a field the token may not use is refused;
- a subscriber that disconnects, misses events and resumes `after` its last cursor gets each once and in order;
- a gateway restarted under its subscribers (close 1012) and a registry restarted under them (the operation ends
  with `SUBSCRIPTION_UPSTREAM_CLOSED`) lose nothing after the resume;
- bad input: an invalid cursor, a subscription posted as a plain query.
Subscriptions start `after` the stream's last sequence read beforehand, so they see the test's events however long
the upstream subscription takes to open (the subgraph's replay hands over to its live fan-out)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

import httpx
import pytest
import uvicorn
from websockets.exceptions import ConnectionClosed

from demimas_common.auth.keys import DevKeys
from demimas_common.devstack.ports import free_port
from demimas_common.devstack.testing import TestStack
from demimas_common.subscriptions.client import WsClient
from demimas_registry.app import create_app as create_registry
from tests.conftest import Endpoints, ask, gateway_app

from .test_gateway_cases import case_input, open_case
from .test_gateway_pillars import RECORD, designate, mutate
from .test_gateway_registry import worker_input
from .test_subgraph_subscriptions import last_seq

pytestmark = pytest.mark.integration

VILLAGE = "16.06.13.2012"  # no other test uses it
ELSEWHERE = "35.07.01.2003"
TODAY = dt.date.today()

WORKERS = """subscription($f: WorkerChangeFilter, $a: String) { workerChanged(filter: $f, after: $a) {
  cursor kind workerId villageCode status version
  village { code name designation { status } pillarProgress { coverage } } } }"""
STATS = """subscription($v: String, $a: String) { villageStatsChanged(villageCode: $v, after: $a) {
  cursor villageCode cause migrantStats { total } village { designation { status } } } }"""
PROPOSALS = """subscription($p: String, $a: String) { proposalChanged(regionPrefix: $p, after: $a) {
  cursor kind villageCode status village { name } } }"""
DESIGNATIONS = """subscription($p: String, $a: String) { designationChanged(regionPrefix: $p, after: $a) {
  cursor kind villageCode status designation { decreeNumber } village { name } } }"""
ACTIVITIES = """subscription($f: ActivityRecordedFilter, $a: String) { activityRecorded(filter: $f, after: $a) {
  cursor activityId villageCode pillar activity { title } village { name } } }"""
PILOTS = """subscription($p: String, $a: String) { pilotProjectChanged(regionPrefix: $p, after: $a) {
  cursor kind pilotProjectId villageCode village { name } } }"""
CASES = """subscription($f: CaseChangeFilter, $a: String) { caseChanged(filter: $f, after: $a) {
  cursor kind caseId villageCode status village { name } } }"""
AUDIT = """subscription($f: AuditEventAppendedFilter, $a: String) { auditEventAppended(filter: $f, after: $a) {
  cursor type subject actorAgency } }"""
REGISTER = "mutation R($input: RegisterWorkerInput!) { registerWorker(input: $input) { id version } }"
UPDATE = "mutation U($id: ID!, $input: UpdateWorkerInput!) { updateWorker(id: $id, input: $input) { id version } }"


def ws_url(http_url: str) -> str:
    return "ws" + http_url.removeprefix("http")


def worker_at(village: str) -> dict[str, Any]:
    return {**worker_input(), "villageCode": village}


async def collect(ws: WsClient, ident: str, until: Callable[[list[dict[str, Any]]], bool],
                  seconds: float = 30.0) -> list[dict[str, Any]]:  # fmt: skip
    """The data of operation `ident`'s events until `until(events)` holds (AssertionError on an error or timeout);
    `seconds` generous, as a loaded CI machine may take many to replay a stream."""
    found: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not until(found):
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"timed out with {len(found)} events: {found[-3:]}")
        message = await ws.receive(left)
        assert (message.get("id"), message["type"]) == (ident, "next"), message
        assert "errors" not in message["payload"], message
        found.append(next(iter(message["payload"]["data"].values())))
    return found


def having(key: str, value: Any, count: int = 1) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda events: sum(1 for e in events if e.get(key) == value) >= count


async def until_closed(ws: WsClient) -> None:
    while True:
        await ws.receive(30)


async def registered(endpoints: Endpoints, token: str, village: str) -> str:
    worker: str = (await mutate(endpoints, REGISTER, {"input": worker_at(village)}, token))["registerWorker"]["id"]
    return worker


@asynccontextmanager
async def gateway_at(urls: dict[str, str], keys: DevKeys, port: int) -> AsyncIterator[uvicorn.Server]:
    """Another gateway over `urls` on `port`, stopped (its subscribers closed) on leaving."""
    app, client = gateway_app(urls, keys)
    server = await serve_on(app, port)
    try:
        yield server
    finally:
        await stop(server)
        await client.close()


_tasks: dict[int, asyncio.Task[None]] = {}


async def serve_on(app: Any, port: int, lifespan: Literal["on", "off"] = "off") -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan=lifespan))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    _tasks[id(server)] = task
    return server


async def stop(server: uvicorn.Server) -> None:
    server.should_exit = True
    await _tasks.pop(id(server))


async def test_every_subscription_joins_fields_of_other_subgraphs_through_the_gateway(
    stack: TestStack, gateway_over_http: str, endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    kp2mi, polkam, auditor = mint("KP2MI"), mint("KEMENKO_POLKAM"), mint("AUDITOR")
    disnaker = mint("DISNAKER", region="16.06", purpose="PROTECTION_CASE")
    start = await last_seq(stack)
    url = ws_url(gateway_over_http)
    subscriptions: dict[str, tuple[str, str, dict[str, Any]]] = {
        "workers": (kp2mi, WORKERS, {"f": {"villageCode": VILLAGE}}),
        "stats": (kp2mi, STATS, {"v": VILLAGE}),
        "proposals": (kp2mi, PROPOSALS, {"p": VILLAGE}),
        "designations": (kp2mi, DESIGNATIONS, {"p": VILLAGE}),
        "activities": (kp2mi, ACTIVITIES, {"f": {"regionPrefix": VILLAGE}}),
        "pilots": (polkam, PILOTS, {"p": VILLAGE}),
        "cases": (kp2mi, CASES, {"f": {"regionPrefix": VILLAGE}}),
        "audit": (auditor, AUDIT, {"f": {"type": "demimas.registry.worker.>"}}),
    }
    async with (
        WsClient.connect(url, payload={"authorization": f"Bearer {kp2mi}"}) as national,
        WsClient.connect(url, payload={"authorization": f"Bearer {polkam}"}) as coordinator,
        WsClient.connect(url, payload={"authorization": f"Bearer {auditor}"}) as audit,
    ):
        sockets = {kp2mi: national, polkam: coordinator, auditor: audit}
        for name, (token, query, variables) in subscriptions.items():
            await sockets[token].subscribe(name, query, {**variables, "a": start})

        worker = await registered(endpoints, kp2mi, VILLAGE)
        await designate(endpoints, mint, VILLAGE)
        activity = {"villageCode": VILLAGE, "pillar": "FINANCIAL_LITERACY_REMITTANCE", "title": "Remittance class",
                    "occurredOn": TODAY.isoformat(), "programme": "DRPPA",
                    "participants": {"anonymous": [{"sex": "FEMALE", "group": "WORKER_FAMILY", "count": 9}]},
                    "outputs": []}  # fmt: skip
        recorded = (await mutate(endpoints, RECORD, {"in": activity}, kp2mi))["recordActivity"]
        pilot = {
            "villageCode": VILLAGE,
            "title": "Pilot Demimas live sync",
            "startDate": TODAY.isoformat(),
            "partners": [{"agency": "KEMENPPPA", "programme": "DRPPA", "commitment": "Parenting classes"}],
            "milestones": [{"title": "Baseline", "dueDate": TODAY.isoformat(), "responsibleAgency": "KEMENPPPA"}],
        }
        create = "mutation C($in: PilotProjectInput!) { createPilotProject(input: $in) { id } }"
        created = (await mutate(endpoints, create, {"in": pilot}, polkam))["createPilotProject"]
        opened = await open_case(endpoints.gateway, disnaker, case_input(VILLAGE))

        # several operations share a socket: sort each socket's messages by operation id
        async def drain(ws: WsClient, wanted: dict[str, Callable[[list[dict[str, Any]]], bool]]) -> dict[str, Any]:
            got: dict[str, list[dict[str, Any]]] = {name: [] for name in wanted}
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30  # generous: six replays on a loaded CI machine
            while not all(done(got[name]) for name, done in wanted.items()):
                message = await ws.receive(max(0.1, deadline - loop.time()))
                assert message["type"] == "next", message
                assert "errors" not in message["payload"], message
                got[message["id"]].append(next(iter(message["payload"]["data"].values())))
            return got

        seen = await drain(national, {
            "workers": having("workerId", worker),
            "stats": lambda e: len(e) >= 1,
            "proposals": having("status", "APPROVED"),
            "designations": having("kind", "DESIGNATED"),
            "activities": having("activityId", recorded["id"]),
            "cases": having("caseId", opened["id"]),
        })  # fmt: skip
        pilots = await drain(coordinator, {"pilots": having("pilotProjectId", created["id"])})
        trail = await drain(audit, {"audit": having("subject", worker)})

    [registration] = [e for e in seen["workers"] if e["workerId"] == worker]
    assert (registration["kind"], registration["villageCode"], registration["version"]) == ("REGISTERED", VILLAGE, 1)
    assert registration["village"]["code"] == VILLAGE
    assert registration["village"]["name"]
    assert "coverage" in registration["village"]["pillarProgress"]  # joined from pillars
    assert seen["stats"][0]["villageCode"] == VILLAGE
    assert seen["stats"][0]["migrantStats"]["total"] >= 1
    name = registration["village"]["name"]
    assert [e["kind"] for e in seen["proposals"]] == ["SUBMITTED", "VERIFIED", "ASSESSED", "APPROVED"]
    assert {e["village"]["name"] for e in seen["proposals"]} == {name}  # joined from the registry
    [designated] = [e for e in seen["designations"] if e["kind"] == "DESIGNATED"]
    assert designated["designation"] == {"decreeNumber": "SK 31/2026"}
    assert designated["village"] == {"name": name}
    [mine] = [e for e in seen["activities"] if e["activityId"] == recorded["id"]]
    assert mine["activity"] == {"title": "Remittance class"}
    assert mine["village"] == {"name": name}
    [case] = [e for e in seen["cases"] if e["caseId"] == opened["id"]]
    assert (case["kind"], case["village"]) == ("OPENED", {"name": name})
    [pilot_event] = [e for e in pilots["pilots"] if e["pilotProjectId"] == created["id"]]
    assert (pilot_event["kind"], pilot_event["village"]) == ("CREATED", {"name": name})
    [appended] = [e for e in trail["audit"] if e["subject"] == worker]
    assert (appended["type"], appended["actorAgency"]) == ("demimas.registry.worker.registered", "KP2MI")
    for events in (*seen.values(), pilots["pilots"]):  # cursors rise within every subscription
        cursors = [int(e["cursor"]) for e in events]
        assert cursors == sorted(cursors)
        assert len(set(cursors)) == len(cursors)


async def test_a_regional_token_never_receives_another_region_and_scopes_hold(
    stack: TestStack, gateway_over_http: str, endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    kp2mi, sumsel = mint("KP2MI"), mint("BP3MI", region="16")
    start = await last_seq(stack)
    url = ws_url(gateway_over_http)
    async with (
        WsClient.connect(url, headers={"Authorization": f"Bearer {sumsel}"}) as regional,
        WsClient.connect(url, headers={"Authorization": f"Bearer {kp2mi}"}) as national,
    ):
        await regional.subscribe("all", WORKERS, {"a": start})
        await regional.subscribe("east-java", WORKERS, {"a": start, "f": {"regionPrefix": "35"}})
        await national.subscribe("all", WORKERS, {"a": start})
        away = await registered(endpoints, kp2mi, ELSEWHERE)
        home = await registered(endpoints, kp2mi, VILLAGE)
        everything = await collect(national, "all", lambda e: {away, home} <= {x["workerId"] for x in e})
        assert {x["workerId"] for x in everything} >= {away, home}
        mine = await collect(regional, "all", having("workerId", home))
        assert all(x["villageCode"].startswith("16.") for x in mine)
        assert away not in {x["workerId"] for x in mine}
        assert await regional.nothing_within(1.0)  # nor on the East Java filter, outside its region
        # a field this token may not use is refused for that operation only; the socket goes on
        await regional.subscribe("audit", AUDIT, {})
        refused = await regional.receive()
        assert (refused["id"], refused["type"]) == ("audit", "error"), refused
        assert refused["payload"][0]["extensions"]["code"] in {"FORBIDDEN", "UNAUTHORIZED_FIELD_OR_TYPE"}


async def test_resume_after_a_disconnect_gets_each_missed_event_once_in_order(
    stack: TestStack, gateway_over_http: str, endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    kp2mi = mint("KP2MI")
    url, start = ws_url(gateway_over_http), await last_seq(stack)
    worker = await registered(endpoints, kp2mi, VILLAGE)
    async with WsClient.connect(url, payload={"authorization": f"Bearer {kp2mi}"}) as ws:
        await ws.subscribe("1", WORKERS, {"a": start, "f": {"villageCode": VILLAGE}})
        [first] = [e for e in await collect(ws, "1", having("workerId", worker)) if e["workerId"] == worker]
    versions = [2, 3, 4]
    for version in versions:  # while nobody listens
        changed = await mutate(endpoints, UPDATE, {"id": worker, "input": {"address": f"Dusun {version}"}}, kp2mi)
        assert changed["updateWorker"]["version"] == version
    async with WsClient.connect(url, payload={"authorization": f"Bearer {kp2mi}"}) as ws:
        await ws.subscribe("1", WORKERS, {"a": first["cursor"], "f": {"villageCode": VILLAGE}})
        missed = await collect(ws, "1", having("workerId", worker, len(versions)))
        assert [e["version"] for e in missed if e["workerId"] == worker] == versions
        await mutate(endpoints, UPDATE, {"id": worker, "input": {"address": "Dusun 5"}}, kp2mi)  # then live ones
        live = await collect(ws, "1", having("workerId", worker))
        assert [e["version"] for e in live if e["workerId"] == worker] == [5]
        assert await ws.nothing_within(0.5)


async def test_sse_delivers_the_same_events(
    stack: TestStack, gateway_over_http: str, endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    kp2mi = mint("KP2MI")
    start = await last_seq(stack)
    worker = await registered(endpoints, kp2mi, VILLAGE)
    body = {"query": WORKERS, "variables": {"a": start, "f": {"villageCode": VILLAGE}}}
    headers = {"authorization": f"Bearer {kp2mi}", "accept": "text/event-stream", "content-type": "application/json"}
    async with (
        httpx.AsyncClient(timeout=20) as http,
        http.stream("POST", gateway_over_http, content=json.dumps(body), headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:") and event == "next":
                data = json.loads(line.removeprefix("data:"))["data"]["workerChanged"]
                if data["workerId"] == worker:
                    assert data["kind"] == "REGISTERED"
                    assert data["village"]["name"]
                    break


async def test_a_gateway_restarted_under_its_subscribers_loses_nothing_after_resume(
    stack: TestStack,
    endpoints: Endpoints,
    e2e_keys: DevKeys,
    subgraph_urls: dict[str, str],
    mint: Callable[..., str],
) -> None:
    kp2mi, port = mint("KP2MI"), free_port()
    url = f"ws://127.0.0.1:{port}/graphql"
    start_at = await last_seq(stack)
    worker = await registered(endpoints, kp2mi, VILLAGE)
    app, client = gateway_app(subgraph_urls, e2e_keys)
    server = await serve_on(app, port)
    try:
        async with WsClient.connect(url, payload={"authorization": f"Bearer {kp2mi}"}) as ws:
            await ws.subscribe("1", WORKERS, {"a": start_at, "f": {"villageCode": VILLAGE}})
            [first] = [e for e in await collect(ws, "1", having("workerId", worker)) if e["workerId"] == worker]
            stopping = asyncio.create_task(stop(server))
            with pytest.raises(ConnectionClosed) as closed:
                await until_closed(ws)
            await stopping
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1012
    finally:
        await client.close()
    for version in (2, 3):
        await mutate(endpoints, UPDATE, {"id": worker, "input": {"address": f"Jalan {version}"}}, kp2mi)
    async with (
        gateway_at(subgraph_urls, e2e_keys, port),
        WsClient.connect(url, payload={"authorization": f"Bearer {kp2mi}"}) as ws,
    ):
        await ws.subscribe("1", WORKERS, {"a": first["cursor"], "f": {"villageCode": VILLAGE}})
        missed = await collect(ws, "1", having("workerId", worker, 2))
        assert [e["version"] for e in missed if e["workerId"] == worker] == [2, 3]


async def test_a_registry_restarted_under_subscribers_ends_the_operation_and_resume_works(
    stack: TestStack,
    endpoints: Endpoints,
    e2e_keys: DevKeys,
    subgraph_urls: dict[str, str],
    registry_settings: Any,
    mint: Callable[..., str],
) -> None:
    kp2mi = mint("KP2MI")
    registry_port, gateway_port = free_port(), free_port()
    urls = {**subgraph_urls, "registry": f"http://127.0.0.1:{registry_port}/graphql"}
    start_at = await last_seq(stack)
    worker = await registered(endpoints, kp2mi, VILLAGE)
    registry = await start_registry(registry_settings, registry_port)
    url = f"ws://127.0.0.1:{gateway_port}/graphql"
    async with (
        gateway_at(urls, e2e_keys, gateway_port),
        WsClient.connect(url, payload={"authorization": f"Bearer {kp2mi}"}) as ws,
    ):
        await ws.subscribe("1", WORKERS, {"a": start_at, "f": {"villageCode": VILLAGE}})
        [first] = [e for e in await collect(ws, "1", having("workerId", worker)) if e["workerId"] == worker]
        await stop(registry)
        ended = await ws.receive(30)
        assert (ended["id"], ended["type"]) == ("1", "error"), ended
        assert ended["payload"][0]["extensions"]["code"] == "SUBSCRIPTION_UPSTREAM_CLOSED"
        await mutate(endpoints, UPDATE, {"id": worker, "input": {"address": "Jalan Baru"}}, kp2mi)  # the session's
        registry = await start_registry(registry_settings, registry_port)
        try:
            await ws.subscribe("1", WORKERS, {"a": first["cursor"], "f": {"villageCode": VILLAGE}})
            missed = await collect(ws, "1", having("workerId", worker))
            assert [e["version"] for e in missed if e["workerId"] == worker] == [2]
        finally:
            await stop(registry)


async def start_registry(settings: Any, port: int) -> uvicorn.Server:
    return await serve_on(create_registry(settings), port, lifespan="on")


async def test_bad_input(
    stack: TestStack, gateway_over_http: str, endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    kp2mi = mint("KP2MI")
    url = ws_url(gateway_over_http)
    async with WsClient.connect(url, payload={"authorization": f"Bearer {kp2mi}"}) as ws:
        for ident, cursor in (("a", "yesterday"), ("b", "-4"), ("c", "99999999999")):
            await ws.subscribe(ident, WORKERS, {"a": cursor})
            refused = await ws.receive()
            assert (refused["id"], refused["type"]) == (ident, "error"), refused
            assert refused["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT", refused
            assert "cursor" in refused["payload"][0]["message"]
        # a query sent as `subscribe` is answered once, then completed (as graphql-ws allows)
        await ws.subscribe("q", "query($v: String!) { village(code: $v) { code } }", {"v": VILLAGE})
        answered = await ws.receive()
        assert (answered["id"], answered["type"]) == ("q", "next"), answered
        assert answered["payload"]["data"] == {"village": {"code": VILLAGE}}
        assert (await ws.receive())["type"] == "complete"
    _, answer = await ask(endpoints.gateway, WORKERS, {}, token=kp2mi)  # a subscription posted as JSON
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "SUBSCRIPTION_NOT_SUPPORTED"
    assert "WebSocket" in error["message"]
    with pytest.raises(ConnectionClosed) as unknown:  # an unknown subprotocol
        async with WsClient.connect(url, protocol="graphql-ws", payload={"authorization": f"Bearer {kp2mi}"}):
            pass
    assert unknown.value.rcvd is not None
    assert unknown.value.rcvd.code == 4406
