"""The change feed against the session's NATS: events published to the DEMIMAS stream as the services' relays
publish them, read page by page through `changes` (and `demimas feeds export` over the same query). Cursors are
stream sequences, so they survive a restart of the service; a regional agency never sees another region's event;
cursors are checked (CURSOR_EXPIRED, BAD_USER_INPUT); a call scans at most the scan limit and says where to go on.

The stream is the session's: other tests publish into it too, so each test reads from the stream's end as it found
it and recognises its own events by their ids."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.keys import DevKeys
from demimas_common.devstack.fresh_villages import FreshVillages
from demimas_common.devstack.testing import TestStack
from demimas_common.events.envelope import new_event
from demimas_common.events.nats import connect
from demimas_common.events.stream import STREAM, ensure_stream
from demimas_feeds.app import create_app
from demimas_feeds.entrypoints.cli import ExportError, export_changes

from .conftest import Api, feeds_settings, serve

pytestmark = pytest.mark.integration

CHANGES = """query Q($after: String, $types: [String!], $regionPrefix: String, $since: DateTime, $first: Int) {
  changes(after: $after, types: $types, regionPrefix: $regionPrefix, since: $since, first: $first) {
    edges { cursor node { id type source subject time sequence villageCode data } }
    pageInfo { hasNextPage endCursor } } }"""
_fresh = FreshVillages(Path(__file__).resolve().parents[4])


def village(province: str) -> str:
    """A real village code in `province` that no other test of the session uses. These made-up registrations and
    activities stay on the session's stream, where the other services' projections read them: a village picked
    blindly was now and then one another test counts in (the demo village 16.06.13.2001, a fresh village of 16.06:
    each about one pick in 4,000 of province 16), and that test's figures were off by the made-up worker."""
    return _fresh(province)


def worker_registered(code: str) -> Any:
    worker = str(uuid.uuid4())
    data = {"workerId": worker, "villageCode": code, "status": "CANDIDATE", "version": 1}
    return new_event("demimas.registry.worker.registered", worker, data)


def pillar_activity(code: str) -> Any:
    activity = str(uuid.uuid4())
    data = {
        "activityId": activity,
        "villageCode": code,
        "pillar": "ECONOMIC_EMPOWERMENT",
        "agency": "KEMENDES",
        "occurredOn": "2026-11-20",
        "programme": "village enterprise",
        "peopleReached": 12,
        "registeredParticipants": 0,
        "outputs": [],
    }
    return new_event("demimas.pillars.activity.recorded", activity, data)


class Stream:
    def __init__(self, nats_url: str) -> None:
        self.nats_url = nats_url

    async def publish(self, events: list[Any]) -> list[int]:
        nc = await connect(self.nats_url, name="feeds-changes-test")
        try:
            js = nc.jetstream()
            acks = [
                await js.publish(e.type, e.to_json(), headers={"Nats-Msg-Id": e.id, "Ce-Type": e.type}) for e in events
            ]
        finally:
            await nc.close()
        return [int(a.seq) for a in acks]

    async def last_seq(self) -> int:
        nc = await connect(self.nats_url, name="feeds-changes-test")
        try:
            info = await nc.jetstream().stream_info(STREAM)
            return int(info.state.last_seq)
        finally:
            await nc.close()


@pytest.fixture(scope="module")
def stream(stack: TestStack, feeds_engine: AsyncEngine) -> Stream:
    return Stream(stack.nats_url)


async def pages(api: Api, who: Any, **variables: Any) -> AsyncIterator[dict[str, Any]]:
    while True:
        page = (await api.ok(who, CHANGES, variables))["changes"]
        yield page
        if not page["pageInfo"]["hasNextPage"]:
            return
        variables.pop("since", None)
        variables["after"] = page["pageInfo"]["endCursor"]


async def test_cursors_survive_a_restart(stack: TestStack, stream: Stream, feeds_keys: DevKeys, api: Api) -> None:
    start = await stream.last_seq()
    code = village("33")
    published = [worker_registered(code) for _ in range(7)]
    seqs = await stream.publish(published)
    kp2mi = api.caller("KP2MI")
    variables = {"after": str(start), "types": ["demimas.registry.worker.registered"], "first": 3}
    first_page = (await api.ok(kp2mi, CHANGES, variables))["changes"]
    assert first_page["pageInfo"]["hasNextPage"] is True
    seen = [e["node"] for e in first_page["edges"]]
    cursor = first_page["pageInfo"]["endCursor"]
    assert cursor == first_page["edges"][-1]["cursor"]

    # a new instance of the service (another process, after a deploy): the cursor is the stream's, so it goes on
    async for restarted in serve(create_app(feeds_settings(stack, feeds_keys)), feeds_keys):
        async for page in pages(restarted, restarted.caller("KP2MI"), **{**variables, "after": cursor}):
            seen += [e["node"] for e in page["edges"]]
    mine = [n for n in seen if n["id"] in {e.id for e in published}]
    assert [n["id"] for n in mine] == [e.id for e in published]  # every one, once, in order
    assert [int(n["sequence"]) for n in mine] == seqs
    node = mine[0]
    assert node["type"] == "demimas.registry.worker.registered"
    assert node["villageCode"] == code
    assert node["data"] == published[0].data
    assert node["source"] == "demimas/registry"


