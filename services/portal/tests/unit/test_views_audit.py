"""The auditor's pages: a trace's timeline (two services, causes and consequences, anchors), the search form, the
chain's verification."""

from __future__ import annotations

from typing import Any

from demimas_portal.i18n import Labels
from demimas_portal.views import audit

LABELS = Labels("en", {("Agency", "KP2MI"): "KP2MI (Ministry)"})
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def event(id_: str, seq: int, type_: str, source: str, time: str, **over: Any) -> dict[str, Any]:
    node = {"id": id_, "sequence": seq, "type": type_, "source": f"demimas/{source}", "subject": f"s-{id_}",
            "time": time, "actorAgency": None, "traceId": TRACE, "correlationId": "flow-1", "causedBy": None,
            "consequences": []}  # fmt: skip
    node.update(over)
    return node


def ref(id_: str, type_: str, source: str, trace: str | None = TRACE) -> dict[str, Any]:
    return {
        "id": id_,
        "type": type_,
        "source": f"demimas/{source}",
        "time": "2026-12-07T01:00:00+00:00",
        "traceId": trace,
    }


def test_a_trace_across_two_services_with_causes_and_consequences() -> None:
    designated = event(
        "e1", 10, "demimas.designation.village.designated", "designation", "2026-12-07T01:00:00.123456+00:00",
        actorAgency="KP2MI",
        consequences=[ref("e2", "demimas.pillars.portfolio.opened", "pillars"),
                      ref("e9", "demimas.feeds.thing.done", "feeds", trace="0af7651916cd43dd8448eb211c80319c")],
    )  # fmt: skip
    opened = event(
        "e2", 12, "demimas.pillars.portfolio.opened", "pillars", "2026-12-07T01:00:01+00:00",
        causedBy=ref("e1", "demimas.designation.village.designated", "designation"),
    )  # fmt: skip
    earlier = event("e0", 11, "demimas.designation.proposal.approved", "designation", "2026-12-07T01:00:00+00:00")
    view = audit.shape_trace(TRACE, [opened, designated, earlier], LABELS)
    assert [e.id for e in view.events] == ["e0", "e1", "e2"]  # by time, whatever order the answer had
    assert view.sources == ["designation", "pillars"]
    first, decree, portfolio = view.events
    assert (decree.agency, portfolio.agency) == ("KP2MI (Ministry)", "")  # a consumer acts as no agency
    assert decree.label == "village designated"
    assert decree.time_text == "2026-12-07 01:00:00 UTC"
    assert decree.anchor == "ev-e1"
    assert portfolio.caused_by is not None
    assert (portfolio.caused_by.href, portfolio.caused_by.on_page) == ("#ev-e1", True)
    [here, elsewhere] = decree.consequences
    assert (here.href, here.label, here.source) == ("#ev-e2", "portfolio opened", "pillars")
    assert elsewhere.href == "/audit/traces/0af7651916cd43dd8448eb211c80319c#ev-e9"  # another trace's page
    assert not elsewhere.on_page
    assert (first.caused_by, first.consequences) == (None, [])


def test_an_empty_trace() -> None:
    view = audit.shape_trace(TRACE, None, LABELS)
    assert (view.events, view.sources) == ([], [])


def test_event_labels_and_anchors() -> None:
    assert audit.event_label("demimas.registry.worker.registered") == "worker registered"
    assert audit.event_label("demimas.pillars.pilot.milestone_completed") == "pilot milestone completed"
    assert audit.event_label("other.thing") == "other thing"
    assert audit.anchor("a b/c") == "ev-a-b-c"
    assert audit.service_of("demimas/pillars") == "pillars"


