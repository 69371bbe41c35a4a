"""The browser plumbing end to end, on a tiny FastAPI app served with uvicorn in the test loop: Chromium loads a form
under a strict Content-Security-Policy, its external script enhances the page, a keyboard user reaches the controls,
a submit round-trips, a screenshot is kept; and the page checks catch a page that breaks them."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI, Form
from fastapi.responses import HTMLResponse, Response
from playwright.async_api import Page

from .support import PageProblems, accessibility_violations, assert_accessible, screenshot, served, settle, tab_order

CSP = "default-src 'none'; script-src 'self'; style-src 'self'; form-action 'self'; base-uri 'none'"

SCRIPT = """
const input = document.getElementById('name');
const count = document.getElementById('count');
input.addEventListener('input', () => { count.textContent = String(input.value.length); });
document.documentElement.dataset.enhanced = 'yes';
"""

STYLE = "body { font-family: sans-serif; color: #1a1a1a; background: #ffffff; } .faint { color: #c8c8c8; }"


def page_html(title: str, body: str) -> HTMLResponse:
    document = (
        f'<!doctype html><html lang="id"><head><meta charset="utf-8"><title>{title}</title>'
        f'<link rel="stylesheet" href="/static/site.css"></head><body><main>{body}</main></body></html>'
    )
    return HTMLResponse(document, headers={"content-security-policy": CSP})


def smoke_app() -> FastAPI:
    app = FastAPI()

    @app.get("/")
    async def form() -> HTMLResponse:
        return page_html(
            "Salam",
            '<h1>Salam</h1><form method="post" action="/greet">'
            '<label for="name">Nama</label> <input id="name" name="name" required> '
            '<span>Huruf: <output id="count">0</output></span> <button type="submit">Kirim</button></form>'
            '<script src="/static/app.js"></script>',
        )

    @app.post("/greet")
    async def greet(name: str = Form()) -> HTMLResponse:
        return page_html("Halo", f"<h1>Halo, {html.escape(name)}</h1>")

    @app.get("/broken")
    async def broken() -> HTMLResponse:
        return page_html(
            "Rusak",
            '<h1>Rusak</h1><p class="faint">teks pucat</p><input name="unlabelled">'
            "<script>document.title = 'inline ran';</script>"
            '<script src="/static/broken.js"></script>',
        )

    @app.get("/static/app.js")
    async def app_js() -> Response:
        return Response(SCRIPT, media_type="text/javascript")

    @app.get("/static/broken.js")
    async def broken_js() -> Response:
        return Response("console.error('kaboom'); throw new Error('thrown on purpose');", media_type="text/javascript")

    @app.get("/static/site.css")
    async def site_css() -> Response:
        return Response(STYLE, media_type="text/css")

    return app


@pytest.fixture(scope="module")
async def smoke_url() -> AsyncIterator[str]:
    async with served(smoke_app()) as url:
        yield url


async def test_a_form_round_trips_in_chromium(smoke_url: str, page: Page, page_problems: PageProblems) -> None:
    response = await page.goto(smoke_url)
    assert response is not None
    assert response.headers["content-security-policy"] == CSP
    assert await page.title() == "Salam"
    # The external script ran under the CSP: the enhancement is there.
    assert await page.get_attribute("html", "data-enhanced") == "yes"
    assert await tab_order(page, 2) == ["input Nama", "button Kirim"]

    await page.get_by_label("Nama").fill("Siti")
    assert await page.locator("#count").text_content() == "4"
    await assert_accessible(page)
    shot = await screenshot(page, "smoke/form")
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert shot.parent.name == "screenshots"

    await page.get_by_role("button", name="Kirim").click()
    await page.wait_for_url(f"{smoke_url}/greet")
    assert await page.get_by_role("heading", level=1).text_content() == "Halo, Siti"
    await screenshot(page, "smoke/greeted")
    await settle(page)
    page_problems.assert_clean()


async def test_the_page_checks_catch_a_broken_page(smoke_url: str, page: Page, page_problems: PageProblems) -> None:
    await page.goto(f"{smoke_url}/broken")
    await settle(page)

    assert await page.title() == "Rusak"  # the inline script was blocked
    assert [v.directive for v in page_problems.csp_violations] == ["script-src-elem"]
    assert page_problems.csp_violations[0].blocked == "inline"
    assert any("kaboom" in error for error in page_problems.console_errors)
    assert page_problems.page_errors == ["Error: thrown on purpose"]
    with pytest.raises(AssertionError, match="CSP violation: script-src-elem"):
        page_problems.assert_clean()

    found = await accessibility_violations(page)
    assert {line.split(" ", 1)[0] for line in found} >= {"color-contrast", "label"}
    with pytest.raises(AssertionError, match="color-contrast"):
        await assert_accessible(page)

    page_problems.clear()
    page_problems.assert_clean()
