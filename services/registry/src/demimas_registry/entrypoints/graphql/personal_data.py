"""The personal-data gate: every read of a personal field is checked (scope, region, purpose) and recorded as a
`demimas.registry.personal_data.accessed` event before the value is returned.

Reads of one request are batched: all personal fields resolved in the same execution step become one event
(who, which workers, which fields, purpose, the client's operation name, trace), written through the outbox in its
own committed transaction. If that write fails, every waiting field fails with UNAVAILABLE and returns null:
nothing personal leaves without its record (fail closed). A field of a person read again later in the same request
(`workerByNik { nik }`: the lookup reads the NIK, then the field) is one access: it waits for the first record and
writes none of its own.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from demimas_common.auth.principal import Principal
from demimas_common.errors import DemimasError, Unauthenticated, Unavailable
from demimas_registry.adapters.unit_of_work import RegistryUnitOfWork
from demimas_registry.domain.commands import RecordPersonalDataAccess
from demimas_registry.service_layer.handlers import record_personal_data_access

__all__ = ["PersonalDataGate"]

log = logging.getLogger("demimas.registry.personal_data")


@dataclass
class _Batch:
    workers: dict[str, None] = field(default_factory=dict)
    fields: dict[str, None] = field(default_factory=dict)
    family: dict[str, None] = field(default_factory=dict)
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class PersonalDataGate:
    def __init__(
        self,
        unit_of_work: Callable[[], RegistryUnitOfWork],
        principal: Principal | None,
        *,
        operation: Callable[[], str | None] = lambda: None,
    ) -> None:
        """`unit_of_work` opens the transaction a record is written in (the request's, with its trace);
        `operation` gives the client's operation name when a record is written: the context learns it only once
        execution starts (graphql/operation_name.py), after the gate was made."""
        self._unit_of_work = unit_of_work
        self._principal = principal
        self._operation = operation
        self._batch: _Batch | None = None
        self._flushes: set[asyncio.Task[None]] = set()  # strong references until each flush is done
        self._recorded: dict[tuple[str, str, tuple[str, ...]], asyncio.Future[None]] = {}
        self.recorded_events = 0

    def check(self, worker_id: uuid.UUID, scope: str) -> Principal:
        """Scope and purpose, before anything is read (no record for a refused read)."""
        if self._principal is None:
            raise Unauthenticated("personal data needs a token")
        self._principal.require_scope(scope)
        self._principal.require_purpose()
        return self._principal

    async def gate(
        self, worker_id: uuid.UUID, field_name: str, scope: str, *, family_member_ids: list[str] | None = None
    ) -> None:
        self.check(worker_id, scope)
        key = (str(worker_id), field_name, tuple(family_member_ids or ()))
        earlier = self._recorded.get(key)
        if earlier is not None:
            # The same field of the same person read again in this request (`workerByNik { nik }`, or one worker
            # reached by two paths): one access, one record; the value waits for that record as the first did.
            await asyncio.shield(earlier)
            return
        batch = self._batch
        if batch is None:
            batch = self._batch = _Batch()
            # Flush after the other resolvers of this execution step have joined the batch.
            asyncio.get_running_loop().call_soon(self._start_flush, batch)
        batch.workers[str(worker_id)] = None
        batch.fields[field_name] = None
        for member_id in family_member_ids or ():
            batch.family[member_id] = None
        self._recorded[key] = batch.done
        await asyncio.shield(batch.done)

    def _start_flush(self, batch: _Batch) -> None:
        task = asyncio.ensure_future(self._flush(batch))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush(self, batch: _Batch) -> None:
        # One more loop turn lets sibling resolvers that were scheduled together join this batch.
        await asyncio.sleep(0)
        if self._batch is batch:
            self._batch = None
        principal = self._principal
        assert principal is not None
        try:
            record = RecordPersonalDataAccess(
                worker_ids=tuple(batch.workers),
                fields=tuple(sorted(batch.fields)),
                family_member_ids=tuple(batch.family),
                operation=self._operation(),
            )
            async with self._unit_of_work() as uow:
                await record_personal_data_access(record, uow, principal)
            self.recorded_events += 1
            batch.done.set_result(None)
        except DemimasError as exc:
            batch.done.set_exception(exc)
        except Exception as exc:
            batch.done.set_exception(
                Unavailable("the access record could not be written, so personal data is withheld")
            )
            del exc
