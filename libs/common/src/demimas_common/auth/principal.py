"""The caller of a request, as its verified token describes it, with the checks resolvers use.

Contract (docs/contracts.md, "Tokens" and "Grants"): claims `sub`, `agency`, `scope` (space separated),
optional `region` (a dotted region-code prefix such as `16.06`, matched on whole segments) and `purpose`.
A `region` restricts every grant of the token to that region.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from demimas_common.errors import BadUserInput, Forbidden, NotFound, PurposeRequired
from demimas_common.events.envelope import Actor

__all__ = ["PURPOSE_HEADER", "Agency", "Principal", "Purpose", "region_covers"]

T = TypeVar("T")


class Agency(StrEnum):
    KP2MI = "KP2MI"
    BP3MI = "BP3MI"
    DISNAKER = "DISNAKER"
    KEMENPPPA = "KEMENPPPA"
    KEMENDES = "KEMENDES"
    BNN = "BNN"
    KEMENIMIPAS = "KEMENIMIPAS"
    KEMENKO_POLKAM = "KEMENKO_POLKAM"
    AUDITOR = "AUDITOR"


class Purpose(StrEnum):
    """Why personal data is processed (UU 27/2022): every read of personal fields names one."""

    PLACEMENT_SERVICE = "PLACEMENT_SERVICE"
    PROTECTION_CASE = "PROTECTION_CASE"
    PROGRAMME_DELIVERY = "PROGRAMME_DELIVERY"
    FAMILY_SUPPORT = "FAMILY_SUPPORT"
    STATISTICS = "STATISTICS"
    AUDIT = "AUDIT"
    DATA_SUBJECT_REQUEST = "DATA_SUBJECT_REQUEST"

    @classmethod
    def parse(cls, value: str, *, field: str = "purpose") -> Purpose:
        """The purpose a token's `purpose` claim or the `PURPOSE_HEADER` names (case and surrounding blanks do
        not matter): the one parser of both."""
        try:
            return cls(value.strip().upper())
        except ValueError:
            allowed = ", ".join(p.value for p in cls)
            raise BadUserInput(f"unknown purpose {value!r}; use one of {allowed}", field=field) from None


PURPOSE_HEADER = "X-Demimas-Purpose"
"""The request header that names the request's purpose when the token does not (`Purpose.parse` reads it)."""


def region_covers(prefix: str | None, code: str) -> bool:
    """True when `code` lies inside the region `prefix` (whole dotted segments: 16.06 covers 16.06.13.2001,
    not 16.061)."""
    if prefix is None:
        return True
    return code == prefix or code.startswith(prefix + ".")


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    agency: Agency
    scopes: frozenset[str]
    region: str | None = None
    purpose: Purpose | None = None
    token_id: str | None = field(default=None, compare=False)
    expires_at: float | None = field(default=None, compare=False)
    """When the verifier stops accepting the token (its `exp` plus the leeway), as a Unix time: a subscription
    ends then (`UNAUTHENTICATED`, reason `expired`). None for a principal made without a token (tests)."""

    @property
    def actor(self) -> Actor:
        return Actor(agency=self.agency.value, sub=self.sub)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"{self.agency.value} token lacks the scope {scope}", required_scope=scope)

    def covers(self, code: str) -> bool:
        return region_covers(self.region, code)

    def require_region(self, code: str, *, field: str | None = None) -> None:
        if not self.covers(code):
            raise Forbidden(f"{code} lies outside this token's region {self.region}", field=field)

    def require_visible(self, code: str, what: str, *, field: str | None = None) -> None:
        """For a record named by id: outside the region it is answered as missing (NOT_FOUND, naming only what was
        asked for), so that a write by id cannot confirm that a record exists in another region, nor where."""
        if not self.covers(code):
            raise NotFound(f"no {what}", field=field)

    async def find_visible(
        self, lookup: Awaitable[T | None], village_of: Callable[[T], str | None], what: str, *, field: str | None
    ) -> T:
        """The record a caller names by id, or NOT_FOUND `no {what}` at `field`: the one answer, word for word, for
        an id nobody registered (the lookup answers None or raises its own NotFound, whose wording is dropped) and
        for a record outside the caller's region (docs/contracts.md, the region rule), so that no refusal is an
        oracle of existence elsewhere. A record of no village is visible to national callers only."""
        try:
            found = await lookup
        except NotFound:
            found = None
        code = village_of(found) if found is not None else None
        if found is None or not (self.covers(code) if code is not None else self.region is None):
            raise NotFound(f"no {what}", field=field)
        return found

    def with_purpose(self, purpose: Purpose | None) -> Principal:
        """The principal with the request's purpose (header), which may not contradict the token's claim."""
        if purpose is None or purpose == self.purpose:
            return self
        if self.purpose is not None:
            raise Forbidden(
                f"the {PURPOSE_HEADER} header ({purpose.value}) contradicts the token's purpose ({self.purpose.value})"
            )
        return Principal(self.sub, self.agency, self.scopes, self.region, purpose, self.token_id, self.expires_at)

    def require_purpose(self) -> Purpose:
        if self.purpose is None:
            allowed = ", ".join(p.value for p in Purpose)
            raise PurposeRequired(
                f"personal data needs a purpose: a `purpose` token claim or the {PURPOSE_HEADER} header ({allowed})"
            )
        return self.purpose
