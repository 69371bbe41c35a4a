"""The cases subgraph's mutations: each opens the caller's unit of work and hands the use case its command; every
change of a case takes the `version` the caller read, and answers with the case as the change left it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry

from demimas_cases.domain import case as model
from demimas_cases.domain.commands import (
    AddNote,
    AnswerReferral,
    ChangeCase,
    OpenCase,
    RecordReferralOutcome,
    ReferCase,
    RegisterLegalAid,
    TriageCase,
)
from demimas_cases.domain.vocabulary import CaseKind, CasePhase, Confidentiality
from demimas_cases.entrypoints.graphql.common import WRITE, parse_id
from demimas_cases.entrypoints.graphql.context import Ctx
from demimas_cases.entrypoints.graphql.graph import Case
from demimas_cases.entrypoints.graphql.inputs import (
    IDEMPOTENCY_KEY,
    LegalAidOrganisationInput,
    OpenCaseInput,
    ReferCaseInput,
    TriageCaseInput,
    case_of,
    organisation_of,
)
from demimas_cases.entrypoints.graphql.types import LegalAidOrganisation
from demimas_cases.service_layer import cases as flow
from demimas_cases.service_layer.legal_aid import register_legal_aid

__all__ = ["Mutation"]

Key = Annotated[str | None, strawberry.argument(description=IDEMPOTENCY_KEY)]
Version = Annotated[int, strawberry.argument(description="The version of the case the caller read.")]


async def _run(info: Ctx, handler: Callable[..., Awaitable[model.Case]], cmd: object) -> Case:
    ctx = info.context
    principal = ctx.require_principal()
    changed: model.Case = await ctx.run(handler, cmd, principal, ctx.rules)
    return Case.from_domain(changed, ctx.rules.clock())


@strawberry.type
class Mutation:
    @strawberry.federation.field(requires_scopes=WRITE, description="Open a case heard in a village.")
    async def open_case(self, info: Ctx, input: OpenCaseInput, idempotency_key: Key = None) -> Case | None:
        cmd = OpenCase(case_of(info.context, input), input.confidentiality is not None, idempotency_key)
        return await _run(info, flow.open_case, cmd)

    @strawberry.federation.field(requires_scopes=WRITE, description="Triage an open case: confirm it, name its holder.")
    async def triage_case(
        self, info: Ctx, id: strawberry.ID, version: Version, input: TriageCaseInput | None = None
    ) -> Case | None:
        i = input or TriageCaseInput()
        cmd = TriageCase(
            parse_id(id),
            version,
            owner=i.owner_agency.value if i.owner_agency else None,
            kind=CaseKind(i.kind) if i.kind else None,
            phase=CasePhase(i.phase) if i.phase else None,
            confidentiality=Confidentiality(i.confidentiality) if i.confidentiality else None,
        )
        return await _run(info, flow.triage_case, cmd)

    @strawberry.federation.field(requires_scopes=WRITE, description="Refer a case to an agency or legal aid.")
    async def refer_case(self, info: Ctx, id: strawberry.ID, version: Version, input: ReferCaseInput) -> Case | None:
        org = input.legal_aid_organisation_id
        cmd = ReferCase(
            parse_id(id),
            version,
            uuid.uuid4(),
            input.reason,
            to_agency=input.to_agency.value if input.to_agency else None,
            legal_aid_organisation_id=parse_id(org, "input.legalAidOrganisationId") if org is not None else None,
        )
        return await _run(info, flow.refer_case, cmd)

    @strawberry.federation.field(requires_scopes=WRITE, description="The receiving side accepts a referral.")
    async def accept_referral(self, info: Ctx, referral_id: strawberry.ID, version: Version) -> Case | None:
        cmd = AnswerReferral(parse_id(referral_id, "referralId"), version, accept=True)
        return await _run(info, flow.answer_referral, cmd)

    @strawberry.federation.field(requires_scopes=WRITE, description="The receiving side declines, with a reason.")
    async def decline_referral(
        self, info: Ctx, referral_id: strawberry.ID, version: Version, reason: str
    ) -> Case | None:
        cmd = AnswerReferral(parse_id(referral_id, "referralId"), version, accept=False, reason=reason)
        return await _run(info, flow.answer_referral, cmd)

    @strawberry.federation.field(requires_scopes=WRITE, description="Record what came of an accepted referral.")
    async def record_referral_outcome(
        self, info: Ctx, referral_id: strawberry.ID, version: Version, outcome: str
    ) -> Case | None:
        cmd = RecordReferralOutcome(parse_id(referral_id, "referralId"), version, outcome)
        return await _run(info, flow.record_referral_outcome, cmd)

    @strawberry.federation.field(requires_scopes=WRITE, description="Add a note (case content) to a case.")
    async def add_case_note(
        self, info: Ctx, case_id: strawberry.ID, version: Version, text: str, idempotency_key: Key = None
    ) -> Case | None:
        cmd = AddNote(parse_id(case_id, "caseId"), version, uuid.uuid4(), text, idempotency_key)
        return await _run(info, flow.add_note, cmd)

    @strawberry.federation.field(requires_scopes=WRITE, description="The owner (or KP2MI) resolves a case.")
    async def resolve_case(self, info: Ctx, id: strawberry.ID, version: Version, resolution: str) -> Case | None:
        return await _run(info, flow.resolve_case, ChangeCase(parse_id(id), version, resolution))

    @strawberry.federation.field(requires_scopes=WRITE, description="The owner (or KP2MI) closes a resolved case.")
    async def close_case(self, info: Ctx, id: strawberry.ID, version: Version) -> Case | None:
        return await _run(info, flow.close_case, ChangeCase(parse_id(id), version))

    @strawberry.federation.field(requires_scopes=WRITE, description="Reopen a resolved or closed case, with a reason.")
    async def reopen_case(self, info: Ctx, id: strawberry.ID, version: Version, reason: str) -> Case | None:
        return await _run(info, flow.reopen_case, ChangeCase(parse_id(id), version, reason))

    @strawberry.federation.field(requires_scopes=WRITE, description="KP2MI registers a legal aid organisation.")
    async def register_legal_aid_organisation(
        self, info: Ctx, input: LegalAidOrganisationInput
    ) -> LegalAidOrganisation | None:
        ctx = info.context
        principal = ctx.require_principal()
        cmd = RegisterLegalAid(organisation_of(ctx, input))
        org = await ctx.run(register_legal_aid, cmd, principal, ctx.rules)
        return LegalAidOrganisation.from_domain(org)
