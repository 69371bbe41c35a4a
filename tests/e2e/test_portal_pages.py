"""The village page and the auditor's pages over the real gateway (and through it the real subgraphs on the test
devstack): a village as KP2MI and as KEMENDES (what KEMENDES may not read is absent, the page still answers 200),
a regional token asking for a village outside its region (404, the region rule), an auditor opening the trace of a
designation decree the test makes (events of the designation and the pillars services, linked cause to
consequence), the audit search and the chain's verification page, and the nav each agency gets."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from demimas_common.devstack.fresh_villages import FreshVillages
from tests.conftest import ask
from tests.flows import decree as designate
from tests.flows import gql

from . import test_portal
from .test_portal import ROOT, sign_in, tagged

pytestmark = pytest.mark.integration

browser_for = test_portal.browser_for  # the fixture: a new browser on a portal app over the real gateway
fresh_village = FreshVillages(ROOT)
TODAY = dt.date.today()


_serial = itertools.count(9001)
"""NIK serials of this file's workers: a random one matched, one run in a few ten thousand, the NIK of a worker
bench/portal.py seeds (serials from 1, the same birth date) in a fresh village of the same district (the
benchmark's test), and the registration was refused as a duplicate."""


async def register_abroad(gateway: str, token: str, village: str, sex: str) -> None:
    # the NIK: the village's district, the birth date 07-03-94 (+40 on the day for women), this file's next serial
    day = "47" if sex == "FEMALE" else "07"
    nik = f"{village[:2]}{village[3:5]}{village[6:8]}{day}0394{next(_serial):04d}"
    person = {"nik": nik, "fullName": "Siti Aminah", "sex": sex, "birthDate": "1994-03-07",
              "educationLevel": "SMK", "villageCode": village}  # fmt: skip
    created, _ = await gql(gateway, "mutation R($in: RegisterWorkerInput!) { registerWorker(input: $in) { id } }",
                           {"in": person}, token)  # fmt: skip
    departure = {"destinationCountry": "MY", "sector": "FORMAL", "occupation": "operator", "scheme": "P_TO_P",
                 "procedural": True, "departureDate": "2026-01-05"}  # fmt: skip
    depart = "mutation D($id: ID!, $in: DepartureInput!) { recordDeparture(workerId: $id, input: $in) { id } }"
    await gql(gateway, depart, {"id": created["registerWorker"]["id"], "in": departure}, token)


async def poll(check: Callable[[], Any], what: str, tries: int = 300) -> Any:
    for _ in range(tries):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture
async def village(gateway_over_http: str, mint: Callable[..., str]) -> str:
    """A fresh village of Musi Banyuasin with two workers abroad, a DRPPA status set by KemenPPPA and a pilot."""
    code = fresh_village("16.06")
    kp2mi = mint("KP2MI")
    for sex in ("FEMALE", "MALE"):
        await register_abroad(gateway_over_http, kp2mi, code, sex)
    status = {"villageCode": code, "programme": "DRPPA", "since": (TODAY - dt.timedelta(days=30)).isoformat(),
              "reference": "SK Bupati 463/77/2026"}  # fmt: skip
    await gql(gateway_over_http, "mutation S($in: ThematicStatusInput!) { setThematicStatus(input: $in) { id } }",
              {"in": status}, mint("KEMENPPPA"))  # fmt: skip
    pilot = {"villageCode": code, "title": f"Pilot desa {code}", "startDate": TODAY.isoformat(),
             "partners": [{"agency": "KEMENDES", "programme": "BUMDES", "commitment": "BUMDes unit"}],
             "milestones": [{"title": "Unit registered", "dueDate": (TODAY + dt.timedelta(days=30)).isoformat(),
                             "responsibleAgency": "KEMENDES"}]}  # fmt: skip
    await gql(gateway_over_http, "mutation C($in: PilotProjectInput!) { createPilotProject(input: $in) { id } }",
              {"in": pilot}, mint("KEMENKO_POLKAM"))  # fmt: skip
    return code


def text_of(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{re.escape(testid)}"[^>]*>([^<]*)<', html)
    assert match, testid
    return match.group(1).strip()


async def test_the_village_page_for_kp2mi_and_for_kemendes(
    browser_for: Callable[..., httpx.AsyncClient], village: str, gateway_over_http: str, mint: Callable[..., str]
) -> None:
    kp2mi = browser_for()
    await sign_in(kp2mi, "KP2MI")

    async def counted() -> str | None:
        page = await kp2mi.get(f"/villages/{village}")
        assert page.status_code == 200, page.text[:2000]
        return page.text if 'data-testid="stats-total">2<' in page.text else None

    html = await poll(counted, "the registry's counters include the two workers")
    assert html.count("<h1") == 1
    assert '<html lang="id">' in html
    assert text_of(html, "village-code") == village
    assert "Musi Banyuasin" in text_of(html, "village-place")
    assert tagged(html, "designation-none")  # not designated
    assert tagged(html, "village-proposal")  # KP2MI may read proposals
    assert text_of(html, "stats-abroad") == "2"
    assert tagged(html, "breakdown-table-bySex")
    assert tagged(html, "breakdown-chart-bySex")  # two values: a chart, with the table as its alternative
    assert not tagged(html, "stats-min-cell")  # KP2MI reads the registry: every value, no note
    assert re.search(r'<svg[^>]*role="img"[^>]*data-testid="breakdown-chart-bySex"[^>]*>\s*<title', html)
    [row] = tagged(html, "thematic-row")
    assert 'data-status="ACTIVE"' in row
    assert "SK Bupati 463/77/2026" in html
    assert tagged(html, f"pillar-chart-{village}")
    assert tagged(html, "village-pilot-row")
    assert f"Pilot desa {village}" in html
    assert not tagged(html, "village-cases")  # no case in this village: no section
    assert not tagged(html, "section-refused")
    assert not tagged(html, "page-problems")
    # the occupation breakdown's words come from the API in the page's language (no occupationCode: unclassified),
    # the destinations' from CLDR
    assert "Belum diklasifikasikan (tanpa kode KBJI)" in html
    assert '<tr data-key="MY"><th scope="row">Malaysia</th>' in html
    english = (await kp2mi.get(f"/villages/{village}?lang=en")).text
    assert "Unclassified (no KBJI code)" in english
    assert "Belum diklasifikasikan" not in english
    await kp2mi.get(f"/villages/{village}?lang=id")

    complaint = {"villageCode": village, "kind": "ABUSE_ABROAD", "phase": "ABROAD", "channel": "VILLAGE_TASK_FORCE",
                 "destinationCountry": "MY", "description": "Wages unpaid for five months, reported at the village.",
                 "reporter": {"anonymous": True}, "people": []}  # fmt: skip
    await gql(gateway_over_http, "mutation O($in: OpenCaseInput!) { openCase(input: $in) { id } }",
              {"in": complaint}, mint("KP2MI"))  # fmt: skip
    html = (await kp2mi.get(f"/villages/{village}")).text
    assert tagged(html, "village-cases")  # now it has one
    assert text_of(html, "cases-open") == "1"
    assert tagged(html, "cases-by-kind")

    kemendes = browser_for()
    await sign_in(kemendes, "KEMENDES")
    page = await kemendes.get(f"/villages/{village}", params={"lang": "en"})
    assert page.status_code == 200
    html = page.text
    assert '<html lang="en">' in html
    assert not tagged(html, "village-proposal")  # no designation:propose/verify/decide: not shown ...
    [note] = tagged(html, "section-refused")  # ... but said so, in the designation section
    assert "Not available to your agency" in html
    assert html.index(note) > html.index('data-testid="village-designation"')
    assert html.index(note) < html.index('data-testid="village-stats"')
    assert text_of(html, "stats-total") == "2"  # stats:read: the figures it may see
    # one woman and one man abroad: each sex is a value of one, not shown to an agency that does not read the registry
    assert "held by at least 3 people" in text_of(html, "stats-min-cell")
    assert not tagged(html, "breakdown-chart-bySex")
    assert text_of(html, "breakdown-empty-bySex") == "No value can be shown."  # not "None": two people hold them
    assert text_of(html, "cases-open") == "1"  # case figures too (stats:read), never a case itself (case:read)
    assert tagged(html, "thematic-row")
    assert tagged(html, "village-pilot-row")
    assert not tagged(html, "page-problems")
    assert 'data-testid="nav-pilots"' in html
    assert 'data-testid="nav-audit"' not in html

    auditor = browser_for()
    await sign_in(auditor, "AUDITOR")
    page = await auditor.get(f"/villages/{village}")
    assert page.status_code == 200
    assert text_of(page.text, "stats-total") == "2"  # stats:read
    # no pillars:read, pilot:read or designation:*: the thematic statuses, pillars, pilots and proposals
    assert len(tagged(page.text, "section-refused")) == 4
    assert not tagged(page.text, "thematic-row")


async def test_a_regional_office_sees_its_region_and_nothing_outside_it(
    browser_for: Callable[..., httpx.AsyncClient],
) -> None:
    inside, outside = fresh_village("16.06"), fresh_village("33")
    browser = browser_for()
    await sign_in(browser, "BP3MI", region="16")
    assert (await browser.get(f"/villages/{inside}")).status_code == 200
    refused = await browser.get(f"/villages/{outside}")
    assert refused.status_code == 404
    assert 'data-testid="error-code">HTTP_404' in refused.text
    assert (await browser.get("/villages/not-a-code")).status_code == 404


async def test_an_auditor_follows_a_decree_across_services(
    browser_for: Callable[..., httpx.AsyncClient], gateway_over_http: str, mint: Callable[..., str]
) -> None:
    """The decree (designation service) opens the village's portfolio in the pillars service: one trace, two
    services, the portfolio linked to the decree that caused it."""
    code = fresh_village("16.06")
    trace = await designate(gateway_over_http, mint, code, "SK 77/2026")

    browser = browser_for()
    await sign_in(browser, "AUDITOR")  # an auditor starts at the audit search
    search = await browser.get("/audit")
    assert search.status_code == 200
    assert tagged(search.text, "audit-trace-form")
    assert 'data-testid="nav-audit"' in search.text
    assert 'data-testid="nav-pilots"' not in search.text
    opened = await browser.get("/audit", params={"trace": f"00-{trace}-00f067aa0ba902b7-01"})  # a header pasted
    assert opened.status_code == 303
    assert opened.headers["location"] == f"/audit/traces/{trace}"

    async def both_services() -> str | None:
        page = await browser.get(f"/audit/traces/{trace}")
        assert page.status_code == 200, page.text[:2000]
        sources = set(re.findall(r'data-testid="trace-event"[^>]*data-source="([^"]+)"', page.text))
        return page.text if {"designation", "pillars"} <= sources else None

    html = await poll(both_services, "the trace holds the decree and the portfolio it opened")
    assert html.count("<h1") == 1
    assert '<ol class="timeline" data-testid="trace-timeline">' in html
    events = tagged(html, "trace-event")
    decree = next(e for e in events if 'data-type="demimas.designation.village.designated"' in e)
    portfolio = next(e for e in events if 'data-type="demimas.pillars.portfolio.opened"' in e)
    decree_id = re.search(r'id="(ev-[^"]+)"', decree)
    portfolio_id = re.search(r'id="(ev-[^"]+)"', portfolio)
    assert decree_id
    assert portfolio_id
    assert html.index(decree) < html.index(portfolio)  # in time order
    assert f'href="#{decree_id.group(1)}" data-testid="event-cause-link"' in html  # the portfolio's cause
    assert f'href="#{portfolio_id.group(1)}" data-testid="event-consequence-link"' in html  # the decree's consequence
    assert re.search(r'<time datetime="[^"]+" data-testid="event-time">', html)
    assert "Kementerian" in html or "KP2MI" in html  # the decree's agency, by its label

    by_village = await browser.get("/audit", params={"village": code})
    assert by_village.status_code == 200
    assert 'data-type="demimas.designation.village.designated"' in by_village.text
    assert f'href="/audit/traces/{trace}#' in by_village.text

    kp2mi_browser = browser_for()
    await sign_in(kp2mi_browser, "KP2MI")
    denied = await kp2mi_browser.get(f"/audit/traces/{trace}")
    assert denied.status_code == 403
    assert 'data-testid="error-code">FORBIDDEN' in denied.text
    assert "audit:read" in denied.text


async def test_the_chain_page(browser_for: Callable[..., httpx.AsyncClient], mint: Callable[..., str],
                              gateway_over_http: str) -> None:  # fmt: skip
    query = "{ verifyAuditChain { ok checked headSequence lastCheckpoint { sequence signatureValid matchesChain } } }"
    async with httpx.AsyncClient(base_url=gateway_over_http.removesuffix("/graphql")) as http:
        _, answer = await ask(http, query, token=mint("AUDITOR"))
    truth = answer["data"]["verifyAuditChain"]
    browser = browser_for()
    await sign_in(browser, "AUDITOR")
    page = await browser.get("/audit/chain", params={"lang": "en"})
    assert page.status_code == 200
    [status] = tagged(page.text, "chain-status")
    assert f'data-ok="{"true" if truth["ok"] else "false"}"' in status
    if truth["ok"]:
        assert "The chain holds" in page.text
    shown = re.search(r"position (\d+), hash ([0-9a-f]+)", text_of(page.text, "chain-head"))
    assert shown
    assert int(shown.group(1)) >= truth["headSequence"]  # the trail may have grown since
    assert len(shown.group(2)) == 64
    assert tagged(page.text, "chain-checkpoints")
    signed = truth["lastCheckpoint"]
    if signed is None:  # the audit service signs once a minute (when the head moved): maybe none yet
        assert tagged(page.text, "checkpoint-none") or tagged(page.text, "checkpoint-sequence")
    elif int(text_of(page.text, "checkpoint-sequence")) == signed["sequence"]:  # (else one more was signed since)
        # a checkpoint of an earlier test session was signed with that session's key: the page says so, as the API
        word = {True: "valid", False: "invalid", None: "unknown"}[signed["signatureValid"]]
        [signature] = tagged(page.text, "checkpoint-signature")
        assert f'data-signature="{word}"' in signature
        [matches] = tagged(page.text, "checkpoint-matches")
        assert f'data-matches="{"true" if signed["matchesChain"] else "false"}"' in matches
    assert 'data-testid="nav-audit-chain" aria-current="page"' not in page.text  # aria-current comes first
    assert re.search(r'aria-current="page" data-testid="nav-audit-chain"', page.text)
