"""No personal value reaches a span, whichever way a request carries it (docs/personal-data.md, "Never in a log").

The subgraph answers GraphQL over GET as well as POST, and a GET carries its document and variables in the URL's
query string: a span attribute that records the URL (the ASGI instrumentation's `http.url`, `url.full`, `url.query`)
would hold every NIK, name and birth date a caller sent that way. The test drives the real registry (its real
database) with the same values every way a request can carry them and searches every span the process finished:
each attribute, each event's attributes and each status description, so a new attribute that records a request
(or a new way to send one) is caught without naming it here.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from demimas_common.settings import CommonSettings
from demimas_common.telemetry import configure_tracing

from .conftest import worker_input

pytestmark = pytest.mark.integration

LOOKUP = "query Lookup($nik: String!) { workerByNik(nik: $nik) { id fullName } }"
REGISTER = "mutation Register($input: RegisterWorkerInput!) { registerWorker(input: $input) { id } }"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    provider = configure_tracing("registry", CommonSettings())
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    try:
        yield exporter
    finally:
        # The provider keeps its processors: a shut down exporter takes no more spans, silently (a shut down
        # processor would warn on every later span of the session, which other tests read as a fault).
        exporter.shutdown()


def recorded_texts(span: ReadableSpan) -> Iterator[tuple[str, str]]:
    """(where, text) of everything a span records: attributes, event attributes, status description."""
    for key, value in (span.attributes or {}).items():
        yield f"{span.name} attribute {key}", str(value)
    for event in span.events:
        for key, value in (event.attributes or {}).items():
            yield f"{span.name} event {event.name} {key}", str(value)
    if span.status.description:
        yield f"{span.name} status", span.status.description


async def test_no_personal_value_in_any_span(
    client: httpx.AsyncClient, token: Callable[..., str], spans: InMemorySpanExporter
) -> None:
    values = worker_input(
        fullName=f"Siti Aminah {secrets.token_hex(3).translate(str.maketrans('0123456789', 'ghijklmnop'))}",
        address=f"Jalan Merdeka {secrets.randbelow(900) + 100}, Sekayu",
    )
    headers = {"Authorization": f"Bearer {token('DISNAKER', region='16.06')}", "X-Demimas-Purpose": "PLACEMENT_SERVICE"}
    registered = (await client.post("/graphql", json={"query": REGISTER, "variables": {"input": values}},
                                    headers=headers)).json()  # fmt: skip
    assert registered.get("errors") is None, registered
    duplicate = (await client.post("/graphql", json={"query": REGISTER, "variables": {"input": values}},
                                   headers=headers)).json()  # fmt: skip
    assert duplicate["errors"][0]["extensions"]["code"] == "CONFLICT", duplicate
    asked: list[dict[str, Any]] = [
        {"query": LOOKUP, "variables": json.dumps({"nik": values["nik"]})},  # variables in the URL
        {"query": f'query Inline {{ workerByNik(nik: "{values["nik"]}") {{ id }} }}'},  # a literal in the URL
    ]
    for params in asked:
        response = await client.get("/graphql", params=params, headers=headers)
        body = response.json()
        assert body.get("errors") is None, body
        assert body["data"]["workerByNik"]["id"] == registered["data"]["registerWorker"]["id"]

    finished = spans.get_finished_spans()
    assert any("GET" in s.name for s in finished), [s.name for s in finished]  # the URLs' spans were recorded
    personal = {key: str(values[key]) for key in ("nik", "fullName", "birthDate", "phone", "address")}
    found = [
        f"{where}: the {key}"
        for span in finished
        for where, recorded in recorded_texts(span)
        for key, value in personal.items()
        if value in recorded or value.replace("-", "") in recorded.replace("-", "")
    ]
    assert found == []
