"""A hostile tester's attacks on the additions of issue 20 through the gateway, with the agencies' own tokens:
each test here failed before the fix committed with it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import Endpoints, ask
from tests.e2e.test_gateway_audit import abroad, until

pytestmark = pytest.mark.integration


async def test_a_regional_audit_token_counts_no_audit_event(endpoints: Endpoints, mint: Callable[..., str]) -> None:
    """Audit records lie in no region: a token with a region gets no `AuditEvent` (the access rules drop every edge),
    and `personalDataAccesses` answers it no count either. `auditEvents { totalCount }` counted them all the same,
    so a regional audit token counted, by type, subject, agency, village or correlation id, the events of the whole
    country (how many workers of a village were registered, when a worker was read, ...)."""
    worker = await abroad(endpoints, mint("KP2MI"))  # a worker of 16.06.13.2006: registered, departed
    query = "query($s: String!) { auditEvents(filter: {subject: $s}) { totalCount edges { node { id } } } }"

    async def recorded() -> int:
        _, national = await ask(endpoints.gateway, query, {"s": worker}, token=mint("AUDITOR"))
        return int(national["data"]["auditEvents"]["totalCount"])

    await until(recorded, "the worker's events reached the audit store")
    _, regional = await ask(endpoints.gateway, query, {"s": worker}, token=mint("AUDITOR", region="16"))
    assert regional["data"]["auditEvents"]["edges"] == []
    assert regional["data"]["auditEvents"]["totalCount"] == 0, regional
