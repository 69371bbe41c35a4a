"""The portal's defences as a browser meets them: a form posted from another origin to the complete route is refused
(CSRF) and, from another site, does not even carry the session (SameSite=Lax); the session cookie is out of the
page's scripts' reach; after signing out neither Back nor Reload shows data; the Content-Security-Policy blocks an
injected inline script, while the portal's own pages cause no violation."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Callable

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.async_api import Browser, expect

from demimas_common.auth.keys import DevKeys
from demimas_common.devstack.fresh_villages import FreshVillages
from demimas_common.devstack.testing import TestStack
from demimas_portal.session import COOKIE_NAME
from tests.conftest import ROOT
from tests.flows import gql

from .portal import Person, person, serve_portal, sign_in
from .support import served, settle

pytestmark = pytest.mark.integration

TODAY = dt.date.today()
fresh_village = FreshVillages(ROOT)
MILESTONE = "Unit BUMDes terdaftar"


@pytest.fixture(scope="module")
async def portal(gateway_over_http: str, e2e_keys: DevKeys, stack: TestStack) -> AsyncIterator[str]:
    async with serve_portal(gateway_over_http, e2e_keys, stack.nats_url) as url:
        yield url


@pytest.fixture
async def pilot(gateway_over_http: str, mint: Callable[..., str]) -> tuple[str, str]:
    """A pilot in a fresh village of Musi Banyuasin with one open milestone of Kemendes: (pilot id, milestone id)."""
    pilot_input = {
        "villageCode": fresh_village("16.06"),
        "title": "Percontohan uji keamanan",
        "startDate": TODAY.isoformat(),
        "partners": [{"agency": "KEMENDES", "programme": "BUMDES", "commitment": "Unit usaha purna PMI"}],
        "milestones": [{"title": MILESTONE, "dueDate": (TODAY + dt.timedelta(days=30)).isoformat(),
                        "responsibleAgency": "KEMENDES"}],
    }  # fmt: skip
    create = "mutation C($in: PilotProjectInput!) { createPilotProject(input: $in) { id milestones { id } } }"
    data, _ = await gql(gateway_over_http, create, {"in": pilot_input}, mint("KEMENKO_POLKAM"))
    created = data["createPilotProject"]
    return created["id"], created["milestones"][0]["id"]


def attacker_app(target: str) -> FastAPI:
    """Another origin's page that posts a form to `target` as soon as it loads (its script is its own file: the
    attacker's page has no CSP, but the form needs no script to be sent by a click either)."""
    app = FastAPI()

    @app.get("/")
    async def lure() -> HTMLResponse:
        return HTMLResponse(
            '<!doctype html><html lang="en"><head><title>Win a prize</title></head><body>'
            f'<form id="f" method="post" action="{target}"><input type="hidden" name="note" value="x">'
            '<button type="submit">Claim</button></form>'
            "<script>document.getElementById('f').submit();</script></body></html>"
        )

    return app


async def milestone_is_open(who: Person, pilot_id: str, milestone_id: str) -> None:
    await who.page.goto(who.url(f"/pilots/{pilot_id}"))
    row = who.page.locator(f'[data-testid="milestone-row"][data-milestone-id="{milestone_id}"]')
    await expect(row.get_by_test_id("milestone-complete")).to_be_visible()
    await expect(row.get_by_test_id("milestone-done")).to_have_count(0)


async def test_a_form_posted_from_another_origin_is_refused(
    browser: Browser, portal: str, pilot: tuple[str, str]
) -> None:
    pilot_id, milestone_id = pilot
    target = f"{portal}/pilots/{pilot_id}/milestones/{milestone_id}/complete"
    async with person(browser, portal) as victim:
        page = victim.page
        await sign_in(victim, "KEMENDES")
        await milestone_is_open(victim, pilot_id, milestone_id)

        # Same site, another origin (another port of 127.0.0.1): the Lax cookie goes along, the CSRF token cannot.
        async with served(attacker_app(target)) as evil:
            assert evil != portal
            async with page.expect_response(lambda r: r.url == target) as posted:
                await page.goto(evil)
            response = await posted.value
            assert response.status == 403
            assert response.request.method == "POST"
            await expect(page).to_have_url(target)
            await expect(page.get_by_test_id("error-code")).to_have_text("CSRF_FAILED")

            # Another site (localhost is not 127.0.0.1): the session cookie stays home, so nobody is signed in.
            cross_site = evil.replace("127.0.0.1", "localhost")
            async with page.expect_response(lambda r: r.url == target) as posted:
                await page.goto(cross_site)
            response = await posted.value
            assert response.status == 303
            assert response.headers["location"] == "/signin"
        await settle(page)
        assert all("status of 403" in e for e in victim.problems.console_errors), victim.problems.summary()
        victim.problems.clear()

        await milestone_is_open(victim, pilot_id, milestone_id)  # still signed in, the milestone still open
        await victim.checked()


