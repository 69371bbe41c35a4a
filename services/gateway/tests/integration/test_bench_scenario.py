"""The public gateway benchmark's query through the gateway equals the monolith's answer."""

from __future__ import annotations

import pytest
from graphql import build_ast_schema, parse, print_schema

from demimas_gateway.gateway import Gateway

from ..conftest import BENCH_QUERY, bench_monolith, run_monolith  # noqa: TID252

pytestmark = pytest.mark.integration


async def test_benchmark_query_equals_monolith(bench_gateway: Gateway) -> None:
    response = await bench_gateway.execute(BENCH_QUERY)
    assert response.errors == []
    monolith = bench_monolith(build_ast_schema(parse(print_schema(bench_gateway.schema))))
    assert response.data == await run_monolith(monolith, BENCH_QUERY)