async def test_a_regional_agency_never_sees_another_region(stream: Stream, api: Api) -> None:
    start = await stream.last_seq()
    here, there = village("33"), village("16")
    published = [worker_registered(here), worker_registered(there), pillar_activity(there), pillar_activity(here)]
    await stream.publish(published)
    ids = {e.id: e.data["villageCode"] for e in published}

    async def seen_by(agency: str, region: str | None, **extra: Any) -> list[str]:
        who = api.caller(agency, region)
        got: list[str] = []
        async for page in pages(api, who, after=str(start), first=1000, **extra):
            got += [e["node"]["id"] for e in page["edges"] if e["node"]["id"] in ids]
        return got

    central_java = await seen_by("BP3MI", "33")
    assert central_java == [published[0].id, published[3].id]
    assert all(ids[i].startswith("33.") for i in central_java)
    assert await seen_by("DISNAKER", "16") == [published[1].id, published[2].id]
    assert await seen_by("KP2MI", None) == [e.id for e in published]
    assert await seen_by("KP2MI", None, regionPrefix="16") == [published[1].id, published[2].id]
    assert await seen_by("BP3MI", "33", regionPrefix="16") == []  # a filter never widens the token's region
    assert await seen_by("KEMENDES", None) == [published[2].id, published[3].id]  # no registry:read
    assert await seen_by("KEMENDES", None, types=["demimas.registry.*"]) == []


async def test_since_starts_at_a_time(stream: Stream, api: Api) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    published = [worker_registered(village("32")) for _ in range(2)]
    await stream.publish(published)
    got: list[str] = []
    async for page in pages(api, api.caller("KP2MI"), since=before.isoformat(), types=["demimas.registry.*"]):
        got += [e["node"]["id"] for e in page["edges"]]
    assert [i for i in got if i in {e.id for e in published}] == [e.id for e in published]


async def test_bad_cursors(stream: Stream, api: Api) -> None:
    kp2mi = api.caller("KP2MI")
    for bad in ["abc", "-1", "1e3", str(await stream.last_seq() + 1000)]:
        refused = await api.error(kp2mi, CHANGES, {"after": bad})
        assert (refused["code"], refused["field"]) == ("BAD_USER_INPUT", "after"), bad
    both = await api.error(kp2mi, CHANGES, {"after": "1", "since": "2026-01-01T00:00:00Z"})
    assert both["code"] == "BAD_USER_INPUT"
    for first in (0, 1001):
        assert (await api.error(kp2mi, CHANGES, {"first": first}))["field"] == "first"
    assert (await api.error(kp2mi, CHANGES, {"types": ["demimas.nope.*"]}))["code"] == "BAD_USER_INPUT"
    assert (await api.error(kp2mi, CHANGES, {"regionPrefix": "3"}))["code"] == "BAD_USER_INPUT"
    polkam = api.caller("KEMENKO_POLKAM")  # no feeds:read
    assert (await api.error(polkam, CHANGES, {}))["code"] == "FORBIDDEN"


async def test_cursor_expired(stack: TestStack, feeds_keys: DevKeys) -> None:
    """On a NATS of its own: the stream's oldest events are purged, and a cursor before them is expired."""
    nats = stack.fresh_nats("feeds-expired")
    nats.start()
    try:
        own = Stream(nats.url)
        nc = await connect(nats.url, name="feeds-expired")
        await ensure_stream(nc.jetstream())
        await nc.close()
        seqs = await own.publish([worker_registered(village("33")) for _ in range(5)])
        nc = await connect(nats.url, name="feeds-expired")
        await nc.jetstream().purge_stream(STREAM, keep=2)
        await nc.close()
        settings = feeds_settings(stack, feeds_keys).model_copy(update={"nats_url": nats.url})
        async for api in serve(create_app(settings), feeds_keys):
            kp2mi = api.caller("KP2MI")
            expired = await api.error(kp2mi, CHANGES, {"after": str(seqs[0])})
            assert expired["code"] == "CURSOR_EXPIRED"
            assert expired["firstAvailableCursor"] == str(seqs[3])
            page = (await api.ok(kp2mi, CHANGES, {"after": expired["resumeAfter"]}))["changes"]
            assert [int(e["cursor"]) for e in page["edges"]] == seqs[3:]
            assert page["pageInfo"] == {"hasNextPage": False, "endCursor": str(seqs[-1])}
            nothing_new = (await api.ok(kp2mi, CHANGES, {"after": str(seqs[-1])}))["changes"]
            assert nothing_new == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": str(seqs[-1])}}
    finally:
        nats.stop()


