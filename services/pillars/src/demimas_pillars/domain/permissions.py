"""Who may record activities for which pillar (`pillars:write` is necessary, not sufficient), and the defaults of
the table an operator can override in settings (`DEMIMAS_PILLAR_AGENCIES`)."""

from __future__ import annotations

from collections.abc import Mapping

from demimas_common.auth.principal import Agency, Principal
from demimas_common.errors import Forbidden
from demimas_pillars.domain.vocabulary import ServicePillar

__all__ = ["DEFAULT_PILLAR_AGENCIES", "PillarAgencies", "require_pillar_agency"]

PillarAgencies = Mapping[ServicePillar, frozenset[Agency]]
_A, _P = Agency, ServicePillar

DEFAULT_PILLAR_AGENCIES: dict[ServicePillar, frozenset[Agency]] = {
    _P.PROCEDURAL_MIGRATION_SERVICE: frozenset({_A.KP2MI, _A.BP3MI, _A.KEMENIMIPAS}),
    _P.JOB_OPPORTUNITY_INFORMATION: frozenset({_A.KP2MI, _A.BP3MI}),
    _P.NONPROCEDURAL_AND_TRAFFICKING_PREVENTION: frozenset({_A.KP2MI, _A.BP3MI, _A.BNN, _A.KEMENIMIPAS}),
    _P.DEPARTURE_RETURN_MONITORING: frozenset({_A.KP2MI, _A.BP3MI, _A.KEMENIMIPAS}),
    _P.FINANCIAL_LITERACY_REMITTANCE: frozenset({_A.KP2MI, _A.BP3MI, _A.KEMENDES}),
    _P.COOPERATIVE_BUMDES: frozenset({_A.KEMENDES, _A.KP2MI}),
    _P.ENTREPRENEURSHIP: frozenset({_A.KP2MI, _A.BP3MI, _A.KEMENDES}),
    _P.FAMILY_STRENGTHENING: frozenset({_A.KEMENPPPA, _A.KP2MI, _A.BP3MI}),
    _P.REINTEGRATION: frozenset({_A.KP2MI, _A.BP3MI, _A.KEMENDES}),
    _P.DIASPORA_SERVICE: frozenset({_A.KP2MI, _A.BP3MI}),
}


def require_pillar_agency(principal: Principal, pillar: ServicePillar, table: PillarAgencies) -> None:
    principal.require_scope("pillars:write")
    allowed = table.get(pillar, frozenset())
    if principal.agency not in allowed:
        names = ", ".join(sorted(a.value for a in allowed)) or "no agency"
        raise Forbidden(
            f"{principal.agency.value} does not deliver {pillar.value} (allowed: {names})", reason="pillar_agency"
        )
