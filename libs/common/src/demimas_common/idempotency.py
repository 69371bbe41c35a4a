"""Idempotency keys (in the spirit of Stripe's `Idempotency-Key`): a client that lost the answer to a create sends it
again with the same key and gets the row the first attempt made, not a second one.

A key is the caller's: scoped to its office (`key_owner`: the agency, and the region of a regional office's token, so
that two provinces' BP3MI offices neither collide nor learn of each other's keys), 1 to 100 printable ASCII
characters. With the key the service stores a fingerprint of the request (its operation and canonical input: sets in
a fixed order, no server-chosen values such as ids and times), so the same key sent with a different input is told
apart from a retry. Pure: the claim itself (a unique index on agency and key) is in
`demimas_common.db.idempotency`; each service's fingerprints of its own operations build on `fingerprint`."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from demimas_common.auth.principal import Principal
from demimas_common.errors import BadUserInput

__all__ = ["MAX_KEY_LENGTH", "check_key", "fingerprint", "key_owner"]

MAX_KEY_LENGTH = 100
_KEY = re.compile(r"[\x20-\x7e]+")


def key_owner(principal: Principal) -> str:
    """Whose keys these are: `BP3MI@16` for a regional office, `KEMENDES` for a national agency."""
    agency = principal.agency.value
    return f"{agency}@{principal.region}" if principal.region is not None else agency


def check_key(key: str | None, field: str = "idempotencyKey") -> str | None:
    """The key as given (None when absent); BadUserInput naming `field` when it is empty, too long or not printable
    ASCII. A UUID or `<system>-<record id>` both fit."""
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise BadUserInput(
            f"{field} must have 1 to {MAX_KEY_LENGTH} characters (it has {len(key)}); a UUID is a good key",
            field=field,
        )
    if not _KEY.fullmatch(key):
        raise BadUserInput(
            f"{field} must be printable ASCII (letters, digits, punctuation, spaces); a UUID is a good key",
            field=field,
        )
    return key


def fingerprint(operation: str, canonical: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the operation and its canonical input as compact JSON with sorted keys."""
    body = json.dumps({"operation": operation, "input": canonical}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()
