"""The portal's pages over the real gateway (and through it the real subgraphs on the test devstack): sign in as
Kemenko Polkam, list and open a pilot, complete a milestone as its responsible agency (POST/redirect/GET, the
overdue list changes), CSRF refusals, an expired session and a token the gateway no longer accepts, a 403 page
naming the grant an agency lacks."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from demimas_common.auth.keys import DevKeys
from demimas_common.devstack.fresh_villages import FreshVillages
from demimas_common.devstack.testing import TestStack
from demimas_portal.app import create_app
from demimas_portal.session import COOKIE_NAME, Session
from tests.conftest import ask, portal_settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
fresh_village = FreshVillages(ROOT)
TODAY = dt.date.today()
CREATE = """mutation C($in: PilotProjectInput!) {
  createPilotProject(input: $in) { id milestones { id title responsibleAgency } }
}"""


@dataclass(frozen=True)
class Pilot:
    id: str
    village: str
    title: str
    milestones: dict[str, str]  # title -> id


@pytest.fixture
async def browser_for(
    gateway_over_http: str, e2e_keys: DevKeys, stack: TestStack
) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """A new 'browser' (cookie jar) on a new portal app (a replica: its own process state, the revoked sessions on
    the session's NATS) over the real gateway; `portal_session_hours` and the like as keyword arguments."""
    opened: list[tuple[httpx.AsyncClient, Any]] = []

    def open_browser(**overrides: Any) -> httpx.AsyncClient:
        app = create_app(portal_settings(gateway_over_http, e2e_keys, **({"nats_url": stack.nats_url} | overrides)))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal")
        opened.append((client, app))
        return client

    yield open_browser
    for client, app in opened:
        await client.aclose()
        await app.state.portal.close()


@pytest.fixture
async def pilot(gateway_over_http: str, mint: Callable[..., str]) -> Pilot:
    """A pilot of Kemenko Polkam in a fresh village of Musi Banyuasin: one milestone of Kemendes a week overdue, one
    of KemenPPPA due next month."""
    village = fresh_village("16.06")
    title = f"Pilot portal {village}"
    pilot_input = {
        "villageCode": village,
        "title": title,
        "startDate": (TODAY - dt.timedelta(days=60)).isoformat(),
        "partners": [
            {"agency": "KEMENPPPA", "programme": "DRPPA", "commitment": "Community parenting"},
            {"agency": "KEMENDES", "programme": "BUMDES", "commitment": "A returnee business unit"},
        ],
        "milestones": [
            {"title": "BUMDes unit registered", "dueDate": (TODAY - dt.timedelta(days=7)).isoformat(),
             "responsibleAgency": "KEMENDES"},
            {"title": "Parenting classes begin", "dueDate": (TODAY + dt.timedelta(days=30)).isoformat(),
             "responsibleAgency": "KEMENPPPA"},
        ],
    }  # fmt: skip
    async with httpx.AsyncClient(base_url=gateway_over_http.removesuffix("/graphql")) as http:
        _, answer = await ask(http, CREATE, {"in": pilot_input}, token=mint("KEMENKO_POLKAM"))
    assert "errors" not in answer, answer
    created = answer["data"]["createPilotProject"]
    return Pilot(created["id"], village, title, {m["title"]: m["id"] for m in created["milestones"]})


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


async def sign_in(browser: httpx.AsyncClient, agency: str, region: str = "") -> None:
    form = await browser.get("/signin")
    assert form.status_code == 200
    done = await browser.post("/signin", data={"agency": agency, "region": region, "csrf_token": csrf_of(form.text)})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == ("/audit" if agency == "AUDITOR" else "/pilots")  # where its grants lead


def tagged(html: str, name: str) -> list[str]:
    """The opening tags carrying data-testid=name."""
    return re.findall(rf'<[^>]*data-testid="{re.escape(name)}"[^>]*>', html)


async def test_kemenko_polkam_lists_and_opens_the_pilot(
    browser_for: Callable[..., httpx.AsyncClient], pilot: Pilot
) -> None:
    browser = browser_for()
    await sign_in(browser, "KEMENKO_POLKAM")
    listing = await browser.get("/pilots", params={"region": pilot.village})
    assert listing.status_code == 200
    html = listing.text
    assert pilot.title in html
    [row] = [r for r in tagged(html, "pilot-row") if f'data-pilot-id="{pilot.id}"' in r]
    assert 'data-overdue="true"' in row
    assert 'class="overdue"' in row
    assert 'data-testid="signed-in-agency">' in html

    page = await browser.get(f"/pilots/{pilot.id}")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="id">' in html
    assert html.count("<h1") == 1
    assert pilot.title in html
    assert len(tagged(html, "partner-row")) == 2
    assert "Desa Ramah Perempuan dan Peduli Anak" in html  # the API's label of DRPPA, in Indonesian
    rows = tagged(html, "milestone-row")
    assert len(rows) == 2
    assert any('data-overdue="true"' in r for r in rows)
    assert not tagged(html, "milestone-complete-form")  # Kemenko Polkam is responsible for neither milestone
    assert 'role="img"' in html
    assert re.search(r"<svg[^>]*role=\"img\"[^>]*>\s*<title", html)
    assert tagged(html, f"pillar-table-{pilot.village}")
    assert page.headers["content-security-policy"].startswith("default-src 'none'")

    english = await browser.get(f"/pilots/{pilot.id}", params={"lang": "en"})
    assert '<html lang="en">' in english.text
    assert "Milestones" in english.text


async def test_the_responsible_agency_completes_its_milestone(
    browser_for: Callable[..., httpx.AsyncClient], pilot: Pilot
) -> None:
    browser = browser_for()
    await sign_in(browser, "KEMENDES")
    overdue = await browser.get("/overdue")
    assert overdue.status_code == 200
    milestone = pilot.milestones["BUMDes unit registered"]
    assert f'data-milestone-id="{milestone}"' in overdue.text

    page = await browser.get(f"/pilots/{pilot.id}")
    [form] = tagged(page.text, "milestone-complete-form")
    action = f"/pilots/{pilot.id}/milestones/{milestone}/complete"
    assert f'action="{action}"' in form
    assert len(tagged(page.text, "milestone-complete")) == 1  # not the KemenPPPA milestone

    refused = await browser.post(action, data={})
    assert refused.status_code == 403
    assert 'data-testid="error-code">CSRF_FAILED' in refused.text
    still = await browser.get(f"/pilots/{pilot.id}")
    assert tagged(still.text, "milestone-complete-form")  # nothing was completed

    done = await browser.post(action, data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 303
    assert done.headers["location"] == f"/pilots/{pilot.id}#milestones"
    after = await browser.get(f"/pilots/{pilot.id}")
    assert 'data-testid="flash">Tahapan ditandai selesai.' in after.text
    assert not tagged(after.text, "milestone-complete-form")
    assert tagged(after.text, "milestone-done")
    again = await browser.get(f"/pilots/{pilot.id}")
    assert 'data-testid="flash"' not in again.text  # shown once
    overdue = await browser.get("/overdue")
    assert f'data-milestone-id="{milestone}"' not in overdue.text

    # completing it twice: the gateway's refusal, in the page's language, on the pilot page
    english = await browser.get(f"/pilots/{pilot.id}", params={"lang": "en"})  # the language sticks
    twice = await browser.post(action, data={"csrf_token": csrf_of(english.text)})
    assert twice.status_code == 303
    shown = await browser.get(f"/pilots/{pilot.id}")
    [flash] = re.findall(r'data-testid="flash">([^<]+)<', shown.text)
    assert flash == "This milestone is already completed or cannot change (CONFLICT)."


async def test_another_agency_is_not_offered_the_action_and_is_refused_if_it_tries(
    browser_for: Callable[..., httpx.AsyncClient], pilot: Pilot
) -> None:
    browser = browser_for()
    await sign_in(browser, "BNN")
    page = await browser.get(f"/pilots/{pilot.id}")
    assert page.status_code == 200
    assert not tagged(page.text, "milestone-complete-form")
    milestone = pilot.milestones["BUMDes unit registered"]
    tried = await browser.post(
        f"/pilots/{pilot.id}/milestones/{milestone}/complete", data={"csrf_token": csrf_of(page.text)}
    )
    assert tried.status_code == 303
    shown = await browser.get(f"/pilots/{pilot.id}")
    [flash] = re.findall(r'data-testid="flash">([^<]+)<', shown.text)
    assert "FORBIDDEN" in flash, flash
    assert tagged(shown.text, "milestone-overdue")


async def test_an_agency_without_the_grant_gets_a_403_page_naming_it(
    browser_for: Callable[..., httpx.AsyncClient],
) -> None:
    browser = browser_for()
    await sign_in(browser, "AUDITOR")
    page = await browser.get("/pilots")
    assert page.status_code == 403
    assert 'data-testid="error-code">FORBIDDEN' in page.text
    assert "pilot:read" in page.text


async def test_an_expired_session_goes_back_to_sign_in(browser_for: Callable[..., httpx.AsyncClient]) -> None:
    # A one-second session. No page is asked for before it ends: on a loaded machine a page over the gateway may
    # take that long (the other tests show the pages of a live session).
    browser = browser_for(portal_session_hours=1 / 3600)
    await sign_in(browser, "KEMENKO_POLKAM")
    await asyncio.sleep(1.2)
    gone = await browser.get("/pilots")
    assert gone.status_code == 303
    assert gone.headers["location"] == "/signin"
    signin = await browser.get("/signin")
    assert "Sesi Anda berakhir" in signin.text
    assert 'data-testid="signed-in-agency"' not in signin.text


async def test_a_token_the_gateway_refuses_ends_the_session(
    browser_for: Callable[..., httpx.AsyncClient], mint: Callable[..., str]
) -> None:
    """The session still has time, the token does not (an issuer's shorter lifetime, a revoked key): the gateway
    says UNAUTHENTICATED and the portal sends the person to sign in again."""
    browser = browser_for()
    await sign_in(browser, "KEMENKO_POLKAM")
    app = browser._transport.app  # type: ignore[attr-defined]
    [cookie] = [c for c in browser.cookies.jar if c.name == COOKIE_NAME]
    expired = mint("KEMENKO_POLKAM", ttl=dt.timedelta(seconds=-120))
    session = Session(
        csrf_secret="x" * 20, token=expired, agency="KEMENKO_POLKAM", expires_at=time.time() + 3600, sid="sid-1"
    )
    browser.cookies.set(COOKIE_NAME, app.state.portal.codec.encode(session), domain=cookie.domain, path="/")
    assert len(browser.cookies.jar) == 1
    response = await browser.get("/pilots")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin"
    signin = await browser.get("/signin")
    assert "Silakan masuk kembali" in signin.text


async def test_a_cookie_copied_before_sign_out_is_refused_after_it_on_this_and_another_replica(
    browser_for: Callable[..., httpx.AsyncClient],
) -> None:
    """Someone copies the session cookie; the person signs out. The copy no longer opens a page, on the replica
    the person signed out on and on a second replica (another portal app, the same NATS)."""
    browser, other = browser_for(), browser_for()
    await sign_in(browser, "KEMENKO_POLKAM")
    [cookie] = [c for c in browser.cookies.jar if c.name == COOKIE_NAME]
    copy = cookie.value
    assert copy is not None

    async def with_copy(replica: httpx.AsyncClient) -> httpx.Response:
        app = replica._transport.app  # type: ignore[attr-defined]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as thief:
            thief.cookies.set(COOKIE_NAME, copy)
            return await thief.get("/pilots")

    assert (await with_copy(browser)).status_code == 200  # the copy works on both replicas before
    assert (await with_copy(other)).status_code == 200
    page = await browser.get("/pilots")
    done = await browser.post("/signout", data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 303
    assert "Anda telah keluar." in (await browser.get("/signin")).text
    here = await with_copy(browser)
    assert (here.status_code, here.headers["location"]) == (303, "/signin")
    for _ in range(200):  # the other replica hears of it through its watch of the bucket: a moment later
        there = await with_copy(other)
        if there.status_code == 303:
            break
        await asyncio.sleep(0.1)
    assert (there.status_code, there.headers["location"]) == (303, "/signin")