def test_the_search_form() -> None:
    assert audit.parse_search({"trace": f" {TRACE.upper()} "}).trace_id == TRACE
    assert audit.parse_search({"trace": f"00-{TRACE}-00f067aa0ba902b7-01"}).trace_id == TRACE  # a header pasted
    bad = audit.parse_search({"trace": "nope", "village": "16.06", "correlation": "c" * 300})
    assert (bad.trace_id, bad.village_code, bad.correlation_id) == ("", "", "")
    assert bad.problems == ("trace", "correlation", "village")
    assert not bad.asked
    search = audit.parse_search({"village": "16.06.13.2001", "correlation": "flow-1"})
    assert search.asked
    assert audit.search_variables(search) == {
        "filter": {"correlationId": "flow-1", "villageCode": "16.06.13.2001"},
        "first": audit.SEARCH_PAGE,
        "after": None,
    }
    assert not audit.valid_trace_id("0" * 32)


def test_search_results_page_forwards() -> None:
    search = audit.parse_search({"village": "16.06.13.2001"})
    data = {
        "auditEvents": {
            "edges": [
                {"node": event("e1", 1, "demimas.registry.worker.registered", "registry", "2026-01-01T00:00:00Z")}
            ],
            "pageInfo": {"hasNextPage": True, "endCursor": "c1"},
        }
    }
    view = audit.shape_search(data, LABELS, search)
    assert [e.id for e in view.events] == ["e1"]
    assert view.events[0].time_text == "2026-01-01 00:00:00 UTC"
    assert view.next_url == "/audit?village=16.06.13.2001&after=c1"
    assert audit.shape_search({"auditEvents": None}, LABELS, search).events == []


def test_the_chain_verified_and_broken() -> None:
    good = {"ok": True, "fromSequence": 1, "toSequence": 40, "checked": 40, "headSequence": 40, "headHash": "ab",
            "problems": [], "gaps": []}  # fmt: skip
    view = audit.shape_chain({"verifyAuditChain": good})
    assert view is not None
    assert (view.ok, view.first_broken, view.checked, view.head_sequence) == (True, None, 40, 40)
    broken = {**good, "ok": False, "problems": [
        {"sequence": 17, "kind": "MODIFIED", "column": "actor_agency", "detail": "BNN vs KP2MI"},
        {"sequence": 9, "kind": "REMOVED", "column": "seq", "detail": "missing"},
    ], "gaps": [{"fromStreamSequence": 5, "toStreamSequence": 6}]}  # fmt: skip
    view = audit.shape_chain({"verifyAuditChain": broken})
    assert view is not None
    assert (view.ok, view.first_broken) == (False, 9)
    assert view.problems[0] == (9, "REMOVED", "seq", "missing")
    assert view.gaps == [(5, 6)]
    assert view.checkpoint is None
    assert audit.shape_chain({"verifyAuditChain": None}) is None


def test_the_last_checkpoint_and_its_signature() -> None:
    base = {"ok": True, "fromSequence": 1, "toSequence": 40, "checked": 40, "headSequence": 40, "headHash": "ab",
            "problems": [], "gaps": []}  # fmt: skip
    signed = {"sequence": 38, "hash": "cd", "signedAt": "2026-12-07T01:00:00+00:00", "keyId": "k1",
              "signatureValid": True, "matchesChain": True}  # fmt: skip
    view = audit.shape_chain({"verifyAuditChain": {**base, "lastCheckpoint": signed}})
    assert view is not None
    cp = view.checkpoint
    assert cp is not None
    assert (cp.sequence, cp.signature, cp.matches_chain, cp.good) == (38, "valid", True, True)
    assert cp.signed_at_text == "2026-12-07 01:00:00 UTC"
    for valid, word in ((False, "invalid"), (None, "unknown")):
        other = audit.shape_chain({"verifyAuditChain": {**base, "lastCheckpoint": {**signed, "signatureValid": valid}}})
        assert other is not None
        assert other.checkpoint is not None
        assert (other.checkpoint.signature, other.checkpoint.good) == (word, False)
    rewritten = audit.shape_chain({"verifyAuditChain": {**base, "lastCheckpoint": {**signed, "matchesChain": False}}})
    assert rewritten is not None
    assert rewritten.checkpoint is not None
    assert rewritten.checkpoint.good is False
