"""The content gate: every read of a case's content (identities, description, notes, reasons, outcomes) is checked
(scope, purpose PROTECTION_CASE, confidentiality: domain/permissions.py `require_content`) and recorded as a
`demimas.cases.personal_data.accessed` event before the value is returned.

Reads of one execution step are batched into one event (which cases, which fields, the registered people those
cases concern, the purpose, the client's operation name), written through the outbox in a transaction of its own.
Every content field is about the case's people (a description or a note tells what happened to them), so any read
names them: a worker's access log (audit service) shows who read their cases, whichever field was read.

If that write fails, every waiting field fails with UNAVAILABLE and returns null: no content leaves without its
record (fail closed)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from demimas_cases.adapters.unit_of_work import CasesUnitOfWork
from demimas_cases.domain.case import Case
from demimas_cases.domain.commands import RecordCaseAccess
from demimas_cases.domain.permissions import require_content
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

    async def gate(self, case: Case, field_name: str) -> None:
        """Returns once the read of `field_name` of `case` is recorded, with the registered people of the case;
        raises (nothing recorded) when refused."""
        if self._principal is None:
            raise Unauthenticated("case content needs a token")
        require_content(self._principal, case)
        batch = self._batch
        if batch is None:
            batch = self._batch = _Batch()
            asyncio.get_running_loop().call_soon(self._start_flush, batch)
        batch.cases[str(case.id)] = None
        batch.fields[field_name] = None
        for p in case.people:
            if p.id is not None:
                target = batch.workers if p.role is PersonRole.WORKER else batch.family
                target[str(p.id)] = None
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
