"""What browser tests share besides fixtures: finding Chromium, serving an ASGI app on a free port in the test's event
loop, screenshots kept as artifacts, and checks every page should pass (no console errors, no uncaught exceptions, no
Content-Security-Policy violations, no axe-core accessibility violations at WCAG 2.1 AA, a usable keyboard order).

Playwright drives the distribution's Chromium through `executable_path`; Playwright's own browser download (`playwright
install`) is never used, because this project's machines cannot reach its servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from axe_playwright_python.base import AXE_SCRIPT  # type: ignore[import-untyped]
from playwright.async_api import BrowserContext, ConsoleMessage, Page, WebError

from demimas_common.devstack.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ENV = "DEMIMAS_CHROMIUM"
ARTIFACTS_ENV = "DEMIMAS_ARTIFACTS"
REQUIRE_ENV = "DEMIMAS_REQUIRE_BROWSER"
DEFAULT_CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = (
    "install the distribution's Chromium (Debian/Ubuntu: `sudo apt-get install -y chromium`) or point "
    f"{CHROMIUM_ENV} at a Chromium or Chrome executable; Playwright's own `playwright install` is not used"
)


@dataclass(frozen=True)
class ChromiumLookup:
    """Where Chromium was found, or why it was not."""

    path: Path | None
    reason: str


def find_chromium() -> ChromiumLookup:
    """`DEMIMAS_CHROMIUM` when set (and then only it: a wrong path is reported, not papered over), else
    /usr/bin/chromium, else `chromium` on PATH."""
    configured = os.environ.get(CHROMIUM_ENV, "").strip()
    if configured:
        path = Path(configured)
        if path.is_file() and os.access(path, os.X_OK):
            return ChromiumLookup(path, f"{CHROMIUM_ENV}={configured}")
        return ChromiumLookup(None, f"{CHROMIUM_ENV}={configured} is not an executable file")
    if DEFAULT_CHROMIUM.is_file() and os.access(DEFAULT_CHROMIUM, os.X_OK):
        return ChromiumLookup(DEFAULT_CHROMIUM, str(DEFAULT_CHROMIUM))
    on_path = shutil.which("chromium")
    if on_path:
        return ChromiumLookup(Path(on_path), f"chromium on PATH ({on_path})")
    return ChromiumLookup(None, f"no {CHROMIUM_ENV}, no {DEFAULT_CHROMIUM} and no `chromium` on PATH")


def artifacts_dir() -> Path:
    """`DEMIMAS_ARTIFACTS` or build/artifacts (git-ignored); created by whatever writes into it first."""
    return Path(os.environ.get(ARTIFACTS_ENV) or ROOT / "build" / "artifacts")


def screenshots_dir() -> Path:
    return artifacts_dir() / "screenshots"


async def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG of `page` as `<artifacts>/screenshots/<name>.png` (the name made file-safe); returns its
    path. Later runs overwrite it, so a name should say which page and which state it shows."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "page"
    path = screenshots_dir() / f"{safe}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path), full_page=True)
    return path


@contextlib.asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port in the running event loop (the loop the browser and
    the end-to-end services share); yields its base URL, e.g. `http://127.0.0.1:43127`."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass(frozen=True)
class CspViolation:
    """One `securitypolicyviolation` event as the page saw it."""

    directive: str
    blocked: str
    page: str
    sample: str

    def __str__(self) -> str:
        return f"{self.directive} blocked {self.blocked or 'inline code'} on {self.page} ({self.sample!r})"


# Runs in every frame before the page's own scripts (Playwright injects it outside the page's CSP) and reports each
# violation through the binding below.
_CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  window.__demimasCspViolation({directive: e.effectiveDirective || e.violatedDirective, blocked: e.blockedURI || '',
                                page: e.documentURI || '', sample: e.sample || ''});
});
"""


@dataclass
class PageProblems:
    """Everything a browser context's pages complained about: console errors, uncaught exceptions and CSP
    violations. Attach it to a context before opening pages (`await PageProblems.attach(context)`)."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[CspViolation] = field(default_factory=list)

    @classmethod
    async def attach(cls, context: BrowserContext) -> PageProblems:
        problems = cls()
        context.on("console", problems._on_console)
        context.on("weberror", problems._on_web_error)
        await context.expose_binding("__demimasCspViolation", problems._on_csp)
        await context.add_init_script(_CSP_LISTENER)
        return problems

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.console_errors.append(f"{message.text} ({where})" if where else message.text)

    def _on_web_error(self, error: WebError) -> None:
        self.page_errors.append(f"{error.error.name}: {error.error.message}")

    def _on_csp(self, _source: Any, report: dict[str, str]) -> None:
        self.csp_violations.append(CspViolation(report["directive"], report["blocked"], report["page"],
                                                report["sample"]))  # fmt: skip

    def clear(self) -> None:
        """Forget what was seen so far (after a step that is expected to complain, e.g. a refused form)."""
        self.console_errors.clear()
        self.page_errors.clear()
        self.csp_violations.clear()

    def summary(self) -> list[str]:
        return ([f"console error: {e}" for e in self.console_errors]
                + [f"uncaught exception: {e}" for e in self.page_errors]
                + [f"CSP violation: {v}" for v in self.csp_violations])  # fmt: skip

    def assert_clean(self) -> None:
        """Fail with every problem listed when a page logged a console error, threw, or violated the CSP."""
        problems = self.summary()
        assert not problems, "the pages complained:\n  " + "\n  ".join(problems)


async def settle(page: Page) -> None:
    """Let late console messages and CSP reports (they arrive asynchronously) reach `PageProblems`."""
    await page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 50))")


# axe-core rule tags for WCAG 2.0/2.1 levels A and AA (colour contrast, names of controls, language, landmarks...).
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


async def accessibility_violations(page: Page, *, tags: list[str] | None = None) -> list[str]:
    """axe-core's violations of the page as it is now (the axe-core build shipped in the axe-playwright-python
    package, evaluated by Playwright, so the page's CSP does not block it), one line per rule and element."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(AXE_SCRIPT)
    options = {"runOnly": {"type": "tag", "values": tags or WCAG_AA}, "resultTypes": ["violations"]}
    result: dict[str, Any] = await page.evaluate("(options) => axe.run(document, options)", options)
    lines = []
    for violation in result["violations"]:
        for node in violation["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            lines.append(f"{violation['id']} ({violation['impact']}): {target}: {violation['help']}")
    return lines


async def assert_accessible(page: Page, *, tags: list[str] | None = None) -> None:
    """Fail with axe-core's findings when the page breaks a WCAG 2.1 A or AA rule axe can check automatically."""
    violations = await accessibility_violations(page, tags=tags)
    assert not violations, "accessibility violations (axe-core, WCAG 2.1 AA):\n  " + "\n  ".join(violations)


async def tab_order(page: Page, stops: int) -> list[str]:
    """The first `stops` elements Tab reaches from the top of the page, each described by its role or tag and its
    accessible text, to assert a keyboard user reaches the controls in a sensible order."""
    await page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    order = []
    for _ in range(stops):
        await page.keyboard.press("Tab")
        order.append(
            await page.evaluate(
                """() => {
                  const el = document.activeElement;
                  if (!el || el === document.body) return '(body)';
                  const role = el.getAttribute('role') || el.tagName.toLowerCase();
                  const label = el.getAttribute('aria-label') || (el.labels && el.labels[0] && el.labels[0].innerText)
                    || el.innerText || el.value || el.getAttribute('name') || '';
                  return `${role} ${label.trim().replace(/\\s+/g, ' ')}`.trim();
                }"""
            )
        )
    return order
