"""The data-subject report: the registered `PersonalDataReport` operation sent through the gateway with the
requester's own token and the purpose DATA_SUBJECT_REQUEST, so every service answers for its part under its own
rules and the registry records the read as an access (the report is itself in the person's access trail).

It reads nothing of the audit's own store, so its use case takes the gateway (`ports.Gateway`) where the others
take a unit of work: no transaction is held open while the services answer."""

from __future__ import annotations

import datetime as dt
import hashlib
from importlib import resources
from typing import Any

from demimas_audit.domain.commands import RequestPersonalDataReport
from demimas_audit.service_layer.ports import Gateway
from demimas_common.auth.principal import Principal, Purpose
from demimas_common.errors import Forbidden, NotFound, Unavailable

__all__ = ["OPERATION", "OPERATION_HASH", "personal_data_report"]

OPERATION = resources.files("demimas_audit").joinpath("operations/personal-data-report.graphql").read_text()
OPERATION_HASH = hashlib.sha256(OPERATION.encode()).hexdigest()
"""How the operation is registered in a trusted-documents manifest (SHA-256 of its text)."""


async def personal_data_report(
    cmd: RequestPersonalDataReport, gateway: Gateway, principal: Principal
) -> dict[str, Any]:
    """The report as one JSON document; FORBIDDEN without the scope `subject:report` or the purpose
    DATA_SUBJECT_REQUEST (and then nothing is asked of the gateway)."""
    worker_id = cmd.worker_id
    principal.require_scope("subject:report")
    if principal.purpose is not Purpose.DATA_SUBJECT_REQUEST:
        raise Forbidden("the personal-data report needs the purpose DATA_SUBJECT_REQUEST", reason="purpose")
    headers = {
        "authorization": cmd.authorization,
        "x-demimas-purpose": Purpose.DATA_SUBJECT_REQUEST.value,
        "content-type": "application/json",
        "accept": "application/json",
    }
    body = {"query": OPERATION, "operationName": "PersonalDataReport", "variables": {"id": worker_id}}
    answer = await gateway.post(body, headers)
    worker = (answer.get("data") or {}).get("worker")
    if worker is None:
        if any((e.get("extensions") or {}).get("code") == "NOT_FOUND" for e in answer.get("errors", [])):
            raise NotFound(f"no worker {worker_id}", field="workerId")
        raise Unavailable(
            "the report could not be assembled: " + "; ".join(str(e.get("message")) for e in answer.get("errors", []))
        )
    return {
        "report": "personal-data",
        "law": "UU 27/2022 Pasal 32",
        "workerId": worker_id,
        "generatedAt": dt.datetime.now(dt.UTC).isoformat(),
        "requestedBy": {"agency": principal.agency.value, "sub": principal.sub},
        "operation": {"name": "PersonalDataReport", "sha256": OPERATION_HASH},
        "data": worker,
        "incomplete": [e.get("path") for e in answer.get("errors", [])],
    }
