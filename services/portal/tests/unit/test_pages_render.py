"""The village and audit templates rendered from view models alone (no gateway): the paths the integration tests do
not reach (an empty village, every section refused, a broken chain), each page with one h1, its sections and its
notes."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import jinja2

from demimas_portal.i18n import Labels, Translator
from demimas_portal.session import Session
from demimas_portal.views import audit, village

TEMPLATES = Path(__file__).parents[2] / "src" / "demimas_portal" / "templates"
ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
LABELS = Labels("en", {})


def render(template: str, grants: frozenset[str], **context: Any) -> str:
    session = Session(csrf_secret="s" * 20, lang="en", token="t", agency="KEMENDES", expires_at=9e12)
    return ENV.get_template(template).render(
        t=Translator("en"), lang="en", labels=LABELS, csrf_field="csrf_token", csrf_token="x", session=session,
        signed_in=True, flash=None, flash_kind="info", path="/villages/16.06.13.2001", here="/", development=True,
        today=dt.date(2026, 12, 7), grants=grants, problems=[], **context,
    )  # fmt: skip


def ids_in(html: str) -> list[str]:
    return re.findall(r'data-testid="([^"]+)"', html)


def test_an_empty_village_renders_each_section_with_its_none() -> None:
    node = {"code": "16.06.13.2099", "name": "Sepi", "kind": "DESA", "regency": {"name": "Muba"}}
    html = render("village.html", frozenset({"pilot:read"}), view=village.shape(node, LABELS, thematic=[]))
    assert html.count("<h1") == 1
    ids = ids_in(html)
    for expected in ("designation-none", "village-proposal", "thematic-none", "village-pilots-none"):
        assert expected in ids, expected
    assert "No migrant worker figures yet." in html
    assert "village-cases" not in ids
    assert "section-refused" not in ids
    assert ("nav-pilots" in ids, "nav-audit" in ids) == (True, False)


def test_every_section_refused_says_so_once_each() -> None:
    refused = frozenset({*village.SECTIONS, "thematicStatuses"})
    node = {"code": "16.06.13.2099", "name": "Sepi", "kind": "DESA"}
    html = render("village.html", frozenset(), view=village.shape(node, LABELS, thematic=None, refused=refused))
    assert ids_in(html).count("section-refused") == len(refused)
    assert "Not available to your agency (KEMENDES)." in html


def test_a_broken_chain_and_an_invalid_checkpoint() -> None:
    node = {"ok": False, "fromSequence": 1, "toSequence": 9, "checked": 9, "headSequence": 9, "headHash": "ab" * 32,
            "problems": [{"sequence": 4, "kind": "MODIFIED", "column": "hash", "detail": "rewritten"}], "gaps": [],
            "lastCheckpoint": {"sequence": 8, "hash": "cd" * 32, "signedAt": "2026-12-07T01:00:00+00:00",
                               "keyId": "k", "signatureValid": False, "matchesChain": False}}  # fmt: skip
    html = render("audit_chain.html", frozenset({"audit:read"}), view=audit.shape_chain({"verifyAuditChain": node}))
    assert html.count("<h1") == 1
    assert 'data-ok="false"' in html
    assert "the first record that does not verify is at position 4" in html
    assert 'data-signature="invalid"' in html
    assert 'data-matches="false"' in html
    ids = ids_in(html)
    assert ("nav-audit" in ids, "nav-audit-chain" in ids, "nav-pilots" in ids) == (True, True, False)


def test_an_empty_trace_and_an_empty_search() -> None:
    html = render("audit_trace.html", frozenset({"audit:read"}), view=audit.shape_trace("a" * 32, [], LABELS))
    assert "trace-empty" in ids_in(html)
    search = audit.parse_search({"village": "16.06.13.2001", "trace": "bad"})
    html = render("audit.html", frozenset({"audit:read"}), search=search,
                  view=audit.shape_search({"auditEvents": {"edges": []}}, LABELS, search))  # fmt: skip
    assert html.count("<h1") == 1
    assert {"audit-empty", "audit-search-problems"} <= set(ids_in(html))
    assert re.search(r'<label for="audit-trace">', html)
    assert re.search(r'<input id="audit-trace"', html)
