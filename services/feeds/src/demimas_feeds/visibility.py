"""What an agency may receive of an event: the one rule of webhook deliveries, replays and the change feed.

`project(event, audience)` returns the CloudEvent to hand over (structured JSON: specversion, id, source, type,
subject, time, datacontenttype, data; the caller adds `sequence`) or None when the audience may not see it:

- **Scopes per family**: `registry.*` needs registry:read (`registry.family.*` family:read); `designation.village.*`
  stats:read, `designation.proposal.*` one of the designation:* scopes (as the `Proposal` type); `pillars.pilot.*`
  and `pillars.milestone.*` pilot:read, `pillars.thematic_status.*` pillars:read or pilot:read, other
  `pillars.*` pillars:read; `cases.*` case:read, and the case must be
  one the agency sees: KP2MI, or a case-handling regional agency (BP3MI, DISNAKER) within its region, or the case's
  ownerAgency or toAgency; a RESTRICTED case only to KP2MI, its owner and the agency it is referred to.
  `feeds.endpoint.*` only to the endpoint's own agency with feeds:manage (a token with a region: only the endpoints
  created within it, `ownerRegion`, as the API shows it).
  `audit.*`, every `*.personal_data.accessed` and any type without a JSON Schema in the contract: never.
- **Region**: `data.villageCode` must lie within the audience's region (regional tokens) and within `region_prefix`
  (the endpoint's or the request's filter); an event without a villageCode goes only to audiences without a region
  and without a region filter, and so does a refused registration (placed where the office tried, it names a worker
  of another region). An event about a whole pilot (created, status changed, milestone completed) goes
  to an audience that sees any of the pilot's villages (`villageCodes`), as the API shows it the pilot; when the
  lead village lies outside, `villageCode` is the pilot's first village inside (as `PilotProject.villageCode`). A
  pilot's milestone event that names the milestone's village (`milestoneVillageCode`) needs that village inside
  too, as the API hides such a milestone; a count over the pilot's villages (pilot.created's `milestones`) is
  left out for an audience whose region leaves some of them out. `feeds.endpoint.*`
  events concern the agency's own configuration, carry no place and are exempt from the region rule.
- **People**: a person's id (`personId`, `workerId(s)`, `familyMemberId(s)`) is left out unless the audience holds
  registry:read (a family member's: family:read too), as on every GraphQL path (docs/contracts.md#scopes).
- **Data**: only the properties its JSON Schema names (recursively where the schema describes nested objects), so a
  field a producer adds without a contract change never leaves the system; another village code than the event's
  own (`previousVillageCode`) is left out when it lies outside the audience's region or filter, and a list of them
  (a pilot's `villageCodes`) keeps those inside it; the envelope drops
  `actorsub`, `actoragency`, `traceparent`, `causationid`, `correlationid` and any extension attribute.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from demimas_common.auth.principal import Principal, region_covers
from demimas_common.events.schemas import KNOWN_TYPES, schema_for

__all__ = ["Audience", "allowed_fields", "matches_types", "project", "receivable", "required_scopes"]

CASE_HANDLERS = frozenset({"KP2MI", "BP3MI", "DISNAKER"})
"""Agencies that see every case of their region (docs/cases.md); the others only the cases they own or receive."""
_ENVELOPE = ("specversion", "id", "source", "type", "subject", "time", "datacontenttype")


@dataclass(frozen=True)
class Audience:
    agency: str
    scopes: frozenset[str]
    region: str | None

    @classmethod
    def of(cls, principal: Principal) -> Audience:
        return cls(principal.agency.value, frozenset(principal.scopes), principal.region)


ABOUT_ANOTHER_REGION = frozenset({"demimas.registry.registration.refused"})
"""Events whose `villageCode` is not where their subject lies: a refused registration is placed in the village the
office tried (inside its region) but names, as subject and `workerId`, the worker holding the NIK in another region,
whom the refusal itself does not name. They go only to audiences without a region and without a region filter."""
ENDPOINT_SCOPE = "feeds:manage"
"""What reads a webhook endpoint (the `WebhookEndpoint` type's declaration): its events need it too."""
DESIGNATION_SCOPES = frozenset({"designation:propose", "designation:verify", "designation:decide"})
"""Any of them reads proposals (the `Proposal` type's declaration); their events need one too."""


def required_scopes(event_type: str) -> frozenset[str] | None:
    """The scopes an event type asks for (any one suffices), or None when no audience ever receives it (or it is
    agency-only)."""
    parts = event_type.split(".")
    if len(parts) != 4 or parts[0] != "demimas":
        return None
    _, service, aggregate, _name = parts
    if aggregate == "personal_data" or service == "audit":
        return None
    if service == "registry":
        return frozenset({"family:read" if aggregate == "family" else "registry:read"})
    if service == "designation":
        return DESIGNATION_SCOPES if aggregate == "proposal" else frozenset({"stats:read"})
    if service == "pillars":
        if aggregate == "thematic_status":  # as `Village.thematicStatuses`: either scope reads them
            return frozenset({"pillars:read", "pilot:read"})
        return frozenset({"pilot:read" if aggregate in ("pilot", "milestone") else "pillars:read"})
    if service == "cases":
        return frozenset({"case:read"})
    return None


def receivable(event_type: str, audience: Audience) -> bool:
    """Whether the audience may receive some events of this type (its grants; the region and the cases rule still
    decide event by event)."""
    if event_type not in KNOWN_TYPES:
        return False
    if event_type.startswith("demimas.feeds.endpoint."):
        return ENDPOINT_SCOPE in audience.scopes
    scopes = required_scopes(event_type)
    return scopes is not None and not scopes.isdisjoint(audience.scopes)


def matches_types(event_type: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """An exact type, a prefix ending in `.*` (`demimas.registry.worker.*`) or `*` (every type)."""
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


@functools.cache
def allowed_fields(event_type: str) -> dict[str, Any]:
    """The allow-list of an event type's data: property name -> nested allow-list (empty: the value as it is)."""
    if event_type not in KNOWN_TYPES:
        return {}
    return _fields(schema_for(event_type))


def _fields(schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, sub in (schema.get("properties") or {}).items():
        nested: dict[str, Any] = {}
        if isinstance(sub, dict):
            if sub.get("properties"):
                nested = _fields(sub)
            elif isinstance(sub.get("items"), dict) and sub["items"].get("properties"):
                nested = _fields(sub["items"])
        out[name] = nested
    return out


def _filter(value: Any, fields: dict[str, Any]) -> Any:
    if not fields:
        return value
    if isinstance(value, dict):
        return {k: _filter(v, fields[k]) for k, v in value.items() if k in fields}
    if isinstance(value, list):
        return [_filter(v, fields) for v in value]
    return value


def _elsewhere(key: str, value: Any, audience: Audience, region_prefix: str | None) -> bool:
    """Another village code than the event's own (`previousVillageCode`) outside what the audience may see: it would
    tell a regional office where a person came from in another region, so it is left out."""
    if key == "villageCode" or not key.endswith("VillageCode") or not isinstance(value, str):
        return False
    return not (region_covers(audience.region, value) and region_covers(region_prefix, value))


def _inside(codes: Any, audience: Audience, region_prefix: str | None) -> Any:
    """A pilot's villages, cut to those the audience may see (as `PilotProject.villages` is for a regional caller)."""
    if not isinstance(codes, list):
        return codes
    return [c for c in codes if isinstance(c, str) and region_covers(audience.region, c)
            and region_covers(region_prefix, c)]  # fmt: skip


_WORKER_IDS = frozenset({"workerId", "workerIds"})
_FAMILY_IDS = frozenset({"familyMemberId", "familyMemberIds"})


def _hides_person(key: str, data: dict[str, Any], audience: Audience) -> bool:
    """Who a person is (their id) needs registry:read, a family member's family:read too, on every path
    (docs/contracts.md#scopes): an agency with pillars:read alone learns that someone enrolled, not who."""
    registry = "registry:read" in audience.scopes
    family = registry and "family:read" in audience.scopes
    if key in _WORKER_IDS:
        return not registry
    if key in _FAMILY_IDS:
        return not family
    if key == "personId":
        return not (family if data.get("personKind") != "WORKER" else registry)
    return False


def _sees_case(data: dict[str, Any], audience: Audience) -> bool:
    agency = audience.agency
    involved = agency == data.get("ownerAgency") or agency == data.get("toAgency")
    if data.get("confidentiality") == "RESTRICTED":
        return agency == "KP2MI" or involved
    return agency in CASE_HANDLERS or involved


_PILOT_WIDE = frozenset(
    f"demimas.pillars.pilot.{name}" for name in ("created", "status_changed", "milestone_completed")
)
"""Pilot events about the whole pilot: `villageCode` is its lead village, `villageCodes` all its villages."""


def _pilot_village_inside(
    event_type: str, data: dict[str, Any], audience: Audience, region_prefix: str | None
) -> str | None:
    """For an event about a whole pilot whose lead village lies outside what the audience sees: the pilot's first
    village inside it, which the audience receives as the event's `villageCode` (as `PilotProject.villageCode` is
    for such a caller); None when no village of the pilot is inside, or for any other event."""
    if event_type not in _PILOT_WIDE:
        return None
    codes = data.get("villageCodes")
    if not isinstance(codes, list):
        return None
    inside = _inside(codes, audience, region_prefix)
    return str(inside[0]) if inside else None


def project(event: dict[str, Any], audience: Audience, *, region_prefix: str | None = None) -> dict[str, Any] | None:
    event_type = str(event.get("type", ""))
    data = event.get("data")
    seen_as: str | None = None
    if not isinstance(data, dict) or event_type not in KNOWN_TYPES:
        return None
    if event_type.startswith("demimas.feeds.endpoint."):
        if data.get("agency") != audience.agency or ENDPOINT_SCOPE not in audience.scopes:
            return None  # as `WebhookEndpoint`, which needs feeds:manage on every path
        owner_region = data.get("ownerRegion")
        if audience.region is not None and not (
            isinstance(owner_region, str) and region_covers(audience.region, owner_region)
        ):
            return None  # another regional office's endpoint, or a national one: as the API's visible_to
    else:
        scopes = required_scopes(event_type)
        if scopes is None or scopes.isdisjoint(audience.scopes):
            return None
        village = data.get("villageCode")
        if event_type in ABOUT_ANOTHER_REGION:
            village = None  # placed by the attempt, about a worker elsewhere: as an event without a village
        if not isinstance(village, str):
            if audience.region is not None or region_prefix is not None:
                return None
        elif not (region_covers(audience.region, village) and region_covers(region_prefix, village)):
            seen_as = _pilot_village_inside(event_type, data, audience, region_prefix)
            if seen_as is None:
                return None
        milestone_village = data.get("milestoneVillageCode")
        if isinstance(milestone_village, str) and not (
            region_covers(audience.region, milestone_village) and region_covers(region_prefix, milestone_village)
        ):
            return None  # a milestone of a village the audience does not see (as `PilotProject.milestones` hides it)
        if event_type.startswith("demimas.cases.") and not _sees_case(data, audience):
            return None
    out = {key: event[key] for key in _ENVELOPE if key in event}
    fields = allowed_fields(event_type)
    if seen_as is not None:
        data = data | {"villageCode": seen_as}
    out["data"] = {
        key: _inside(value, audience, region_prefix) if key == "villageCodes" else _filter(value, fields[key])
        for key, value in data.items()
        if key in fields
        and not _elsewhere(key, value, audience, region_prefix)
        and not _hides_person(key, data, audience)
        and not (key in _COUNTED_OVER_VILLAGES and _cut_by_region(data, audience))
    }
    return out


_COUNTED_OVER_VILLAGES = frozenset({"milestones"})
"""Counts over every village of a pilot (pilot.created's `milestones`): `PilotProject.milestones` hides a milestone
of a village outside the caller's region, so a count that includes them would tell a regional office how many lie
in villages it does not see; the feed cannot recount them, so it leaves the count out."""


def _cut_by_region(data: dict[str, Any], audience: Audience) -> bool:
    """Some of the pilot's villages lie outside the audience's region (not its filter, which hides nothing)."""
    codes = data.get("villageCodes")
    if audience.region is None or not isinstance(codes, list):
        return False
    return any(not (isinstance(c, str) and region_covers(audience.region, c)) for c in codes)
