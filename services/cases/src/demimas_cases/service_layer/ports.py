"""What the use cases and consumers need of storage, as Protocols: the PostgreSQL repositories (adapters/) and the
unit of work that carries them fit, and so do the in-memory fakes of the unit tests."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Protocol

from demimas_cases.adapters.cases import DueItem
from demimas_cases.adapters.people import KnownPerson
from demimas_cases.domain.case import Case, Note
from demimas_cases.domain.legal_aid import LegalAidOrganisation
from demimas_common.events.envelope import CloudEvent
from demimas_common.events.outbox import OutboxRecord

__all__ = ["Cases", "CasesUoW", "IdempotencyKeys", "LegalAid", "Notes", "People"]


class Cases(Protocol):
    async def add(self, case: Case, *, step: str, agency: str) -> None: ...

    async def save(self, case: Case, *, step: str, agency: str, at: dt.datetime) -> None: ...

    async def get(self, case_id: uuid.UUID, *, for_update: bool = False) -> Case | None: ...

    async def get_many(self, ids: Sequence[uuid.UUID], *, for_update: bool = False) -> list[Case]: ...

    async def case_of_referral(self, referral_id: uuid.UUID) -> uuid.UUID | None: ...

    async def escalate(self, now: dt.datetime, limit: int) -> list[DueItem]: ...


class Notes(Protocol):
    async def add(self, note: Note) -> None: ...


class LegalAid(Protocol):
    async def add(self, org: LegalAidOrganisation, by: str) -> None: ...

    async def get_many(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, LegalAidOrganisation]: ...


class People(Protocol):
    async def save_worker(self, worker_id: uuid.UUID, village_code: str, version: int) -> None: ...

    async def save_family_member(
        self, member_id: uuid.UUID, worker_id: uuid.UUID, village_code: str | None, minor: bool
    ) -> None: ...

    async def get_many(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, KnownPerson]: ...


class IdempotencyKeys(Protocol):
    async def claim(
        self, *, agency: str, key: str, operation: str, fingerprint: str, resource_id: uuid.UUID, at: dt.datetime
    ) -> uuid.UUID | None: ...


class CasesUoW(Protocol):
    """A unit of work of the cases service, entered by the caller (`async with`); the use case commits."""

    @property
    def cases(self) -> Cases: ...

    @property
    def notes(self) -> Notes: ...

    @property
    def legal_aid(self) -> LegalAid: ...

    @property
    def people(self) -> People: ...

    @property
    def idempotency_keys(self) -> IdempotencyKeys: ...

    def publish(self, event: CloudEvent) -> None: ...

    async def copy_events(self, records: Sequence[OutboxRecord]) -> None: ...

    async def commit(self) -> None: ...
