"""An endpoint delivers with the grants frozen from the token that created it, within its agency's grants of today:
a release that narrows an agency's grants narrows every endpoint of it, stored before or after."""

from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace

from demimas_common.auth.grants import DEFAULT_GRANTS
from demimas_common.auth.principal import Agency
from demimas_common.events.envelope import new_event
from demimas_feeds.adapters.endpoints import endpoint_of
from demimas_feeds.domain.endpoint import effective_scopes
from demimas_feeds.visibility import project

WORKER = "01939a8e-0000-7000-8000-000000000001"


def stored_endpoint(agency: str, owner_scopes: list[str]) -> SimpleNamespace:
    """A row of feeds.endpoints as the database returns it, its grants frozen by an earlier release."""
    now = dt.datetime.now(dt.UTC)
    return SimpleNamespace(
        id=uuid.uuid4(), agency=agency, url="https://sim.example.go.id/hooks", description="", event_types=["*"],
        region_prefix=None, owner_scopes=owner_scopes, owner_region=None, status="ACTIVE", created_by="svc",
        created_at=now, updated_at=now, version=1, disabled_reason=None, disabled_at=None, failing_since=None,
        last_success_at=None, deleted_at=None,
    )  # fmt: skip


def test_grants_an_agency_no_longer_has_are_dropped() -> None:
    kemendes = DEFAULT_GRANTS[Agency.KEMENDES]
    assert "registry:read" not in kemendes
    assert effective_scopes("KEMENDES", [*kemendes, "registry:read", "pii:read"]) == kemendes


def test_grants_within_the_agency_s_stay_as_frozen() -> None:
    narrowed = frozenset({"stats:read", "feeds:manage"})
    assert effective_scopes("KP2MI", narrowed) == narrowed


def test_an_agency_no_longer_known_gets_nothing() -> None:
    assert effective_scopes("DEPARTED_AGENCY", ["registry:read"]) == frozenset()


def test_a_stored_endpoint_with_wider_frozen_grants_receives_no_more_than_its_agency_may_now() -> None:
    """The repository's endpoint (and with it `Endpoint.audience`, used for replays, redeliveries and the fan-out's
    check) never carries a grant the agency lost."""
    endpoint = endpoint_of(stored_endpoint("KEMENDES", [*DEFAULT_GRANTS[Agency.KEMENDES], "registry:read"]))
    assert "registry:read" not in endpoint.owner_scopes
    event = new_event(
        "demimas.registry.worker.registered",
        WORKER,
        {"workerId": WORKER, "villageCode": "16.06.13.2001", "status": "CANDIDATE", "version": 1},
    ).to_dict()
    assert project(event, endpoint.audience, region_prefix=None) is None
