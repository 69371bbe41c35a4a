"""The visibility rule (visibility.py): scopes per family, the region rule, the cases rule, the data allow-list, and
a walk over every contract schema that no property name looks personal."""

from __future__ import annotations

import json
import re
import uuid
from importlib import resources
from typing import Any

import pytest

from demimas_common.auth.grants import ALL_SCOPES, DEFAULT_GRANTS
from demimas_common.auth.principal import Agency
from demimas_common.events.envelope import new_event
from demimas_common.events.schemas import KNOWN_TYPES, schema_for
from demimas_feeds.visibility import Audience, allowed_fields, matches_types, project, required_scopes

WORKER = "01939a8e-0000-7000-8000-000000000001"
CASE = "01939a8e-0000-7000-8000-000000000002"


def audience(agency: str, region: str | None = None, scopes: frozenset[str] | None = None) -> Audience:
    return Audience(agency, scopes if scopes is not None else DEFAULT_GRANTS[Agency(agency)], region)


def registered(village: str = "16.06.13.2001", **extra: Any) -> dict[str, Any]:
    data = {"workerId": WORKER, "villageCode": village, "status": "CANDIDATE", "version": 1, **extra}
    event = new_event("demimas.registry.worker.registered", WORKER, data).to_dict()
    event["actorsub"] = "officer-7"
    event["traceparent"] = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
    return event


def case_event(
    kind: str = "opened", *, owner: str = "BP3MI", to: str | None = None, confidentiality: str = "STANDARD"
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "caseId": CASE,
        "villageCode": "16.06.13.2001",
        "kind": "COMPLAINT",
        "phase": "ABROAD",
        "status": "OPEN",
        "ownerAgency": owner,
        "confidentiality": confidentiality,
        "version": 1,
    }
    if to is not None:
        data.update(referralId=WORKER, toAgency=to)
    return new_event(f"demimas.cases.case.{kind}", CASE, data).to_dict()


