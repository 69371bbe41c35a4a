"""The record of a read of case content (`demimas.cases.personal_data.accessed`), committed before any value is
returned; the content gate (entrypoints/graphql/content.py) checked scope, purpose and confidentiality already, and
withholds the values if this fails."""

from __future__ import annotations

from demimas_cases.domain import events
from demimas_cases.domain.commands import RecordCaseAccess
from demimas_cases.service_layer.ports import CasesUoW
from demimas_common.auth.principal import Principal

__all__ = ["record_case_access"]


async def record_case_access(cmd: RecordCaseAccess, uow: CasesUoW, principal: Principal) -> None:
    uow.publish(
        events.case_accessed(
            actor=principal.actor,
            purpose=principal.require_purpose().value,
            case_ids=list(cmd.case_ids),
            fields=list(cmd.fields),
            worker_ids=list(cmd.worker_ids),
            family_member_ids=list(cmd.family_member_ids),
            operation=cmd.operation,
        )
    )
    await uow.commit()
