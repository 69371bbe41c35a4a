"""What the portal's browser tests share: the portal app served on a free port over the session's real gateway, a
person's browser (a fresh context with its own cookies, watched for console errors and CSP violations), signing in
on the dev sign-in page as a person would, the checks every visited page must pass, and asking the gateway directly
(to set up a scenario and to read what the API says)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from playwright.async_api import Browser, BrowserContext, Page, expect

from demimas_common.auth.keys import DevKeys
from demimas_portal.app import create_app
from tests.conftest import portal_settings

from .support import PageProblems, assert_accessible, screenshot, screenshots_dir, served, settle

VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 20_000  # a page over the gateway and five subgraphs on a loaded 2-core machine
expect.set_options(timeout=TIMEOUT_MS)


@contextlib.asynccontextmanager
async def serve_portal(gateway: str, keys: DevKeys, nats_url: str) -> AsyncIterator[str]:
    """The portal on a free loopback port (base URL without a trailing slash), its revoked sessions on the
    session's NATS."""
    app = create_app(portal_settings(gateway, keys, nats_url=nats_url))
    try:
        async with served(app) as url:
            yield url
    finally:
        await app.state.portal.close()


@dataclass
class Person:
    """One person at one browser: its page, its context (cookies) and what its pages complained about."""

    page: Page
    context: BrowserContext
    problems: PageProblems
    base: str

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    async def checked(self, name: str | None = None) -> None:
        """The page as it is now passes axe-core (WCAG 2.1 AA), logged no console error and violated no CSP; with a
        name, its screenshots are kept as artifacts: the whole page (`<name>.png`) and what the 1280x800 window
        shows (`viewport/<name>.png`, the size docs/screenshots keeps)."""
        await assert_accessible(self.page)
        await settle(self.page)
        self.problems.assert_clean()
        if name:
            await screenshot(self.page, name)
            viewport = screenshots_dir() / "viewport" / f"{name}.png"
            viewport.parent.mkdir(parents=True, exist_ok=True)
            await self.page.screenshot(path=str(viewport), full_page=False)


@contextlib.asynccontextmanager
async def person(browser: Browser, base: str, *, locale: str = "id-ID") -> AsyncIterator[Person]:
    context = await browser.new_context(locale=locale, viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        problems = await PageProblems.attach(context)
        page = await context.new_page()
        yield Person(page, context, problems, base)
    finally:
        await context.close()


async def sign_in(who: Person, agency: str, region: str = "") -> None:
    """The dev sign-in form, filled as a person would: pick the agency, type the region, press the button."""
    page = who.page
    await page.goto(who.url("/signin"))
    await page.get_by_test_id("signin-agency").select_option(agency)
    if region:
        await page.get_by_test_id("signin-region").fill(region)
    await page.get_by_test_id("signin-submit").click()
    await expect(page.get_by_test_id("signed-in-agency")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/(pilots|audit)$"))


async def until(check: Callable[[], Awaitable[bool]], what: str, *, tries: int = 120) -> None:
    """Reload-and-look for something another service does asynchronously (the audit service reads the events from
    NATS): `check` reloads the page and says whether it is there yet. Bounded, about a minute at most."""
    for _ in range(tries):
        if await check():
            return
    raise AssertionError(f"never happened: {what}")
