"""The event catalogue (deploy/asyncapi.yaml, docs/contracts.md "Events"): the committed document is what
`make asyncapi` prints from the event JSON Schemas, it is a valid AsyncAPI 3.0.0 document by the official JSON Schema
(vendored in tests/fixtures/asyncapi, no network), and it lists every schema file on its subject."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from demimas_common.events.asyncapi import build_document, channel_key, event_schemas, render
from demimas_common.events.schemas import KNOWN_TYPES

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "deploy" / "asyncapi.yaml"
SCHEMA_DIR = ROOT / "libs" / "common" / "src" / "demimas_common" / "events" / "schemas"
OFFICIAL = ROOT / "tests" / "fixtures" / "asyncapi" / "asyncapi-3.0.0.schema.json"
FIX = "run `make asyncapi` and commit deploy/asyncapi.yaml"


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    assert COMMITTED.is_file(), f"{COMMITTED} is missing: {FIX}"
    document = yaml.safe_load(COMMITTED.read_text())
    assert isinstance(document, dict)
    return document


def test_the_committed_catalogue_is_fresh() -> None:
    assert COMMITTED.read_text() == render(), f"deploy/asyncapi.yaml is stale: {FIX}"


def test_it_validates_against_the_official_asyncapi_3_schema(committed: dict[str, Any]) -> None:
    official = json.loads(OFFICIAL.read_text())
    validator = jsonschema.Draft7Validator(official)
    errors = sorted(validator.iter_errors(committed), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])


def test_the_official_schema_refuses_a_broken_document(committed: dict[str, Any]) -> None:
    # the validation above can fail: a channel without the `address` type AsyncAPI wants, an unknown action
    broken = json.loads(json.dumps(committed))
    first = next(iter(broken["operations"].values()))
    first["action"] = "publish"  # AsyncAPI 2's verb, gone in 3.0
    assert not jsonschema.Draft7Validator(json.loads(OFFICIAL.read_text())).is_valid(broken)


def test_every_schema_file_is_a_channel_on_its_subject(committed: dict[str, Any]) -> None:
    files = sorted(p.stem for p in SCHEMA_DIR.glob("*.json") if p.stem != "cloudevent")
    assert files, "no event schema found"
    assert sorted(KNOWN_TYPES) == files
    channels = committed["channels"]
    assert sorted(channel["address"] for channel in channels.values()) == files
    messages = committed["components"]["messages"]
    schemas = committed["components"]["schemas"]
    for event_type in files:
        key = channel_key(event_type)
        assert channels[key]["address"] == event_type
        assert messages[key]["name"] == event_type
        on_disk = json.loads((SCHEMA_DIR / f"{event_type}.json").read_text())
        listed = schemas[key]
        # the payload schema is the file's, less the two keywords that only make it a standalone resource
        assert listed == {k: v for k, v in on_disk.items() if k not in ("$schema", "$id")}
        data = messages[key]["payload"]["allOf"][1]["properties"]
        assert data["type"] == {"const": event_type}
        assert data["data"] == {"$ref": f"#/components/schemas/{key}"}
        operation = committed["operations"][key]
        assert operation["action"] == "send"
        assert operation["channel"] == {"$ref": f"#/channels/{key}"}


def test_the_envelope_is_the_cloudevent_schema(committed: dict[str, Any]) -> None:
    envelope = json.loads((SCHEMA_DIR / "cloudevent.json").read_text())
    assert committed["components"]["schemas"]["CloudEvent"]["required"] == envelope["required"]
    assert committed["components"]["schemas"]["CloudEvent"]["properties"] == envelope["properties"]


def test_a_new_schema_file_is_picked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # the feeds service adds demimas.feeds.endpoint.* later: the generator lists whatever the folder holds
    extra = {
        "type": "object",
        "title": "demimas.feeds.endpoint.created",
        "properties": {"endpointId": {"type": "string"}},
        "required": ["endpointId"],
    }
    original = event_schemas()
    import demimas_common.events.asyncapi as module

    monkeypatch.setattr(module, "event_schemas", lambda: dict(sorted({**original, extra["title"]: extra}.items())))
    document = build_document()
    assert document["channels"]["feeds_endpoint_created"]["address"] == "demimas.feeds.endpoint.created"
    assert {"name": "feeds"} in document["operations"]["feeds_endpoint_created"]["tags"]
    official = json.loads(OFFICIAL.read_text())
    assert jsonschema.Draft7Validator(official).is_valid(json.loads(json.dumps(document)))
