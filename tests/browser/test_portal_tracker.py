"""The joint pilot tracker as people use it, in a real headless Chromium on the portal served over the session's
real gateway: Kemenko Polkam finds the Musi Banyuasin pilot through the filters and opens it; the responsible partner
completes its milestone and the overdue list changes; KEMENDES sees only what its grants allow; an auditor opens the
completion's trace from the reference the flash message gave, and follows a decree across two services. Every page
visited passes axe-core and logs no console error or CSP violation; each page leaves a screenshot.

The pilot lies in Jirak Jaya (16.06.15), a district of Musi Banyuasin no other test names, so the district filter
finds it alone."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Callable

import pytest
from playwright.async_api import Browser, expect

from demimas_common.auth.keys import DevKeys
from demimas_common.devstack.fresh_villages import FreshVillages
from demimas_common.devstack.testing import TestStack
from demimas_portal.i18n import LABELS_QUERY, labels_from
from tests.conftest import ROOT
from tests.flows import decree as designate
from tests.flows import gql

from .portal import person, serve_portal, sign_in, until
from .support import settle, tab_order

pytestmark = pytest.mark.integration

TODAY = dt.date.today()
DISTRICT = "16.06.15"  # Jirak Jaya, Musi Banyuasin
LEAD, SECOND, THIRD = "16.06.15.2001", "16.06.15.2002", "16.06.15.2003"
TITLE = "Percontohan terpadu Jirak Jaya"
OVERDUE = "Kelas pengasuhan dimulai"  # KemenPPPA's, a week overdue
BUMDES = "Unit BUMDes terdaftar"  # Kemendes's, due next month
BERSINAR = "Penyuluhan Desa Bersinar"  # BNN's, due in two months
CREATE = """mutation C($in: PilotProjectInput!) {
  createPilotProject(input: $in) { id status milestones { id title responsibleAgency } }
}"""
fresh_village = FreshVillages(ROOT)


@pytest.fixture(scope="module")
async def portal(gateway_over_http: str, e2e_keys: DevKeys, stack: TestStack) -> AsyncIterator[str]:
    async with serve_portal(gateway_over_http, e2e_keys, stack.nats_url) as url:
        yield url


@pytest.fixture(scope="module")
async def musi_pilot(gateway_over_http: str, mint: Callable[..., str]) -> dict[str, str]:
    """Kemenko Polkam's pilot over three villages of Jirak Jaya with KemenPPPA, Kemendes and BNN; id and milestone
    ids by title."""
    pilot_input = {
        "villageCode": LEAD,
        "villageCodes": [SECOND, THIRD],
        "title": TITLE,
        "startDate": (TODAY - dt.timedelta(days=60)).isoformat(),
        "partners": [
            {"agency": "KEMENPPPA", "programme": "DRPPA", "commitment": "Kelas pengasuhan bagi keluarga PMI"},
            {"agency": "KEMENDES", "programme": "BUMDES", "commitment": "Unit usaha purna PMI"},
            {"agency": "BNN", "programme": "DESA_BERSINAR", "commitment": "Penyuluhan bahaya narkoba"},
        ],
        "milestones": [
            {"title": OVERDUE, "dueDate": (TODAY - dt.timedelta(days=7)).isoformat(), "responsibleAgency": "KEMENPPPA",
             "villageCode": SECOND},
            {"title": BUMDES, "dueDate": (TODAY + dt.timedelta(days=30)).isoformat(), "responsibleAgency": "KEMENDES"},
            {"title": BERSINAR, "dueDate": (TODAY + dt.timedelta(days=60)).isoformat(), "responsibleAgency": "BNN"},
        ],
    }  # fmt: skip
    data, _ = await gql(gateway_over_http, CREATE, {"in": pilot_input}, mint("KEMENKO_POLKAM"))
    created = data["createPilotProject"]
    return {"id": created["id"], "status": created["status"]} | {m["title"]: m["id"] for m in created["milestones"]}


async def english_labels(gateway: str, token: str) -> Callable[[str, str], str]:
    data, _ = await gql(gateway, LABELS_QUERY, {"lang": "EN"}, token)
    return labels_from(data, "en").of


async def test_kemenko_polkam_finds_the_musi_banyuasin_pilot_and_opens_it(
    browser: Browser, portal: str, musi_pilot: dict[str, str], gateway_over_http: str, mint: Callable[..., str]
) -> None:
    async with person(browser, portal) as who:
        page = who.page
        await page.goto(who.url("/"))
        await expect(page).to_have_url(who.url("/signin"))
        await who.checked("signin")
        await sign_in(who, "KEMENKO_POLKAM")
        await expect(page).to_have_url(who.url("/pilots"))
        await who.checked()

        filters = page.get_by_test_id("pilots-filters")
        await filters.get_by_test_id("filter-region").fill(DISTRICT)
        await filters.get_by_test_id("filter-agency").select_option("BNN")
        await filters.get_by_test_id("filter-programme").select_option("DRPPA")
        await filters.get_by_test_id("filter-apply").click()
        await expect(page).to_have_url(re.compile(rf"/pilots\?region={re.escape(DISTRICT)}&agency=BNN&programme=DRPPA"))
        rows = page.get_by_test_id("pilot-row")
        await expect(rows).to_have_count(1)
        row = rows.first
        await expect(row).to_have_attribute("data-pilot-id", musi_pilot["id"])
        await expect(row).to_have_attribute("data-overdue", "true")
        await expect(row.get_by_test_id("pilot-overdue")).to_be_visible()
        await expect(row).to_contain_text("Jirak")
        await expect(page.get_by_test_id("filter-region")).to_have_value(DISTRICT)  # the form keeps the filters
        await who.checked("pilots")

        await row.get_by_test_id("pilot-link").click()
        await expect(page).to_have_url(who.url(f"/pilots/{musi_pilot['id']}"))
        await expect(page.get_by_test_id("pilot-title")).to_have_text(TITLE)
        await expect(page.get_by_test_id("partner-row")).to_have_count(3)
        await expect(page.get_by_test_id("milestone-row")).to_have_count(3)
        overdue_row = page.locator(f'[data-testid="milestone-row"][data-milestone-id="{musi_pilot[OVERDUE]}"]')
        await expect(overdue_row).to_have_attribute("data-overdue", "true")
        await expect(page.get_by_test_id("milestone-complete")).to_have_count(0)  # the coordinator completes none
        villages = page.get_by_test_id("pilot-village")
        await expect(villages).to_have_count(3)
        await expect(villages.first).to_have_attribute("data-village-code", LEAD)  # the lead village first
        for code in (LEAD, SECOND, THIRD):
            village = page.locator(f'[data-testid="pilot-village"][data-village-code="{code}"]')
            await expect(village).to_contain_text("Musi Banyuasin")
            chart = village.get_by_test_id("pillar-chart-svg")
            await expect(chart).to_be_visible()
            await expect(chart).to_have_attribute("role", "img")
            await expect(chart.locator("g[data-pillar]")).to_have_count(10)  # the ten pillars
        await who.checked("pilot")
        await page.get_by_test_id("pilot-village").first.scroll_into_view_if_needed()
        await page.evaluate("() => window.scrollBy(0, -16)")
        await who.checked("pilot-villages")  # its window shows the lead village's chart
        await page.evaluate("() => window.scrollTo(0, 0)")

        # the keyboard: the skip link is the first stop and takes focus to the main content
        first = await tab_order(page, 1)
        assert first == ["a Langsung ke isi"], first
        await page.keyboard.press("Enter")
        await expect(page.locator("main#main")).to_be_focused()

        # English: the page's words and the API's labels change
        label = await english_labels(gateway_over_http, mint("KEMENKO_POLKAM"))
        await page.get_by_test_id("lang-switch").click()
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page).to_have_url(who.url(f"/pilots/{musi_pilot['id']}"))
        await expect(page.locator("#milestones-heading")).to_have_text("Milestones")
        await expect(page.get_by_test_id("pilot-status")).to_contain_text(label("PilotStatus", musi_pilot["status"]))
        await expect(page.get_by_test_id("partners-table")).to_contain_text(label("ThematicProgramme", "DRPPA"))
        await expect(page.get_by_test_id("signed-in-agency")).to_have_text(label("Agency", "KEMENKO_POLKAM"))
        assert await tab_order(page, 1) == ["a Skip to content"]
        await who.checked("pilot-en")


async def test_kemendes_sees_only_what_its_grants_allow(
    browser: Browser, portal: str, musi_pilot: dict[str, str], gateway_over_http: str, mint: Callable[..., str]
) -> None:
    # a worker registered in the lead village: its name must never reach a Kemendes page
    nik = "1606154703940427"
    worker = {"nik": nik, "fullName": "Rahmawati Sulastri", "sex": "FEMALE", "birthDate": "1994-03-07",
              "educationLevel": "SMK", "villageCode": LEAD}  # fmt: skip
    await gql(gateway_over_http, "mutation R($in: RegisterWorkerInput!) { registerWorker(input: $in) { id } }",
              {"in": worker}, mint("KP2MI"))  # fmt: skip
    async with person(browser, portal) as who:
        page = who.page
        await sign_in(who, "KEMENDES")
        await page.goto(who.url(f"/pilots/{musi_pilot['id']}"))
        await expect(page.get_by_test_id("milestone-row")).to_have_count(3)
        buttons = page.get_by_test_id("milestone-complete")
        await expect(buttons).to_have_count(1)  # only on its own milestone
        own = page.locator(f'[data-testid="milestone-row"][data-milestone-id="{musi_pilot[BUMDES]}"]')
        await expect(own.get_by_test_id("milestone-complete")).to_be_visible()
        for title in (OVERDUE, BERSINAR):
            other = page.locator(f'[data-testid="milestone-row"][data-milestone-id="{musi_pilot[title]}"]')
            await expect(other.get_by_test_id("milestone-complete")).to_have_count(0)
        await who.checked()

        await (
            page.locator(f'[data-testid="pilot-village"][data-village-code="{LEAD}"]')
            .get_by_test_id("pilot-village-link")
            .click()
        )
        await expect(page).to_have_url(who.url(f"/villages/{LEAD}"))
        await expect(page.get_by_test_id("village-code")).to_have_text(LEAD)
        designation = page.get_by_test_id("village-designation")
        refused = designation.get_by_test_id("section-refused")  # "not available to your agency (Kemendes PDT)"
        await expect(refused).to_contain_text(re.compile(r"Tidak tersedia untuk instansi Anda \(.*Kemendes"))
        await expect(page.get_by_test_id("village-proposal")).to_have_count(0)
        await expect(page.get_by_test_id("village-stats")).to_be_visible()  # stats:read: the figures
        await expect(page.get_by_test_id("village-pilot-row")).to_have_count(1)  # pilot:read: its pilots
        await expect(page.get_by_test_id(f"pillar-chart-{LEAD}")).to_be_visible()
        body = await page.locator("body").inner_text()
        assert "Rahmawati" not in body
        assert nik not in body
        await expect(page.get_by_test_id("page-problems")).to_have_count(0)
        await who.checked("village-kemendes")

        await page.goto(who.url("/audit/chain"))  # no audit:read: a 403 page naming the grant
        await expect(page.get_by_test_id("error-code")).to_have_text("FORBIDDEN")
        await expect(page.get_by_test_id("error-message")).to_contain_text("audit:read")
        await expect(page.get_by_test_id("nav-audit")).to_have_count(0)
        await settle(page)
        # Chromium logs every 4xx document as a console error: that one, and nothing else, is expected here
        assert all("status of 403" in e for e in who.problems.console_errors), who.problems.summary()
        who.problems.console_errors.clear()
        await who.checked()


async def test_the_partner_completes_its_milestone_and_an_auditor_opens_the_trace(
    browser: Browser, portal: str, musi_pilot: dict[str, str]
) -> None:
    milestone = musi_pilot[OVERDUE]
    async with person(browser, portal) as partner:
        page = partner.page
        await sign_in(partner, "KEMENPPPA")
        await page.get_by_test_id("nav-overdue").click()
        await expect(page).to_have_url(partner.url("/overdue"))
        listed = page.locator(f'[data-testid="overdue-row"][data-milestone-id="{milestone}"]')
        await expect(listed).to_have_count(1)
        await partner.checked("overdue")
        await listed.get_by_test_id("overdue-pilot-link").click()
        await expect(page).to_have_url(re.compile(rf"/pilots/{musi_pilot['id']}"))

        row = page.locator(f'[data-testid="milestone-row"][data-milestone-id="{milestone}"]')
        await expect(row.get_by_test_id("milestone-overdue")).to_be_visible()
        await row.get_by_test_id("milestone-complete").click()
        flash = page.get_by_test_id("flash")
        await expect(flash).to_contain_text("Tahapan ditandai selesai.")
        await expect(flash).to_contain_text(re.compile(r"Referensi untuk auditor: [0-9a-f]{32}"))
        reference = re.search(r"[0-9a-f]{32}", await flash.inner_text())
        assert reference
        trace = reference.group(0)
        await expect(row.get_by_test_id("milestone-done")).to_be_visible()
        await expect(row.get_by_test_id("milestone-complete")).to_have_count(0)
        await partner.checked("pilot-completed")

        await page.get_by_test_id("nav-overdue").click()
        await expect(page.get_by_test_id("overdue-table").or_(page.get_by_test_id("overdue-empty"))).to_be_visible()
        await expect(page.locator(f'[data-testid="overdue-row"][data-milestone-id="{milestone}"]')).to_have_count(0)
        await partner.checked()

    async with person(browser, portal) as auditor:
        page = auditor.page
        await sign_in(auditor, "AUDITOR")
        await expect(page).to_have_url(auditor.url("/audit"))
        await auditor.checked("audit")
        await page.get_by_test_id("audit-trace-id").fill(trace)
        await page.get_by_test_id("audit-trace-open").click()
        await expect(page).to_have_url(auditor.url(f"/audit/traces/{trace}"))
        events = page.get_by_test_id("trace-event")

        async def recorded() -> bool:
            await page.reload()
            await expect(page.get_by_test_id("trace-id")).to_contain_text(trace)
            if await events.count():
                return True
            await page.wait_for_timeout(250)  # the audit service reads the event from NATS
            return False

        await until(recorded, "the audit trail holds the completion")
        # A completion is one service's doing: pillars records it and no other service reacts to it.
        completed = page.locator('[data-testid="trace-event"][data-type="demimas.pillars.pilot.milestone_completed"]')
        await expect(completed).to_have_count(1)
        await expect(completed).to_have_attribute("data-source", "pillars")
        await expect(completed.get_by_test_id("event-agency")).not_to_be_empty()
        await expect(completed.get_by_test_id("event-time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
        await expect(events).to_have_count(1)  # the completion's trace holds that one event, of one service
        await expect(page.get_by_test_id("trace-summary")).to_contain_text("pillars")
        await auditor.checked("audit-trace-completion")


async def test_an_auditor_follows_a_decree_across_two_services(
    browser: Browser, portal: str, gateway_over_http: str, mint: Callable[..., str]
) -> None:
    """The decree (designation service) opens the village's portfolio in the pillars service: one trace with both
    services' events, the portfolio linked to the decree that caused it. The auditor finds it by village code."""
    code = fresh_village("16.06")
    trace = await designate(gateway_over_http, mint, code, "SK 41/2026")

    async with person(browser, portal) as auditor:
        page = auditor.page
        await sign_in(auditor, "AUDITOR")
        search = page.get_by_test_id("audit-search-form")
        await search.get_by_test_id("audit-village").fill(code)
        await search.get_by_test_id("audit-search-submit").click()
        await expect(page).to_have_url(re.compile(rf"/audit\?.*village={re.escape(code)}"))
        decree_found = page.locator('[data-testid="trace-event"][data-type="demimas.designation.village.designated"]')

        async def listed() -> bool:
            if await decree_found.count():
                return True
            await page.wait_for_timeout(250)
            await page.reload()
            return False

        await until(listed, "the audit search lists the decree")
        await auditor.checked("audit-search")
        await decree_found.get_by_test_id("event-trace-link").click()
        await expect(page).to_have_url(re.compile(rf"/audit/traces/{trace}#ev-"))
        portfolio = page.locator('[data-testid="trace-event"][data-type="demimas.pillars.portfolio.opened"]')

        async def both() -> bool:
            if await portfolio.count():
                return True
            await page.wait_for_timeout(250)
            await page.reload()
            return False

        await until(both, "the trace holds the portfolio the decree opened")
        decree = page.locator('[data-testid="trace-event"][data-type="demimas.designation.village.designated"]')
        await expect(decree).to_have_attribute("data-source", "designation")
        await expect(portfolio).to_have_attribute("data-source", "pillars")
        decree_anchor = await decree.get_attribute("id")
        portfolio_anchor = await portfolio.get_attribute("id")
        assert decree_anchor
        assert portfolio_anchor

        await portfolio.get_by_test_id("event-cause-link").click()  # the portfolio's cause: the decree
        await expect(page).to_have_url(re.compile(rf"#{decree_anchor}$"))
        await expect(page.locator(f"#{decree_anchor}:target")).to_be_in_viewport()
        await decree.get_by_test_id("event-consequence-link").first.click()  # and back to its consequence
        await expect(page).to_have_url(re.compile(rf"#{portfolio_anchor}$"))
        await expect(page.locator(f"#{portfolio_anchor}:target")).to_be_in_viewport()
        await auditor.checked("audit-trace")

        await page.get_by_test_id("nav-audit-chain").click()
        await expect(page.get_by_test_id("chain-status")).to_be_visible()
        await auditor.checked("audit-chain")


async def test_keyboard_reaches_main_on_every_tracker_page(browser: Browser, portal: str) -> None:
    """Who uses only the keyboard gets the skip link first everywhere, signed in or not."""
    async with person(browser, portal, locale="en-GB") as who:
        page = who.page
        await page.goto(who.url("/signin"))
        assert await tab_order(page, 1) == ["a Langsung ke isi"]  # Indonesian by default, whatever the browser's
        await sign_in(who, "KEMENDES")
        for path in ("/pilots", "/overdue"):
            await page.goto(who.url(path))
            await expect(page.locator("h1")).to_have_count(1)
            order = await tab_order(page, 2)
            assert order[0] == "a Langsung ke isi", (path, order)
            await page.keyboard.press("Shift+Tab")
            await page.keyboard.press("Enter")
            await expect(page.locator("main#main")).to_be_focused()
            await who.checked()