def test_envelope_is_structured_cloudevent_without_actor_or_trace() -> None:
    out = project(registered(), audience("KP2MI"))
    assert out is not None
    assert set(out) == {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"}
    assert out["data"] == {"workerId": WORKER, "villageCode": "16.06.13.2001", "status": "CANDIDATE", "version": 1}


@pytest.mark.parametrize("scope", ["pillars:read", "pilot:read"])
def test_thematic_statuses_go_to_either_reading_scope(scope: str) -> None:
    """As `Village.thematicStatuses`: pillars:read or pilot:read reads them; neither, nothing."""
    for kind in ("set", "ended"):
        event = {**registered(), "type": f"demimas.pillars.thematic_status.{kind}",
                 "data": {"villageCode": "16.06.13.2001", "programme": "DRPPA"}}  # fmt: skip
        assert project(event, audience("KEMENKO_POLKAM", scopes=frozenset({scope}))) is not None
        others = frozenset(DEFAULT_GRANTS[Agency.KP2MI]) - {"pillars:read", "pilot:read"}
        assert project(event, audience("KP2MI", scopes=others)) is None


def test_data_keeps_only_schema_properties() -> None:
    event = registered(nik="3201234567890001")  # a producer bug: a field outside the contract
    out = project(event, audience("KP2MI"))
    assert out is not None
    assert "nik" not in out["data"]


@pytest.mark.parametrize(
    ("event_type", "scope"),
    [
        ("demimas.registry.worker.registered", "registry:read"),
        ("demimas.registry.family.added", "family:read"),
        ("demimas.designation.village.designated", "stats:read"),
        ("demimas.pillars.pilot.created", "pilot:read"),
        ("demimas.pillars.activity.recorded", "pillars:read"),
    ],
)
def test_scope_per_family(event_type: str, scope: str) -> None:
    event = {**registered(), "type": event_type, "data": {"villageCode": "16.06.13.2001"}}
    assert project(event, audience("KP2MI", scopes=frozenset({scope}))) is not None
    others = frozenset(DEFAULT_GRANTS[Agency.KP2MI]) - {scope}
    assert project(event, audience("KP2MI", scopes=others)) is None


@pytest.mark.parametrize(
    "event_type",
    ["demimas.registry.personal_data.accessed", "demimas.cases.personal_data.accessed", "demimas.audit.chain.sealed"],
)
def test_never_delivered(event_type: str) -> None:
    event = {**registered(), "type": event_type}
    everything = frozenset(s for grants in DEFAULT_GRANTS.values() for s in grants)
    assert project(event, audience("KP2MI", scopes=everything)) is None


def test_unknown_type_is_never_delivered() -> None:
    event = {**registered(), "type": "demimas.registry.worker.invented"}
    assert project(event, audience("KP2MI")) is None


def test_region_of_regional_audience_and_of_filter() -> None:
    event = registered("16.06.13.2001")
    assert project(event, audience("BP3MI", "16.06")) is not None
    assert project(event, audience("BP3MI", "16.061")) is None  # whole segments
    assert project(event, audience("BP3MI", "32")) is None
    assert project(event, audience("KP2MI"), region_prefix="16") is not None
    assert project(event, audience("KP2MI"), region_prefix="32.01") is None
    assert project(event, audience("BP3MI", "16"), region_prefix="16.07") is None


def test_event_without_village_only_for_national_audiences() -> None:
    event = {**registered(), "type": "demimas.designation.proposal.submitted", "data": {"proposalId": WORKER}}
    assert project(event, audience("KP2MI")) is not None
    assert project(event, audience("BP3MI", "16")) is None
    assert project(event, audience("KP2MI"), region_prefix="16") is None


def test_cases_rule() -> None:
    assert project(case_event(), audience("KP2MI")) is not None
    assert project(case_event(), audience("BP3MI", "16")) is not None  # a handler, in its region
    assert project(case_event(), audience("DISNAKER", "32")) is None  # outside its region
    assert project(case_event(), audience("BNN")) is None  # not involved
    assert project(case_event("referred", to="BNN"), audience("BNN")) is not None
    assert project(case_event(owner="KEMENPPPA"), audience("KEMENPPPA")) is not None
    assert project(case_event(owner="KEMENPPPA"), audience("KEMENDES")) is None  # no case:read either
    restricted = case_event(owner="BP3MI", confidentiality="RESTRICTED")
    assert project(restricted, audience("KP2MI")) is not None
    assert project(restricted, audience("BP3MI", "16")) is not None
    assert project(restricted, audience("DISNAKER", "16")) is None  # a handler of the region, not involved


def test_feeds_endpoint_events_only_to_own_agency_and_its_office() -> None:
    """Another agency never; a regional office only its own region's endpoints (not another office's, not a national
    one), as the API shows endpoints: the region walk found a BP3MI of 16 reading a BP3MI of 33's endpoint event."""

    def endpoint_event(owner_region: str | None) -> dict[str, Any]:
        data = {"endpointId": WORKER, "agency": "BP3MI", "status": "ACTIVE", "version": 1,
                "ownerRegion": owner_region}  # fmt: skip
        return {**registered(), "type": "demimas.feeds.endpoint.created", "data": data}

    assert project(endpoint_event("16.06"), audience("BP3MI", "16")) is not None
    assert project(endpoint_event("16"), audience("BP3MI", "16")) is not None
    assert project(endpoint_event("16.06"), audience("BP3MI")) is not None  # the national office above
    assert project(endpoint_event("33.07"), audience("BP3MI", "16")) is None
    assert project(endpoint_event(None), audience("BP3MI", "16")) is None
    assert project(endpoint_event("16.06"), audience("BP3MI", "16.07")) is None
    assert project(endpoint_event("16.06"), audience("KP2MI")) is None


def test_matches_types() -> None:
    assert matches_types("demimas.registry.worker.registered", ["*"])
    assert matches_types("demimas.registry.worker.registered", ["demimas.registry.worker.*"])
    assert matches_types("demimas.registry.worker.registered", ["demimas.registry.*"])
    assert not matches_types("demimas.registry.workers.registered", ["demimas.registry.worker.*"])
    assert matches_types("demimas.registry.worker.registered", ["demimas.registry.worker.registered"])
    assert not matches_types("demimas.registry.worker.registered", ["demimas.registry.worker.updated"])


PERSONAL = re.compile(r"name|nik|phone|address|birth|email|passport", re.IGNORECASE)


def _property_names(schema: Any) -> list[str]:
    names: list[str] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("properties", "patternProperties") and isinstance(value, dict):
                names.extend(value)
            names.extend(_property_names(value))
    elif isinstance(schema, list):
        for item in schema:
            names.extend(_property_names(item))
    return names


def test_no_schema_property_looks_personal() -> None:
    folder = resources.files("demimas_common.events").joinpath("schemas")
    files = [entry for entry in folder.iterdir() if entry.name.endswith(".json")]
    assert len(files) > 20
    offending = [
        f"{entry.name}: {name}"
        for entry in files
        for name in _property_names(json.loads(entry.read_text()))
        if PERSONAL.search(name)
    ]
    assert offending == []


def test_allow_list_covers_each_known_type() -> None:
    for event_type in KNOWN_TYPES:
        fields = allowed_fields(event_type)
        assert all(not PERSONAL.search(name) for name in fields), event_type


def test_previous_village_outside_the_region_is_left_out() -> None:
    data = {
        "workerId": WORKER,
        "villageCode": "16.06.13.2001",
        "status": "CANDIDATE",
        "version": 2,
        "previousVillageCode": "33.07.03.2011",
    }
    event = {**registered(), "type": "demimas.registry.worker.updated", "data": data}
    regional = project(event, audience("BP3MI", "16"))
    assert regional is not None
    assert "previousVillageCode" not in regional["data"]
    national = project(event, audience("KP2MI"))
    assert national is not None
    assert national["data"]["previousVillageCode"] == "33.07.03.2011"
    filtered = project(event, audience("KP2MI"), region_prefix="16")
    assert filtered is not None
    assert "previousVillageCode" not in filtered["data"]
    inside = project({**event, "data": {**data, "previousVillageCode": "16.01.01.2001"}}, audience("BP3MI", "16"))
    assert inside is not None
    assert inside["data"]["previousVillageCode"] == "16.01.01.2001"


def test_a_pilots_villages_are_cut_to_the_audiences_region() -> None:
    """A pilot's `villageCodes` across provinces: a regional audience of the lead's province gets its own villages
    only; the other province's code, and the lead outside it (`leadVillageCode`), are left out; milestone.overdue is a
    pilot:read event."""
    data = {"pilotId": str(uuid.uuid4()), "villageCode": "16.06.13.2002", "leadVillageCode": "33.07.01.2001",
            "villageCodes": ["33.07.01.2001", "16.06.13.2002"], "coordinator": "KEMENKO_POLKAM"}  # fmt: skip
    event = {**registered(), "type": "demimas.pillars.pilot.village_added", "subject": data["pilotId"], "data": data}
    regional = project(event, audience("BP3MI", "16"))
    assert regional is not None
    assert regional["data"] == {"pilotId": data["pilotId"], "villageCode": "16.06.13.2002",
                                "villageCodes": ["16.06.13.2002"], "coordinator": "KEMENKO_POLKAM"}  # fmt: skip
    national = project(event, audience("KP2MI"))
    assert national is not None
    assert national["data"] == data
    assert required_scopes("demimas.pillars.milestone.overdue") == frozenset({"pilot:read"})


# Who a person is (a worker's or family member's id) needs registry:read (a family member's, family:read too) on
# every path (docs/contracts.md#scopes), webhooks and the change feed included: walked over every contract schema,
# so a person id a producer adds to any event type later is covered the day its schema names it.
PERSON_ID_PROPERTIES = {"personId", "workerId", "workerIds", "familyMemberId", "familyMemberIds"}
PERSON_SCOPES = frozenset({"registry:read", "family:read"})


def _sample(schema: dict[str, Any]) -> Any:
    kinds = schema.get("type")
    kind = next((k for k in kinds if k != "null"), "string") if isinstance(kinds, list) else kinds
    if schema.get("enum"):
        return next(v for v in schema["enum"] if v is not None)
    if kind == "array":
        return [_sample(schema.get("items") or {"type": "string"})]
    if kind == "object":
        return {k: _sample(v) for k, v in (schema.get("properties") or {}).items()}
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    return WORKER if schema.get("format") == "uuid" else "16.06.13.2001"


def _full_event(event_type: str, agency: str, **overrides: Any) -> dict[str, Any]:
    """An event of the type with every property its schema names (the place and the agencies set so that the
    audience sees it: its case, its endpoint)."""
    data_schema = schema_for(event_type)
    data = {name: _sample(sub) for name, sub in (data_schema.get("properties") or {}).items()}
    data.update({k: agency for k in ("ownerAgency", "agency") if k in data})
    data.update({k: v for k, v in overrides.items() if k in data})
    return new_event(event_type, WORKER, data).to_dict()


def _person_ids(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {k for k in value if k in PERSON_ID_PROPERTIES} | {n for v in value.values() for n in _person_ids(v)}
    if isinstance(value, list):
        return {n for v in value for n in _person_ids(v)}
    return set()


@pytest.mark.parametrize("event_type", sorted(KNOWN_TYPES))
def test_a_person_id_needs_a_person_level_scope_in_every_event_type(event_type: str) -> None:
    without = Audience("KP2MI", frozenset(ALL_SCOPES) - PERSON_SCOPES, None)
    for kind in ("WORKER", "FAMILY_MEMBER"):
        out = project(_full_event(event_type, "KP2MI", personKind=kind), without)
        assert out is None or not _person_ids(out["data"]), f"{event_type} names a person without registry:read"
    # a worker's id with registry:read alone; a family member's needs family:read as well
    registry_only = Audience("KP2MI", frozenset(ALL_SCOPES) - {"family:read"}, None)
    out = project(_full_event(event_type, "KP2MI", personKind="FAMILY_MEMBER"), registry_only)
    assert out is None or not _person_ids(out["data"]) & {"personId", "familyMemberId", "familyMemberIds"}


def test_kemendes_and_bnn_see_an_enrolment_but_not_whose() -> None:
    for agency in ("KEMENDES", "BNN"):
        out = project(_full_event("demimas.pillars.enrolment.created", agency, personKind="WORKER"), audience(agency))
        assert out is not None
        assert "personId" not in out["data"]
        assert out["data"]["programme"]
    out = project(_full_event("demimas.pillars.enrolment.created", "KP2MI", personKind="WORKER"), audience("KP2MI"))
    assert out is not None
    assert out["data"]["personId"] == WORKER


def test_an_office_gets_no_events_about_another_offices_endpoints() -> None:
    """A token with a region sees only the endpoints created within it (docs/feeds.md): their events too. A
    regency office of DISNAKER must not learn the ids, types and filters of another regency's endpoints."""

    def endpoint_event(owner_region: str | None) -> dict[str, Any]:
        data = {"endpointId": WORKER, "agency": "DISNAKER", "status": "ACTIVE", "eventTypes": ["*"],
                "regionPrefix": None, "version": 1, "ownerRegion": owner_region}  # fmt: skip
        return new_event("demimas.feeds.endpoint.created", WORKER, data).to_dict()

    assert project(endpoint_event("33.01"), audience("DISNAKER", "16.06")) is None
    assert project(endpoint_event(None), audience("DISNAKER", "16.06")) is None  # a national one's: not either
    own = project(endpoint_event("16.06"), audience("DISNAKER", "16.06"))
    assert own is not None
    assert own["data"]["ownerRegion"] == "16.06"
    assert project(endpoint_event("33.01"), audience("DISNAKER")) is not None  # a national token sees them all


def test_a_proposal_needs_a_designation_scope_as_the_proposal_type_does() -> None:
    """`Proposal` needs one of the designation:* scopes on every GraphQL path (docs/contracts.md#grants): its
    workflow events too. stats:read alone (KEMENDES, BNN, KEMENPPPA, KEMENIMIPAS) sees designations, not proposals."""
    data = {"proposalId": WORKER, "villageCode": "16.06.13.2001"}
    for step in ("submitted", "verified", "assessed", "approved", "rejected"):
        event = new_event(f"demimas.designation.proposal.{step}", WORKER, data).to_dict()
        for agency in ("KEMENDES", "BNN", "KEMENPPPA", "KEMENIMIPAS"):
            assert project(event, audience(agency)) is None, (step, agency)
        for scope in ("designation:propose", "designation:verify", "designation:decide"):
            assert project(event, audience("KP2MI", scopes=frozenset({scope}))) is not None
        assert project(event, audience("DISNAKER", "16.06")) is not None  # designation:propose, in its region
    designated = new_event("demimas.designation.village.designated", WORKER, {"villageCode": "16.06.13.2001"})
    assert project(designated.to_dict(), audience("KEMENDES")) is not None


def test_a_pilot_is_delivered_to_every_region_of_its_villages_as_the_api_shows_it() -> None:
    """An event about a whole pilot goes to a regional office that sees any of its villages, not only the lead's:
    `PilotProject` shows such an office the pilot, with `villageCode` its first village there; the lead and the
    villages outside are left out. A village added elsewhere is not news to it (`PilotProject.villages` hides it)."""
    pilot = str(uuid.uuid4())
    data = {"pilotId": pilot, "villageCode": "33.07.01.2001", "title": "Pilot",
            "villageCodes": ["33.07.01.2001", "12.01.01.2001", "16.06.13.2002", "16.06.13.2003"],
            "coordinator": "KEMENKO_POLKAM", "status": "ACTIVE", "previousStatus": "PLANNED"}  # fmt: skip
    for kind in ("created", "status_changed"):
        event = {**registered(), "type": f"demimas.pillars.pilot.{kind}", "subject": pilot, "data": data}
        regional = project(event, audience("BP3MI", "16"))
        assert regional is not None, kind
        assert regional["data"]["villageCode"] == "16.06.13.2002"
        assert regional["data"]["villageCodes"] == ["16.06.13.2002", "16.06.13.2003"]
        assert "33.07.01.2001" not in str(regional["data"])
        narrowed = project(event, audience("KP2MI"), region_prefix="12.01")
        assert narrowed is not None
        assert (narrowed["data"]["villageCode"], narrowed["data"]["villageCodes"]) == (
            "12.01.01.2001",
            ["12.01.01.2001"],
        )
        assert project(event, audience("BP3MI", "35")) is None  # no village of the pilot there
        national = project(event, audience("KP2MI"))
        assert national is not None
        assert national["data"]["villageCode"] == "33.07.01.2001"
    added = {"pilotId": pilot, "villageCode": "12.01.01.2001", "leadVillageCode": "33.07.01.2001",
             "villageCodes": data["villageCodes"], "coordinator": "KEMENKO_POLKAM"}  # fmt: skip
    event = {**registered(), "type": "demimas.pillars.pilot.village_added", "subject": pilot, "data": added}
    assert project(event, audience("BP3MI", "16")) is None


def test_a_milestone_of_another_region_is_not_delivered_through_its_pilots_lead() -> None:
    """Attack: a regional office of the lead village's province subscribes to pilot events and learns of a milestone
    completed in another province's village (its id, agency, dates), which `PilotProject.milestones` hides from it.
    A milestone event that names its village goes only where that village is seen too, as the API shows the milestone:
    to the other province's office, which sees the pilot through that village, as the pilot's village there."""
    pilot = str(uuid.uuid4())
    data = {"pilotId": pilot, "milestoneId": str(uuid.uuid4()), "villageCode": "16.06.13.2002",
            "villageCodes": ["16.06.13.2002", "33.07.01.2001"], "responsibleAgency": "KEMENDES",
            "completedOn": "2026-12-01", "dueDate": "2026-12-10", "milestoneVillageCode": "33.07.01.2001"}  # fmt: skip
    event = {**registered(), "type": "demimas.pillars.pilot.milestone_completed", "subject": pilot, "data": data}
    assert project(event, audience("BP3MI", "16")) is None
    assert project(event, audience("KP2MI"), region_prefix="16") is None
    there = project(event, audience("BP3MI", "33"))
    assert there is not None
    assert (there["data"]["villageCode"], there["data"]["villageCodes"]) == ("33.07.01.2001", ["33.07.01.2001"])
    own = {**event, "data": {**data, "milestoneVillageCode": "16.06.13.2002"}}
    inside = project(own, audience("BP3MI", "16"))
    assert inside is not None
    assert inside["data"]["milestoneId"] == data["milestoneId"]
    national = project(event, audience("KP2MI"))
    assert national is not None
    assert national["data"]["milestoneVillageCode"] == "33.07.01.2001"


def test_endpoint_events_need_the_scope_that_reads_endpoints() -> None:
    """`WebhookEndpoint` needs feeds:manage on every GraphQL path; its events said the same (ids, types, filters,
    status of the agency's endpoints) to any token of the agency through the change feed: a token narrowed to
    feeds:read, a night-time sync job's, read the agency's webhook configuration that the API refuses it."""
    data = {"endpointId": WORKER, "agency": "KEMENDES", "status": "ACTIVE", "eventTypes": ["*"],
            "regionPrefix": None, "version": 1, "ownerRegion": None}  # fmt: skip
    event = new_event("demimas.feeds.endpoint.created", WORKER, data).to_dict()
    assert project(event, audience("KEMENDES", scopes=frozenset({"feeds:read", "stats:read"}))) is None
    assert project(event, audience("KEMENDES", scopes=frozenset({"feeds:read", "feeds:manage"}))) is not None
    assert project(event, audience("KEMENDES")) is not None


def test_a_refused_registration_goes_to_no_region() -> None:
    """Its village is where an office tried to register a NIK (inside that office's region); its subject and workerId
    are the worker holding the NIK in another region, whom the office's FORBIDDEN does not name."""
    data = {"workerId": WORKER, "villageCode": "33.07.03.2011", "via": "registerWorker"}
    event = new_event("demimas.registry.registration.refused", WORKER, data).to_dict()
    assert project(event, audience("DISNAKER", "33.07")) is None
    assert project(event, audience("KP2MI"), region_prefix="33") is None
    national = project(event, audience("KP2MI"))
    assert national is not None
    assert national["data"]["workerId"] == WORKER


def test_a_pilots_milestone_count_does_not_count_milestones_of_villages_outside() -> None:
    """Attack: BP3MI 16 sees a pilot through its village 16.06.13.2002; `PilotProject.milestones` shows it only the
    milestones of the villages it sees, but pilot.created's `milestones` counted every milestone of the pilot, so the
    office learnt how many were planned in the other province's villages. A count the feed cannot cut to the
    audience's villages is left out when some of the pilot's villages lie outside its region."""
    pilot = str(uuid.uuid4())
    data = {"pilotId": pilot, "villageCode": "33.07.01.2001", "villageCodes": ["33.07.01.2001", "16.06.13.2002"],
            "coordinator": "KEMENKO_POLKAM", "partners": ["KEMENDES"], "milestones": 5}  # fmt: skip
    event = {**registered(), "type": "demimas.pillars.pilot.created", "subject": pilot, "data": data}
    regional = project(event, audience("BP3MI", "16"))
    assert regional is not None
    assert "milestones" not in regional["data"]
    lead = project(event, audience("BP3MI", "33"))  # the lead's province does not see 16.06.13.2002's either
    assert lead is not None
    assert "milestones" not in lead["data"]
    national = project(event, audience("KP2MI"))
    assert national is not None
    assert national["data"]["milestones"] == 5
    inside = {**event, "data": {**data, "villageCodes": ["33.07.01.2001", "33.07.01.2002"]}}
    whole = project(inside, audience("BP3MI", "33"))
    assert whole is not None
    assert whole["data"]["milestones"] == 5  # every village of the pilot is seen: every milestone too
