"""The delivery path as an access matrix: every agency that may have webhooks (the grants table of
docs/contracts.md, not the code's) registers an endpoint for `*`, and one event of every type the contract knows
(so a type added tomorrow is in the matrix the day its schema is) is published in the office's region and in a
neighbouring one. Each agency's receiver must get exactly what docs/feeds.md says it may receive, and every body
must hold only its schema's fields, no person's id without registry:read and no other region's village code. The
cases of the matrix are owned by KP2MI, referred to BNN, STANDARD and RESTRICTED."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.devstack.fresh_villages import FreshVillages
from demimas_common.devstack.testing import TestStack
from demimas_common.events.envelope import CloudEvent, new_event
from demimas_common.events.schemas import KNOWN_TYPES, schema_for
from demimas_feeds.receiver import Receiver

from .conftest import Endpoints, publish, running, until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]
FRESH = FreshVillages(ROOT)
REGIONAL = {"BP3MI", "DISNAKER"}
# docs/feeds.md, "What an agency may receive": the first matching prefix decides (any one of the scopes suffices)
RULES = [
    ("demimas.registry.family.", {"family:read"}),
    ("demimas.registry.", {"registry:read"}),
    ("demimas.designation.proposal.", {"designation:propose", "designation:verify", "designation:decide"}),
    ("demimas.designation.", {"stats:read"}),
    ("demimas.pillars.pilot.", {"pilot:read"}),
    ("demimas.pillars.milestone.", {"pilot:read"}),
    ("demimas.pillars.", {"pillars:read"}),
    ("demimas.cases.", {"case:read"}),
]
PERSON_IDS = {"personId", "workerId", "workerIds", "familyMemberId", "familyMemberIds"}


def documented_grants() -> dict[str, set[str]]:
    text = (ROOT / "docs" / "contracts.md").read_text()
    table = text.split("## Grants", 1)[1].split("\n\n", 2)[1]
    grants = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        grants[cells[0].split()[0]] = set(cells[1].split())
    return grants


def may_receive(agency: str, scopes: set[str], event_type: str, data: dict[str, Any]) -> bool:
    if event_type.startswith("demimas.audit.") or event_type.endswith(".personal_data.accessed"):
        return False
    if event_type.startswith("demimas.feeds."):  # the agency's own (no village: the region filter does not apply)
        return data["agency"] == agency
    if event_type == "demimas.registry.registration.refused":
        return False  # about a worker of another region: only without a region and a filter (every endpoint has one)
    needed = next((s for prefix, s in RULES if event_type.startswith(prefix)), set())
    if not needed & scopes:
        return False
    if event_type.startswith("demimas.cases."):
        involved = agency in (data["ownerAgency"], data.get("toAgency"))
        if data["confidentiality"] == "RESTRICTED":
            return agency == "KP2MI" or involved
        return agency in ("KP2MI", *REGIONAL) or involved
    return True


def _sample(schema: dict[str, Any], village: str) -> Any:
    """A value the property's schema accepts (the fan-out refuses events whose data breaks their schema)."""
    if schema.get("enum"):
        return next(v for v in schema["enum"] if v is not None)
    kinds = schema.get("type")
    if kinds == "array" or (isinstance(kinds, list) and "array" in kinds):
        return [_sample(schema.get("items") or {"type": "string"}, village)]
    if kinds == "object" or schema.get("properties"):
        return {k: _sample(v, village) for k, v in (schema.get("properties") or {}).items()}
    formats = {"date-time": "2026-12-01T00:00:00Z", "date": "2026-12-01", "uuid": str(uuid.uuid4())}
    if schema.get("format") in formats:
        return formats[schema["format"]]
    check = jsonschema_rs.validator_for(schema)
    candidates = [str(uuid.uuid4()), village, "2026-12-01", "2026-12-01T00:00:00Z", "KP2MI", "MY", "*", 1, True, None]
    return next(c for c in candidates if check.is_valid(c))


def event_of(event_type: str, village: str, elsewhere: str, confidentiality: str = "STANDARD") -> CloudEvent:
    props = schema_for(event_type).get("properties") or {}
    data = {name: _sample(sub, village) for name, sub in props.items()}
    fixed = {"villageCode": village, "previousVillageCode": elsewhere, "ownerAgency": "KP2MI", "toAgency": "BNN",
             "agency": "KP2MI", "confidentiality": confidentiality, "personKind": "WORKER"}  # fmt: skip
    data.update({k: v for k, v in fixed.items() if k in data})
    return new_event(event_type, str(uuid.uuid4()), data)


async def test_every_agency_receives_exactly_what_the_rules_say_of_every_event_type(
    stack: TestStack, engine: AsyncEngine, js: JetStreamContext, endpoints: Endpoints
) -> None:
    grants = documented_grants()
    agencies = {a: s for a, s in grants.items() if "feeds:manage" in s}
    assert len(agencies) == 7
    # two villages of two regencies of one province, real and no other test's: these events stay on the session's
    # stream for the other services' projections (a random province's PP.01.01.2001 could be a village another test
    # counts in, or that FreshVillages hands out to one later)
    village = FRESH()
    province, here = village[:2], village[:5]
    neighbour = FRESH(province)
    while neighbour[:5] == here:
        neighbour = FRESH(province)
    receivers = {a: await Receiver().start() for a in agencies}
    for agency, receiver in receivers.items():
        regional = agency in REGIONAL
        await endpoints.add(receiver.url, region_prefix=here if regional else province, agency=agency,
                            region=here if regional else None, types=("*",))  # fmt: skip
    types = sorted(t for t in KNOWN_TYPES if re.match(r"^demimas\.[a-z_]+\.[a-z_]+\.[a-z_]+$", t))
    mine = [event_of(t, v, o) for v, o in ((village, neighbour), (neighbour, village)) for t in types]
    mine += [event_of(t, village, neighbour, "RESTRICTED") for t in types if t.startswith("demimas.cases.case.")]
    sentinel = new_event("demimas.designation.village.designated", village, {"villageCode": village})
    try:
        async with running(engine, stack):
            await publish(js, [*mine, sentinel])
            for receiver in receivers.values():
                await until(lambda r=receiver: any(orjson.loads(x.body)["id"] == sentinel.id for x in r.received))
    finally:
        for receiver in receivers.values():
            await receiver.stop()
    by_id = {e.id: e for e in mine}
    problems = []
    for agency, receiver in receivers.items():
        scopes = agencies[agency]
        bodies = [orjson.loads(r.body) for r in receiver.received]
        got = {b["id"] for b in bodies if b["id"] in by_id}
        expected = {e.id for e in mine if may_receive(agency, scopes, e.type, e.data)
                    and (agency not in REGIONAL or e.data.get("villageCode", "").startswith(here + "."))}  # fmt: skip
        for wrong in sorted(got - expected):
            problems.append(f"{agency} received {by_id[wrong].type} of {by_id[wrong].data.get('villageCode')}")
        for missing in sorted(expected - got):
            problems.append(f"{agency} did not receive {by_id[missing].type} of {by_id[missing].data['villageCode']}")
        for body in bodies:
            data = body["data"]
            extra = set(data) - set(schema_for(body["type"]).get("properties") or {})
            people = set(data) & PERSON_IDS if "registry:read" not in scopes else set()
            away = [k for k, v in data.items() if k.endswith("VillageCode") and agency in REGIONAL
                    and not str(v).startswith(here + ".")]  # fmt: skip
            if extra or people or away:
                problems.append(f"{agency} got {body['type']} with {sorted(extra | people | set(away))}")
    assert problems == []
