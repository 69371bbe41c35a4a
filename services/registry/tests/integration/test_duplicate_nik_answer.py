"""registerWorker's answer to a NIK already registered inside the caller's region, asked of the registry directly
(the gateway refuses a token without registry:read before the mutation runs): the existing worker's id only to a
caller that may look a worker up by NIK (registry:read, pii:read and a purpose; domain/registration.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .conftest import GraphQL, worker_input

pytestmark = pytest.mark.integration

REGISTER = "mutation($input: RegisterWorkerInput!) { registerWorker(input: $input) { id } }"


async def test_the_conflict_names_the_existing_worker_only_to_a_caller_with_registry_read(
    gql: GraphQL, token: Callable[..., str]
) -> None:
    values = worker_input("16.06.13.2001")
    created = await gql(REGISTER, {"input": values}, token=token("KP2MI"))
    assert "errors" not in created, created
    existing = created["data"]["registerWorker"]["id"]

    reader = await gql(
        REGISTER, {"input": values}, token=token("DISNAKER", region="16.06"), purpose="PLACEMENT_SERVICE"
    )
    [named] = reader["errors"]
    assert named["extensions"]["code"] == "CONFLICT"
    assert named["extensions"]["existingWorkerId"] == named["extensions"]["workerId"] == existing
    assert existing in named["message"]

    writer_only = token("DISNAKER", region="16.06", scopes=["registry:write"])
    blind = await gql(REGISTER, {"input": values}, token=writer_only)
    [unnamed] = blind["errors"]
    assert unnamed["extensions"] == {"code": "CONFLICT", "field": "nik"}
    assert existing not in str(blind)

    # registry:read without pii:read, or without a purpose: no lookup by NIK either (workerByNik asks both)
    office = token("DISNAKER", region="16.06")
    for blind in (
        await gql(REGISTER, {"input": values}, token=office),
        await gql(REGISTER, {"input": values}, token=token("DISNAKER", region="16.06",
                  scopes=["registry:read", "registry:write"]), purpose="PLACEMENT_SERVICE"),
    ):  # fmt: skip
        [unnamed] = blind["errors"]
        assert unnamed["extensions"] == {"code": "CONFLICT", "field": "nik"}
        assert existing not in str(blind)
