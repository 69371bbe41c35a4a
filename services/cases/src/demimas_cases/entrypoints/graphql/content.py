"""The content gate: every read of a case's content (identities, description, notes, reasons, outcomes) is checked
(scope, purpose PROTECTION_CASE, confidentiality: domain/permissions.py `require_content`) and recorded as a
`demimas.cases.personal_data.accessed` event before the value is returned.

Which cases concern a person (`Worker.cases`, `FamilyMember.cases`) is content as well, since it says who a case
concerns: `cases_of_person` keeps the cases whose content the caller may read and records the read with that person.

Reads of one execution step are batched into one event (which cases, which fields, which registered people, the
purpose, the client's operation name), written through the outbox in a transaction of its own. If that write fails,
every waiting field fails with UNAVAILABLE and returns null: no content leaves without its record (fail closed)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from demimas_cases.adapters.unit_of_work import CasesUnitOfWork
from demimas_cases.domain.case import Case
from demimas_cases.domain.commands import RecordCaseAccess
from demimas_cases.domain.permissions import can_read_content, require_content, require_content_purpose
from demimas_cases.domain.vocabulary import PersonRole
from demimas_cases.service_layer.access import record_case_access
from demimas_common.auth.principal import Principal
from demimas_common.errors import DemimasError, Unauthenticated, Unavailable

__all__ = ["ContentGate"]


@dataclass
class _Batch:
    cases: dict[str, None] = field(default_factory=dict)
    fields: dict[str, None] = field(default_factory=dict)
    workers: dict[str, None] = field(default_factory=dict)
    family: dict[str, None] = field(default_factory=dict)
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class ContentGate:
    def __init__(
        self,
        unit_of_work: Callable[[], CasesUnitOfWork],
        principal: Principal | None,
        *,
        operation: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._principal = principal
        self._operation = operation
        self._batch: _Batch | None = None
        self._flushes: set[asyncio.Task[None]] = set()

    async def gate(self, case: Case, field_name: str, *, people: bool = False) -> None:
        """Returns once the read of `field_name` of `case` is recorded; raises (nothing recorded) when refused.
        Every content field is about the case's people (a description or a note tells what happened to them), so
        the record names its registered people whichever field is read: a worker's access log shows who read their
        cases. (`people` is kept for callers that say so explicitly; it changes nothing.)"""
        require_content(self._caller(), case)
        del people
        named = [(p.role, p.id) for p in case.people if p.id is not None]
        await self._recorded([case], field_name, named)

    async def cases_of_person(
        self, cases: Sequence[Case], field_name: str, person: uuid.UUID, role: PersonRole
    ) -> list[Case]:
        """Of `cases` (those concerning `person` that the caller sees), the ones whose content it may read, once
        that read is recorded with the person; the purpose is checked first, whether or not there is any."""
        principal = self._caller()
        require_content_purpose(principal)
        readable = [c for c in cases if can_read_content(principal, c)]
        if readable:
            await self._recorded(readable, field_name, [(role, person)])
        return readable

    def _caller(self) -> Principal:
        if self._principal is None:
            raise Unauthenticated("case content needs a token")
        return self._principal

    async def _recorded(
        self, cases: Sequence[Case], field_name: str, people: Sequence[tuple[PersonRole, uuid.UUID]]
    ) -> None:
        batch = self._batch
        if batch is None:
            batch = self._batch = _Batch()
            asyncio.get_running_loop().call_soon(self._start_flush, batch)
        for case in cases:
            batch.cases[str(case.id)] = None
        batch.fields[field_name] = None
        for role, person in people:
            target = batch.workers if role is PersonRole.WORKER else batch.family
            target[str(person)] = None
        await asyncio.shield(batch.done)

    def _start_flush(self, batch: _Batch) -> None:
        task = asyncio.ensure_future(self._flush(batch))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush(self, batch: _Batch) -> None:
        await asyncio.sleep(0)  # one more loop turn: sibling resolvers scheduled together join this batch
        if self._batch is batch:
            self._batch = None
        principal = self._principal
        assert principal is not None
        try:
            record = RecordCaseAccess(
                case_ids=tuple(batch.cases),
                fields=tuple(sorted(batch.fields)),
                worker_ids=tuple(batch.workers),
                family_member_ids=tuple(batch.family),
                operation=self._operation(),
            )
            async with self._unit_of_work() as uow:
                await record_case_access(record, uow, principal)
            batch.done.set_result(None)
        except DemimasError as exc:
            batch.done.set_exception(exc)
        except Exception:
            batch.done.set_exception(Unavailable("the access record could not be written, so case content is withheld"))
