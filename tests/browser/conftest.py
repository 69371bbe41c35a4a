"""Browser tests: Playwright (async API) driving a headless Chromium in the session's event loop, the loop that also
serves the end-to-end services of tests/conftest.py, so a browser test can ask for `gateway_over_http` and friends.

Every test under tests/browser gets the `browser` marker. When no Chromium is found they are skipped and the session
ends with a banner saying so (with `DEMIMAS_REQUIRE_BROWSER=1`, as in CI, the session fails instead).

Fixtures: `chromium_executable` (session), `browser` (session), `context_options` (override to change the locale or
viewport), `browser_context` and `page` (fresh per test; a failed test leaves a screenshot `FAILED-<test>.png`), and
`page_problems` (console errors, uncaught exceptions and CSP violations of the test's pages).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from .support import INSTALL_HINT, REQUIRE_ENV, PageProblems, find_chromium, screenshot

HERE = Path(__file__).resolve().parent
CHROMIUM = pytest.StashKey[Path | None]()
SKIPPED = pytest.StashKey[tuple[int, str]]()
REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def pytest_itemcollected(item: pytest.Item) -> None:
    """Mark as they are collected, so that `-m "not browser"` deselects them."""
    if item.path.is_relative_to(HERE):
        item.add_marker(pytest.mark.browser)


@pytest.hookimpl(trylast=True)  # after `-m`/`-k` deselection, so only the tests that would run are counted
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    browser_items = [item for item in items if item.get_closest_marker("browser")]
    lookup = find_chromium()
    config.stash[CHROMIUM] = lookup.path
    if not browser_items or lookup.path is not None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        raise pytest.UsageError(
            f"{REQUIRE_ENV}=1 but Chromium was not found ({lookup.reason}), so the {len(browser_items)} browser "
            f"tests cannot run: {INSTALL_HINT}"
        )
    skip = pytest.mark.skip(reason=f"no Chromium: {lookup.reason}")
    for item in browser_items:
        item.add_marker(skip)
    config.stash[SKIPPED] = (len(browser_items), lookup.reason)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    skipped = config.stash.get(SKIPPED, None)
    if skipped is None:
        return
    count, reason = skipped
    terminalreporter.write_sep("!", f"{count} BROWSER TESTS DID NOT RUN", red=True, bold=True)
    terminalreporter.write_line(f"No Chromium was found: {reason}.", red=True, bold=True)
    terminalreporter.write_line(f"To run them, {INSTALL_HINT}.", red=True)
    terminalreporter.write_sep("!", red=True, bold=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Keep each phase's report on the item, so the `page` fixture knows at teardown whether the test failed."""
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="session")
def chromium_executable(pytestconfig: pytest.Config) -> Path:
    path = pytestconfig.stash.get(CHROMIUM, None) or find_chromium().path
    if path is None:
        pytest.skip(f"no Chromium: {find_chromium().reason}")
    return path


@pytest.fixture(scope="session")
async def browser(chromium_executable: Path) -> AsyncIterator[Browser]:
    """One headless Chromium for the session (contexts keep tests apart)."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_executable,
            headless=True,
            # /dev/shm is small in containers; Chromium falls back to /tmp with this flag instead of crashing tabs.
            args=["--disable-dev-shm-usage"],
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def context_options() -> dict[str, Any]:
    """Options of each test's browser context; Indonesian first, as the portal's default language."""
    return {"locale": "id-ID", "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
async def browser_context(browser: Browser, context_options: dict[str, Any]) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(**context_options)
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
async def page_problems(browser_context: BrowserContext) -> PageProblems:
    return await PageProblems.attach(browser_context)


@pytest.fixture
async def page(
    request: pytest.FixtureRequest, browser_context: BrowserContext, page_problems: PageProblems
) -> AsyncIterator[Page]:
    """A new page in a fresh context, watched by `page_problems`; call `page_problems.assert_clean()` after the
    steps that should leave no console error or CSP violation."""
    opened = await browser_context.new_page()
    yield opened
    reports = request.node.stash.get(REPORTS, {})
    if any(report.failed for report in reports.values()) and not opened.is_closed():
        path = await screenshot(opened, f"FAILED-{request.node.nodeid}")
        print(f"screenshot of the failed test's page: {path}")
