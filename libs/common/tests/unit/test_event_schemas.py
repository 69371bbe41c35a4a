"""The event contracts' validator: every shipped schema compiles, a good event passes, and a bad one is refused
with the failing path named (consumers dead-letter on that message, so it must point at the field)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from demimas_common.events.envelope import InvalidEvent, new_event
from demimas_common.events.schemas import KNOWN_TYPES, validate_data, validate_event


def departed(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "workerId": str(uuid.uuid4()),
        "villageCode": "16.06.13.2001",
        "status": "ABROAD",
        "version": 2,
        "destinationCountry": "MY",
        "scheme": "P_TO_P",
        "procedural": True,
        "departureDate": "2026-03-01",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize("event_type", sorted(KNOWN_TYPES))
def test_every_schema_compiles(event_type: str) -> None:
    with pytest.raises(InvalidEvent):
        validate_data(event_type, "not an object")


def test_a_good_event_passes() -> None:
    event = new_event("demimas.registry.worker.departed", "w", departed())
    validate_event(event)


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"workerId": "not-a-uuid"}, "workerId"),
        ({"departureDate": "2026-02-30"}, "departureDate"),  # matches the pattern, not a date
        ({"version": 0}, "version"),
        ({"scheme": "SMUGGLED"}, "scheme"),
        ({"nik": "3174011201900001"}, "(root)"),  # closed payloads: nothing personal rides along
        ({"procedural": None}, "(root)"),
    ],
)
def test_a_bad_payload_names_the_field(changes: dict[str, Any], where: str) -> None:
    with pytest.raises(InvalidEvent, match=f"invalid at {re.escape(where)}:"):
        validate_data("demimas.registry.worker.departed", departed(**changes))


def test_an_unknown_type_has_no_schema() -> None:
    with pytest.raises(InvalidEvent, match="no schema"):
        validate_data("demimas.registry.worker.teleported", {})
