"""The auditor's pages (`audit:read`, the AUDITOR agency): `/audit` (find a trace, or search events by correlation
id or village), `/audit/traces/{trace_id}` (the events of one request across services on a timeline, each linked
to its causes and consequences) and `/audit/chain` (the hash chain's verification).

The API gives an event's type as a string (`demimas.designation.village.designated`), not an enum with labels:
`event_label` makes words of it (`village designated`) and the page shows the type itself beside them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from demimas_portal.i18n import Labels

__all__ = [
    "CHAIN",
    "NEEDS",
    "SEARCH",
    "TRACE",
    "ChainView",
    "CheckpointView",
    "EventLink",
    "Search",
    "SearchView",
    "TimelineEvent",
    "TraceView",
    "anchor",
    "event_label",
    "parse_search",
    "search_variables",
    "service_of",
    "shape_chain",
    "shape_search",
    "shape_trace",
    "valid_trace_id",
]

NEEDS = "audit:read"
SEARCH_PAGE = 50

_EVENT = """
    id sequence type source subject time actorAgency traceId correlationId
    causedBy { id type source time traceId }
    consequences { id type source time traceId }
"""

TRACE = f"""
query PortalAuditTrace($traceId: String!) {{
  auditTrace(traceId: $traceId) {{ {_EVENT} }}
}}
"""

SEARCH = f"""
query PortalAuditSearch($filter: AuditEventFilter, $first: Int, $after: String) {{
  auditEvents(filter: $filter, first: $first, after: $after) {{
    edges {{ node {{ {_EVENT} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

CHAIN = """
query PortalAuditChain {
  verifyAuditChain {
    ok fromSequence toSequence checked headSequence headHash
    problems { sequence kind detail column }
    gaps { fromStreamSequence toStreamSequence }
    lastCheckpoint { sequence hash signedAt keyId signatureValid matchesChain }
  }
}
"""

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_VILLAGE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")


def valid_trace_id(value: str) -> bool:
    """A W3C trace id: 32 lowercase hex digits, not all zero."""
    return bool(_TRACE_ID.match(value)) and value != "0" * 32


def event_label(event_type: str) -> str:
    """Words for an event type: `demimas.designation.village.designated` -> `village designated`."""
    parts = event_type.split(".")
    rest = parts[2:] if len(parts) > 2 and parts[0] == "demimas" else parts
    return " ".join(rest).replace("_", " ")


def service_of(source: str) -> str:
    """The service an event's CloudEvents `source` names: `demimas/pillars` -> `pillars`."""
    return source.removeprefix("demimas/")


def anchor(event_id: str) -> str:
    """The HTML id of an event on a page (`ev-<id>`, characters an id may hold)."""
    return "ev-" + re.sub(r"[^A-Za-z0-9_-]", "-", event_id)


@dataclass(frozen=True)
class EventLink:
    """A cause or consequence of an event: on this page (`href` = `#anchor`), or in another trace (its page)."""

    id: str
    label: str
    type: str
    source: str
    time: str
    href: str | None
    on_page: bool


@dataclass(frozen=True)
class TimelineEvent:
    id: str
    anchor: str
    sequence: int
    time: str
    """ISO 8601 as the API gives it (the `datetime` attribute of `<time>`)."""
    time_text: str
    """`2026-12-07 01:02:03 UTC`: what the page shows."""
    agency: str
    type: str
    label: str
    source: str
    subject: str
    trace_id: str | None
    correlation_id: str | None
    caused_by: EventLink | None
    consequences: list[EventLink]


@dataclass(frozen=True)
class TraceView:
    trace_id: str
    events: list[TimelineEvent]
    sources: list[str]
    """The services whose events the trace holds, in order of first appearance."""


def _time_text(value: str) -> str:
    text = value.replace("T", " ")
    text = re.sub(r"\.\d+", "", text)
    return re.sub(r"(\+00:00|Z)$", " UTC", text)


def _link(node: Mapping[str, Any], on_page: set[str]) -> EventLink:
    event_id = str(node.get("id", ""))
    here = event_id in on_page
    trace = node.get("traceId")
    href = f"#{anchor(event_id)}" if here else (f"/audit/traces/{trace}#{anchor(event_id)}" if trace else None)
    return EventLink(
        id=event_id,
        label=event_label(str(node.get("type", ""))),
        type=str(node.get("type", "")),
        source=service_of(str(node.get("source", ""))),
        time=_time_text(str(node.get("time", ""))),
        href=href,
        on_page=here,
    )


def _events(nodes: Iterable[Mapping[str, Any]], labels: Labels) -> list[TimelineEvent]:
    listed = [n for n in nodes if n]
    on_page = {str(n.get("id")) for n in listed}
    events = [
        TimelineEvent(
            id=str(n.get("id", "")),
            anchor=anchor(str(n.get("id", ""))),
            sequence=int(n.get("sequence") or 0),
            time=str(n.get("time", "")),
            time_text=_time_text(str(n.get("time", ""))),
            agency=labels.of("Agency", n.get("actorAgency")) if n.get("actorAgency") else "",
            type=str(n.get("type", "")),
            label=event_label(str(n.get("type", ""))),
            source=service_of(str(n.get("source", ""))),
            subject=str(n.get("subject", "")),
            trace_id=n.get("traceId"),
            correlation_id=n.get("correlationId"),
            caused_by=_link(n["causedBy"], on_page) if n.get("causedBy") else None,
            consequences=[_link(c, on_page) for c in n.get("consequences") or [] if c],
        )
        for n in listed
    ]
    # by time, then chain order (events of one instant keep the order the trail recorded them in)
    return sorted(events, key=lambda e: (e.time, e.sequence))


def shape_trace(trace_id: str, nodes: Iterable[Mapping[str, Any]] | None, labels: Labels) -> TraceView:
    events = _events(nodes or [], labels)
    sources: list[str] = []
    for e in events:
        if e.source not in sources:
            sources.append(e.source)
    return TraceView(trace_id=trace_id, events=events, sources=sources)


@dataclass(frozen=True)
class Search:
    """What `/audit` was asked: a trace id goes to its page; a correlation id or a village code lists events."""

    trace_id: str = ""
    correlation_id: str = ""
    village_code: str = ""
    after: str = ""
    problems: tuple[str, ...] = ()

    @property
    def asked(self) -> bool:
        return bool(self.correlation_id or self.village_code)

    def query(self, *, after: str | None = None) -> str:
        pairs = {"correlation": self.correlation_id, "village": self.village_code}
        if after:
            pairs["after"] = after
        return urlencode({k: v for k, v in pairs.items() if v})


def parse_search(params: Mapping[str, str]) -> Search:
    """The GET form of `/audit`; a value the API would refuse is dropped and named in `problems`."""
    problems: list[str] = []
    trace = (params.get("trace") or "").strip().lower()
    if trace.startswith("00-") and trace.count("-") == 3:  # a whole traceparent/traceresponse header pasted
        trace = trace.split("-")[1]
    if trace and not valid_trace_id(trace):
        problems.append("trace")
        trace = ""
    correlation = (params.get("correlation") or "").strip()
    if len(correlation) > 200:
        problems.append("correlation")
        correlation = ""
    village = (params.get("village") or "").strip()
    if village and not _VILLAGE.match(village):
        problems.append("village")
        village = ""
    after = (params.get("after") or "").strip()
    if len(after) > 200:
        problems.append("after")
        after = ""
    return Search(trace, correlation, village, after, tuple(problems))


def search_variables(search: Search, page_size: int = SEARCH_PAGE) -> dict[str, Any]:
    f = {"correlationId": search.correlation_id or None, "villageCode": search.village_code or None}
    return {"filter": {k: v for k, v in f.items() if v}, "first": page_size, "after": search.after or None}


@dataclass(frozen=True)
class SearchView:
    search: Search
    events: list[TimelineEvent]
    next_url: str | None


def shape_search(data: Mapping[str, Any], labels: Labels, search: Search) -> SearchView:
    connection = data.get("auditEvents") or {}
    nodes = [e.get("node") for e in connection.get("edges") or []]
    info = connection.get("pageInfo") or {}
    next_url = (
        f"/audit?{search.query(after=info['endCursor'])}" if info.get("hasNextPage") and info.get("endCursor") else None
    )
    return SearchView(search=search, events=_events([n for n in nodes if n], labels), next_url=next_url)


@dataclass(frozen=True)
class ChainView:
    ok: bool
    checked: int
    from_sequence: int
    to_sequence: int
    head_sequence: int
    head_hash: str
    first_broken: int | None
    """The sequence of the first record that does not verify (None when the chain holds)."""
    problems: list[tuple[int, str, str, str]]
    """(sequence, kind, column, detail), in chain order."""
    gaps: list[tuple[int, int]]
    checkpoint: CheckpointView | None = None
    """The last signed checkpoint (None: none signed yet)."""


@dataclass(frozen=True)
class CheckpointView:
    sequence: int
    hash: str
    signed_at: str
    signed_at_text: str
    key_id: str
    signature: str
    """`valid`, `invalid` or `unknown` (the audit service had no key at hand)."""
    matches_chain: bool

    @property
    def good(self) -> bool:
        return self.signature == "valid" and self.matches_chain


def _checkpoint(node: Mapping[str, Any] | None) -> CheckpointView | None:
    if not node:
        return None
    valid = node.get("signatureValid")
    return CheckpointView(
        sequence=int(node.get("sequence") or 0),
        hash=str(node.get("hash") or ""),
        signed_at=str(node.get("signedAt") or ""),
        signed_at_text=_time_text(str(node.get("signedAt") or "")),
        key_id=str(node.get("keyId") or ""),
        signature="unknown" if valid is None else ("valid" if valid else "invalid"),
        matches_chain=bool(node.get("matchesChain")),
    )


def shape_chain(data: Mapping[str, Any]) -> ChainView | None:
    node = data.get("verifyAuditChain")
    if not node:
        return None
    problems = sorted(
        (
            (int(p.get("sequence") or 0), str(p.get("kind", "")), str(p.get("column") or ""), str(p.get("detail", "")))
            for p in node.get("problems") or []
        ),
        key=lambda p: p[0],
    )
    return ChainView(
        ok=bool(node.get("ok")),
        checked=int(node.get("checked") or 0),
        from_sequence=int(node.get("fromSequence") or 0),
        to_sequence=int(node.get("toSequence") or 0),
        head_sequence=int(node.get("headSequence") or 0),
        head_hash=str(node.get("headHash") or ""),
        first_broken=problems[0][0] if problems else None,
        problems=problems,
        gaps=[(int(g["fromStreamSequence"]), int(g["toStreamSequence"])) for g in node.get("gaps") or []],
        checkpoint=_checkpoint(node.get("lastCheckpoint")),
    )
