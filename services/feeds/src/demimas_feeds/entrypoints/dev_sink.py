"""A webhook receiver inside the feeds service, for development only (`make run`'s demo endpoints point at it):
`POST /dev/webhook-sink/{name}` takes a delivery and checks its Standard Webhooks signature against the active
secrets of the endpoints whose URL is this sink's URL; `GET /dev/webhook-sink/{name}` lists the last deliveries.

app.py adds the router only when `settings.environment` is development, never in test or production: it takes
requests without a token. It keeps, per sink name, the last 200 deliveries in memory: the `webhook-id`, whether the
signature verified and, for verified deliveries only, the event's id, type, time, sequence, village code and data (the
projected data, which never carries personal data). Nothing of an unverified body is kept."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import OrderedDict, deque
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, HTTPException, Request, Response
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_feeds.adapters.tables import endpoint_secrets, endpoints
from demimas_feeds.domain.secrets import SecretBox
from demimas_feeds.domain.signing import verify

__all__ = ["KEEP", "PATH", "DevSink", "sink_router"]

PATH = "/dev/webhook-sink"
KEEP = 200
"""Deliveries kept per sink name."""
MAX_SINKS = 32
MAX_BODY = 1024 * 1024
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _same_url(a: str, b: str) -> bool:
    """Scheme, host, port (default filled in) and path equal: how a stored endpoint URL names this sink."""
    pa, pb = urlsplit(a), urlsplit(b)
    try:
        ports = (pa.port or (443 if pa.scheme == "https" else 80), pb.port or (443 if pb.scheme == "https" else 80))
    except ValueError:
        return False
    return (
        pa.scheme.lower() == pb.scheme.lower()
        and (pa.hostname or "").lower() == (pb.hostname or "").lower()
        and ports[0] == ports[1]
        and (pa.path or "/") == (pb.path or "/")
        and pa.query == pb.query
    )


class DevSink:
    def __init__(self, engine: AsyncEngine, box: SecretBox) -> None:
        self.engine = engine
        self.box = box
        self.sinks: OrderedDict[str, deque[dict[str, Any]]] = OrderedDict()

    async def secrets_for(self, url: str) -> list[str]:
        """The active secrets of the live endpoints whose URL is `url`."""
        e, s = endpoints.c, endpoint_secrets.c
        query = (
            select(e.id, e.url, s.ciphertext)
            .join_from(endpoints, endpoint_secrets, s.endpoint_id == e.id)
            .where(
                e.deleted_at.is_(None),
                e.url.like("%" + urlsplit(url).path),
                or_(s.expires_at.is_(None), s.expires_at > dt.datetime.now(dt.UTC)),
            )
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        found = []
        for row in rows:
            if _same_url(row.url, url):
                try:
                    found.append(self.box.decrypt(row.id, bytes(row.ciphertext)))
                except ValueError:
                    continue  # encrypted under another key: cannot verify with it
        return found

    def _keep(self, name: str, entry: dict[str, Any]) -> None:
        kept = self.sinks.get(name)
        if kept is None:
            if len(self.sinks) >= MAX_SINKS:
                self.sinks.popitem(last=False)
            kept = self.sinks[name] = deque(maxlen=KEEP)
        self.sinks.move_to_end(name)
        kept.append(entry)

    async def receive(self, name: str, url: str, headers: dict[str, str], body: bytes) -> bool:
        msg_id = headers.get("webhook-id", "")[:100]
        secrets = await self.secrets_for(url)
        ok = bool(secrets) and verify(
            secrets,
            msg_id,
            headers.get("webhook-timestamp", ""),
            body,
            headers.get("webhook-signature", ""),
            now=time.time(),
        )
        entry: dict[str, Any] = {"webhook-id": msg_id, "verified": ok, "receivedAt": _now_iso()}
        if ok:
            try:
                event = orjson.loads(body)
            except orjson.JSONDecodeError:
                event = {}
            data = event.get("data") if isinstance(event, dict) else None
            entry |= {
                "eventId": event.get("id"),
                "type": event.get("type"),
                "time": event.get("time"),
                "sequence": event.get("sequence"),
                "villageCode": data.get("villageCode") if isinstance(data, dict) else None,
                "data": data,
            }
        self._keep(name, entry)
        return ok

    def listed(self, name: str) -> list[dict[str, Any]]:
        """Newest first."""
        return list(reversed(self.sinks.get(name, ())))


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check(name: str) -> None:
    if not _NAME.match(name):
        raise HTTPException(status_code=404, detail="a sink name is 1 to 40 of a-z, 0-9, - and _")


def sink_router(sink: DevSink) -> APIRouter:
    router = APIRouter(prefix=PATH, tags=["development"])

    @router.post("/{name}")
    async def deliver(name: str, request: Request) -> Response:
        _check(name)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise HTTPException(status_code=413, detail="too large")
        url = str(request.url.replace(query="", fragment=""))
        headers = {k.lower(): v for k, v in request.headers.items()}
        ok = await sink.receive(name, url, headers, body)
        # a receiver refuses what does not verify, so the sender's attempt log shows it (and it retries)
        return Response(status_code=204 if ok else 401)

    @router.get("/{name}")
    async def listed(name: str, request: Request) -> dict[str, Any]:
        _check(name)
        deliveries = sink.listed(name)
        return {
            "sink": str(request.url.replace(query="", fragment="")),
            "kept": KEEP,
            "verified": sum(1 for d in deliveries if d["verified"]),
            "deliveries": deliveries,
        }

    return router