async def test_the_session_cookie_is_http_only_and_same_site_lax(browser: Browser, portal: str) -> None:
    async with person(browser, portal) as who:
        await sign_in(who, "KEMENDES")
        [cookie] = [c for c in await who.context.cookies(who.base) if c["name"] == COOKIE_NAME]
        assert cookie["httpOnly"] is True
        assert cookie["sameSite"] == "Lax"
        assert cookie["path"] == "/"
        assert cookie["expires"] == -1  # a browser-session cookie
        assert cookie["secure"] is False  # test environment over http; Secure outside development and test
        assert COOKIE_NAME not in await who.page.evaluate("() => document.cookie")  # no script can read it


async def test_after_signing_out_back_and_reload_show_no_data(
    browser: Browser, portal: str, pilot: tuple[str, str]
) -> None:
    pilot_id, _ = pilot
    async with person(browser, portal) as who:
        page = who.page
        await sign_in(who, "KEMENDES")
        opened = await page.goto(who.url(f"/pilots/{pilot_id}"))
        assert opened is not None
        assert opened.headers["cache-control"] == "no-store"
        await expect(page.get_by_test_id("pilot-title")).to_have_text("Percontohan uji keamanan")

        await page.get_by_test_id("signout").click()
        await expect(page).to_have_url(who.url("/signin"))
        await expect(page.get_by_test_id("flash")).to_be_visible()
        await expect(page.get_by_test_id("signed-in-agency")).to_have_count(0)

        await page.go_back()  # no-store: the browser asks again and the portal sends it to sign in
        await expect(page).to_have_url(who.url("/signin"))
        await expect(page.get_by_test_id("pilot-title")).to_have_count(0)
        await expect(page.get_by_test_id("signin-form")).to_be_visible()
        await page.reload()
        await expect(page.get_by_test_id("pilot-title")).to_have_count(0)
        assert "Percontohan uji keamanan" not in await page.content()

        await page.goto(who.url(f"/pilots/{pilot_id}"))  # the address typed again
        await expect(page).to_have_url(who.url("/signin"))
        await expect(page.get_by_test_id("pilot-title")).to_have_count(0)
        await who.checked()


async def test_the_csp_blocks_an_injected_inline_script(browser: Browser, portal: str) -> None:
    async with person(browser, portal) as who:
        page = who.page
        response = await page.goto(who.url("/signin"))
        assert response is not None
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "default-src 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        await sign_in(who, "KEMENKO_POLKAM")
        await who.checked()  # the portal's own pages and script: no violation, no console error

        # what an injection would add to the page: an inline script (and an inline handler)
        await page.evaluate(
            """() => {
                 const s = document.createElement('script');
                 s.textContent = 'window.__injected = true;';
                 document.body.appendChild(s);
                 const img = document.createElement('img');
                 img.setAttribute('src', 'data:,');
                 img.setAttribute('onerror', 'window.__handler = true');
                 img.setAttribute('alt', '');
                 document.body.appendChild(img);
               }"""
        )
        await settle(page)
        assert await page.evaluate("() => window.__injected === undefined && window.__handler === undefined")
        blocked = [v for v in who.problems.csp_violations if v.directive.startswith("script-src")]
        assert len(blocked) >= 2, who.problems.summary()  # the script and the handler, each reported
        assert all(v.page.startswith(portal) for v in blocked)
        assert re.search(r"script-src", str(blocked[0]))