async def test_scan_limit_continuation(stack: TestStack, stream: Stream, feeds_keys: DevKeys) -> None:
    settings = feeds_settings(stack, feeds_keys).model_copy(update={"feeds_changes_scan_limit": 100})
    start = await stream.last_seq()
    elsewhere = village("16")
    await stream.publish([worker_registered(elsewhere) for _ in range(250)])  # none of them Central Java's
    wanted = worker_registered(village("33"))
    [wanted_seq] = await stream.publish([wanted])
    async for api in serve(create_app(settings), feeds_keys):
        who = api.caller("BP3MI", "33")
        calls, after, found = 0, str(start), []
        while True:
            page = (await api.ok(who, CHANGES, {"after": after, "first": 10}))["changes"]
            calls += 1
            end = int(page["pageInfo"]["endCursor"])
            assert end - int(after) <= 100  # never more than the scan limit per call
            assert end > int(after) or not page["pageInfo"]["hasNextPage"]
            found += [e["node"]["id"] for e in page["edges"]]
            after = page["pageInfo"]["endCursor"]
            if not page["pageInfo"]["hasNextPage"]:
                break
        assert calls >= 3  # 251 messages, 100 a call
        assert wanted.id in found
        assert int(after) >= wanted_seq


async def test_export_pages_to_jsonl(stream: Stream, api: Api) -> None:
    """The export's paging (the CLI sends the same query to the gateway): every event once, as CloudEvents."""
    start = await stream.last_seq()
    published = [worker_registered(village("35")) for _ in range(5)]
    await stream.publish(published)
    out = io.StringIO()
    token = api.caller("KP2MI").token
    pages_seen: list[int] = []
    written, cursor = await export_changes(
        api.http,
        "/graphql",
        token,
        out,
        after=str(start),
        types=["demimas.registry.worker.registered"],
        first=2,
        on_page=lambda n, _: pages_seen.append(n),
    )
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert written == len(lines)
    assert [e["id"] for e in lines if e["id"] in {p.id for p in published}] == [p.id for p in published]
    assert len(pages_seen) >= 3
    first = next(e for e in lines if e["id"] == published[0].id)
    assert set(first) == {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "sequence",
                          "data"}  # fmt: skip
    assert first["data"] == published[0].data
    assert cursor is not None
    assert int(cursor) >= int(first["sequence"])

    with pytest.raises(ExportError, match="UNAUTHENTICATED"):
        await export_changes(api.http, "/graphql", "not-a-token", io.StringIO())
    polkam = api.caller("KEMENKO_POLKAM").token
    with pytest.raises(ExportError, match="FORBIDDEN"):
        await export_changes(api.http, "/graphql", polkam, io.StringIO())
    assert json.loads(json.dumps(lines[0]))  # plain JSON objects


def test_export_cli_without_token(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from demimas_common.cli import main

    monkeypatch.delenv("DEMIMAS_TOKEN", raising=False)
    assert main(["feeds", "export", "--since", "2026-01-01T00:00:00Z"]) == 2
    assert "DEMIMAS_TOKEN" in capsys.readouterr().err


async def test_an_empty_page_does_not_say_where_an_unseen_event_lies(stream: Stream, api: Api) -> None:
    """Attack: ask for one type of event the token may not see (another region's, or a type its grants never
    receive) from a time or a cursor: the page was empty, but its endCursor was the sequence of the last such event
    scanned, and the stream's end when there was none. Stepping `since` (or `after`) told when each of them happened,
    the country over: a regency office learnt when workers were registered in every other province, KEMENDES when
    cases were opened. An empty page that reached the stream's end ends where the stream ended when it began."""
    start = await stream.last_seq()
    [unseen, _later] = await stream.publish([worker_registered(village("16")), pillar_activity(village("16"))])
    end = await stream.last_seq()
    for who in (api.caller("BP3MI", "33"), api.caller("KEMENDES")):
        page = await api.ok(who, CHANGES, {"after": str(start), "types": ["demimas.registry.worker.registered"]})
        page = page["changes"]
        assert page["edges"] == []
        assert page["pageInfo"]["hasNextPage"] is False
        assert int(page["pageInfo"]["endCursor"]) >= end != unseen, (who.name, page)
