"""The legal aid register: KP2MI registers organisations (a regional KP2MI office, only organisations serving inside
its region); every case handler may list those serving a region."""

from __future__ import annotations

from demimas_cases.domain.commands import RegisterLegalAid
from demimas_cases.domain.legal_aid import LegalAidOrganisation, check_organisation
from demimas_cases.service_layer.ports import CasesUoW
from demimas_cases.service_layer.rules import CaseRules
from demimas_common.auth.principal import Agency, Principal
from demimas_common.errors import Forbidden

__all__ = ["register_legal_aid"]


async def register_legal_aid(
    cmd: RegisterLegalAid, uow: CasesUoW, principal: Principal, rules: CaseRules
) -> LegalAidOrganisation:
    principal.require_scope("case:write")
    if principal.agency is not Agency.KP2MI:
        raise Forbidden("KP2MI keeps the register of legal aid organisations", reason="not_kp2mi")
    org = check_organisation(cmd.organisation)
    for i, code in enumerate(org.regions_served):
        # a regional office of KP2MI registers organisations serving its own region only
        principal.require_region(code, field=f"regionsServed.{i}")
    await uow.legal_aid.add(org, principal.sub)
    await uow.commit()
    return org
