"""JSON Schemas (draft 2020-12) of the event envelope and of each contract event's `data`, shipped in
`schemas/`. Producers validate before writing to the outbox; consumers validate before applying; contract tests
check both against the same files.

Validation runs on `jsonschema-rs` (compiled, draft 2020-12 with format assertions on): consumers validate every
event they apply, and the pure-Python validator cost more than the projection's own database work."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jsonschema_rs

from demimas_common.events.envelope import CloudEvent, InvalidEvent

__all__ = ["KNOWN_TYPES", "schema_for", "validate_data", "validate_event"]


def _files() -> dict[str, Any]:
    folder = resources.files("demimas_common.events").joinpath("schemas")
    return {
        entry.name.removesuffix(".json"): json.loads(entry.read_text())
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


_SCHEMAS = _files()
ENVELOPE = _SCHEMAS.pop("cloudevent")
KNOWN_TYPES = frozenset(_SCHEMAS)


def schema_for(event_type: str) -> dict[str, Any]:
    try:
        return dict(_SCHEMAS[event_type])
    except KeyError:
        raise InvalidEvent(f"no schema for event type {event_type!r}") from None


@functools.cache
def _validator(name: str) -> jsonschema_rs.Draft202012Validator:
    schema = ENVELOPE if name == "cloudevent" else schema_for(name)
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True, ignore_unknown_formats=False)


def _check(name: str, instance: Any, what: str) -> None:
    validator = _validator(name)
    if validator.is_valid(instance):
        return
    errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.instance_path])
    first = errors[0]
    where = "/".join(str(p) for p in first.instance_path) or "(root)"
    raise InvalidEvent(f"{what} invalid at {where}: {first.message}")


def validate_data(event_type: str, data: Any) -> None:
    _check(event_type, data, f"{event_type} data")


def validate_event(event: CloudEvent) -> None:
    """The envelope and the payload of its type; raises InvalidEvent naming the failing path."""
    _check("cloudevent", event.to_dict(), "CloudEvent envelope")
    validate_data(event.type, event.data)
