"""Browser tests share the end-to-end services of tests/conftest.py: the gateway served for the session (in the same
event loop as the browser) answers a page in Chromium, readiness and a query with a minted token included."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from playwright.async_api import Page

pytestmark = pytest.mark.integration


async def test_chromium_reaches_the_session_gateway(
    gateway_over_http: str, mint: Callable[..., str], page: Page
) -> None:
    base = gateway_over_http.removesuffix("/graphql")
    response = await page.goto(f"{base}/readyz")
    assert response is not None
    assert response.status == 200
    assert json.loads(await page.locator("body").inner_text())["status"] == "ready"

    answer = await page.evaluate(
        """async ([url, token]) => {
             const r = await fetch(url, {method: 'POST', body: JSON.stringify({query: '{ __typename }'}),
               headers: {'content-type': 'application/json', 'authorization': `Bearer ${token}`}});
             return [r.status, await r.json()];
           }""",
        [gateway_over_http, mint("KEMENKO_POLKAM")],
    )
    assert answer[0] == 200
    assert answer[1]["data"] == {"__typename": "Query"}
