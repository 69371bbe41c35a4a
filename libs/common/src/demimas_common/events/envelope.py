"""The CloudEvents 1.0 envelope (structured JSON) of every Demimas event (contract: docs/contracts.md, "Events").

`type` is also the NATS subject; `id` is a UUIDv7 (time-ordered) and doubles as `Nats-Msg-Id`, so JetStream's
duplicate window and each consumer's inbox both recognise a republished event.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import uuid_utils

__all__ = ["Actor", "CloudEvent", "InvalidEvent", "new_event"]

_TYPE = re.compile(r"^demimas\.([a-z_]+)\.([a-z_]+)\.([a-z_]+)$")
_REQUIRED = ("specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data")


class InvalidEvent(ValueError):
    """An envelope or payload that does not follow the contract; consumers dead-letter it."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused an event: the agency and the token subject (never a person's name)."""

    agency: str | None = None
    sub: str | None = None


@dataclass(frozen=True, slots=True)
class CloudEvent:
    id: str
    source: str
    type: str
    subject: str
    time: dt.datetime
    data: dict[str, Any]
    datacontenttype: str = "application/json"
    specversion: str = "1.0"
    actoragency: str | None = None
    actorsub: str | None = None
    traceparent: str | None = None
    causationid: str | None = None
    correlationid: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def service(self) -> str:
        match = _TYPE.match(self.type)
        return match.group(1) if match else ""

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "datacontenttype": self.datacontenttype,
            "data": self.data,
        }
        for key in ("actoragency", "actorsub", "traceparent", "causationid", "correlationid"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        body.update(self.extra)
        return body

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    def with_traceparent(self, traceparent: str | None) -> CloudEvent:
        return replace(self, traceparent=traceparent)

    def with_actor(self, actor: Actor) -> CloudEvent:
        return replace(self, actoragency=actor.agency, actorsub=actor.sub)

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> CloudEvent:
        missing = [key for key in _REQUIRED if key not in body]
        if missing:
            raise InvalidEvent(f"CloudEvent lacks {', '.join(missing)}")
        if body["specversion"] != "1.0":
            raise InvalidEvent(f"unsupported specversion {body['specversion']!r}")
        if not isinstance(body["data"], dict):
            raise InvalidEvent("CloudEvent data must be a JSON object")
        if not _TYPE.match(str(body["type"])):
            raise InvalidEvent(f"event type {body['type']!r} is not demimas.<service>.<aggregate>.<event>")
        try:
            time = dt.datetime.fromisoformat(str(body["time"]).replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidEvent(f"event time {body['time']!r} is not RFC 3339") from exc
        known = set(_REQUIRED) | {"actoragency", "actorsub", "traceparent", "causationid", "correlationid"}
        return cls(
            id=str(body["id"]),
            source=str(body["source"]),
            type=str(body["type"]),
            subject=str(body["subject"]),
            time=time,
            data=body["data"],
            datacontenttype=str(body["datacontenttype"]),
            specversion="1.0",
            actoragency=body.get("actoragency"),
            actorsub=body.get("actorsub"),
            traceparent=body.get("traceparent"),
            causationid=body.get("causationid"),
            correlationid=body.get("correlationid"),
            extra={k: v for k, v in body.items() if k not in known},
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> CloudEvent:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidEvent(f"event body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise InvalidEvent("event body must be a JSON object")
        return cls.from_dict(body)


def new_event(
    type: str,
    subject: str,
    data: dict[str, Any],
    *,
    actor: Actor | None = None,
    traceparent: str | None = None,
    causation_id: str | None = None,
    correlation_id: str | None = None,
) -> CloudEvent:
    match = _TYPE.match(type)
    if not match:
        raise InvalidEvent(f"event type {type!r} is not demimas.<service>.<aggregate>.<event>")
    event_id = str(uuid_utils.uuid7())
    return CloudEvent(
        id=event_id,
        source=f"demimas/{match.group(1)}",
        type=type,
        subject=subject,
        time=dt.datetime.now(dt.UTC),
        data=data,
        actoragency=actor.agency if actor else None,
        actorsub=actor.sub if actor else None,
        traceparent=traceparent,
        causationid=causation_id,
        correlationid=correlation_id or causation_id or event_id,
    )
