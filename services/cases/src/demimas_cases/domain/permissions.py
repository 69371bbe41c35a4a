"""Who may see a case, read its content and change it (the grants of docs/contracts.md, "Protection cases").

- **See** (`case:read`): KP2MI every case; BP3MI and DISNAKER the cases of their region; KEMENPPPA, KEMENIMIPAS and
  BNN the cases referred to them. A token's region narrows every one of these. A case the caller may not see is
  answered as missing, however it is reached.
- **Content** (identities, description, notes, reasons, outcomes): a case the caller sees, with `case:read` and the
  purpose PROTECTION_CASE; a RESTRICTED case's content only to its owner and the agencies that accepted a referral.
  Which cases concern a person (`Worker.cases`) is content too: it says who a case concerns.
- **Change** (`case:write`): opening, triage and referral by the case-handling agencies (KP2MI, BP3MI, DISNAKER);
  triage (the intake: any handler that sees the open case names who holds it) lowers a RESTRICTED case to STANDARD
  only when the triaging agency reads it as restricted (it holds it as the triage leaves it, or accepted a
  referral); a RESTRICTED case is referred only by an agency that reads it (a referral picks who reads it next:
  nobody decides that blind, nor refers the case to itself to read it); answering a referral by its receiving
  side; resolving, closing and reopening by the owner or KP2MI; notes by any agency that sees the case and may read
  its content.

The SQL side of "see" is adapters/cases.py (`visible_to`); both follow `sees` below and are tested against it."""

from __future__ import annotations

from demimas_cases.domain.case import Case, Referral
from demimas_cases.domain.vocabulary import Confidentiality
from demimas_common.auth.principal import Agency, Principal, Purpose
from demimas_common.errors import Forbidden

__all__ = [
    "HANDLERS",
    "READ",
    "RECEIVERS",
    "WRITE",
    "can_read_content",
    "require_content",
    "require_content_purpose",
    "require_declassifier",
    "require_handler",
    "require_owner",
    "require_reader",
    "require_receiver",
    "sees",
    "sees_all_in_region",
]

READ, WRITE = "case:read", "case:write"
HANDLERS = frozenset({Agency.KP2MI, Agency.BP3MI, Agency.DISNAKER})
"""Agencies that open, triage and refer cases (and see every case of their region)."""
RECEIVERS = frozenset({Agency.KP2MI, Agency.BP3MI, Agency.DISNAKER, Agency.KEMENPPPA, Agency.KEMENIMIPAS, Agency.BNN})
"""Agencies a case may be referred to."""


def sees_all_in_region(principal: Principal) -> bool:
    return principal.agency in HANDLERS


def sees(principal: Principal, case: Case) -> bool:
    if not principal.has_scope(READ) and not principal.has_scope(WRITE):
        return False
    if not principal.covers(case.village_code):
        return False
    return sees_all_in_region(principal) or principal.agency.value in case.referred_to


def can_read_content(principal: Principal, case: Case) -> bool:
    if not sees(principal, case) or not principal.has_scope(READ):
        return False
    if case.confidentiality is Confidentiality.RESTRICTED:
        return principal.agency.value in case.content_agencies
    return True


def require_content_purpose(principal: Principal) -> None:
    """Scope and purpose of any read of content, whichever case (checked before a case is even looked at)."""
    principal.require_scope(READ)
    if principal.require_purpose() is not Purpose.PROTECTION_CASE:
        raise Forbidden(
            f"case content is read for the purpose {Purpose.PROTECTION_CASE.value}, not {principal.purpose}",
            reason="wrong_purpose",
        )


def require_content(principal: Principal, case: Case) -> None:
    """Scope, purpose and confidentiality before any content is read (nothing is recorded for a refused read)."""
    require_content_purpose(principal)
    if not can_read_content(principal, case):
        raise Forbidden(
            "this case is restricted: its content is for its owner and the agencies that accepted a referral",
            reason="restricted_case",
        )


def require_handler(principal: Principal, doing: str) -> None:
    principal.require_scope(WRITE)
    if principal.agency not in HANDLERS:
        raise Forbidden(
            f"{principal.agency.value} does not {doing} cases (KP2MI, BP3MI and DISNAKER do)", reason="not_a_handler"
        )


def require_reader(principal: Principal, case: Case, doing: str) -> None:
    """For a change that decides who reads a restricted case next: the caller must be one that reads it."""
    if case.confidentiality is Confidentiality.RESTRICTED and not can_read_content(principal, case):
        raise Forbidden(
            f"this case is restricted: only its owner and the agencies that accepted a referral {doing} it",
            reason="restricted_case",
        )


def require_declassifier(principal: Principal, before: Case, after: Case) -> None:
    """Lowering a RESTRICTED case to STANDARD opens its content to every agency that sees it: decided only by an
    agency that reads it as restricted, as the change leaves it (its holder, or one that accepted a referral)."""
    lowered = before.confidentiality is Confidentiality.RESTRICTED and after.confidentiality is Confidentiality.STANDARD
    if lowered and principal.agency.value not in after.content_agencies:
        raise Forbidden(
            "this case is restricted: only its holder and the agencies that accepted a referral make it STANDARD",
            reason="restricted_case",
        )


def require_owner(principal: Principal, case: Case, doing: str) -> None:
    principal.require_scope(WRITE)
    if principal.agency.value not in (case.owner_agency, Agency.KP2MI.value):
        raise Forbidden(f"only {case.owner_agency} (the case's owner) or KP2MI {doing} it", reason="not_the_owner")


def require_receiver(principal: Principal, referral: Referral) -> None:
    principal.require_scope(WRITE)
    if principal.agency.value != referral.answering_agency:
        raise Forbidden(
            f"only {referral.answering_agency} answers this referral to {referral.target}", reason="not_the_receiver"
        )
