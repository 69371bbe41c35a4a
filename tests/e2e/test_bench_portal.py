"""`make bench-portal`'s client code on the test devstack, in a few seconds, so that it does not rot: a few pilots
and a village seeded through the real gateway as the benchmark seeds them, the dev sign-in, the token read back from
the session cookie, and two timed rounds of every page beside its gateway queries (bench/portal.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import httpx
import pytest

from bench.portal import measure, page_targets, seed_pilots, seed_village, sign_in, summarise, token_of
from demimas_common.auth.keys import DevKeys
from demimas_common.devstack.fresh_villages import FreshVillages
from demimas_portal.session import COOKIE_NAME
from tests.conftest import portal_settings

from . import test_portal
from .test_portal import ROOT

pytestmark = pytest.mark.integration

browser_for = test_portal.browser_for  # the fixture: a new browser on a portal app over the real gateway
fresh_village = FreshVillages(ROOT)


async def test_the_benchmark_times_each_page_beside_its_gateway_queries(
    browser_for: Callable[..., httpx.AsyncClient],
    gateway_over_http: str,
    mint: Callable[..., str],
    e2e_keys: DevKeys,
) -> None:
    village = fresh_village("16.06")
    gateway = gateway_over_http.removesuffix("/graphql")
    today = dt.date.today()
    by_village = await seed_pilots(gateway, mint("KEMENKO_POLKAM"), [village], 10, today, concurrency=2)
    [pilot_id, *others] = by_village[village]
    assert len(others) == 9

    def mint_for(agency: str, region: str | None) -> str:
        return mint(agency, region=region) if region else mint(agency)

    await seed_village(gateway, mint_for, village, pilot_id, today, workers=3)
    portal = browser_for()
    await sign_in(portal, "KEMENKO_POLKAM")
    token = token_of(portal.cookies.get(COOKIE_NAME), portal_settings(gateway_over_http, e2e_keys).session_key)
    async with httpx.AsyncClient(base_url=gateway, headers={"content-type": "application/json"}) as direct:
        found = await measure(portal, direct, token, page_targets(pilot_id, village), warmup=1, times=2)
    assert set(found) == {"pilots", "pilot", "village"}
    for name, series in found.items():
        assert len(series.page) == len(series.gateway) == 2
        assert set(series.timing) == {"gateway", "render", "total"}  # the portal's Server-Timing, read back
        figures = summarise(name, series)
        assert figures[f"portal_overhead_ratio_{name}"] > 0
        assert figures[f"portal_{name}_server_timing_gateway_p50_ms"] > 0
    html = (await portal.get(f"/villages/{village}")).text
    assert html.count('data-testid="thematic-row"') == 3  # the statuses the benchmark sets, each by its owner
    assert 'data-testid="village-cases"' in html  # and its case
