"""CSRF tokens: every form carries `csrf_token`, derived from the session's secret; a POST whose token does not
match its session's is refused with 403 and the code CSRF_FAILED.

The session cookie exists before sign-in, so the sign-in form is protected the same way: its token is checked
against the pre-session cookie (a double submit whose cookie half is encrypted), and sign-in replaces the secret.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["CSRF_FIELD", "CSRFFailed", "csrf_token", "csrf_valid"]

CSRF_FIELD = "csrf_token"


class CSRFFailed(Exception):
    """A POST without the form token of its session (code CSRF_FAILED)."""

    code = "CSRF_FAILED"


def csrf_token(secret: str) -> str:
    """The form token of a session: an HMAC of its secret, so the page never shows the secret itself."""
    return hmac.new(secret.encode(), b"demimas-portal-csrf-v1", hashlib.sha256).hexdigest()


def csrf_valid(secret: str, submitted: str | None) -> bool:
    """Compared as bytes: `compare_digest` of two str raises TypeError on non-ASCII input (a 500, not a refusal)."""
    return bool(submitted) and hmac.compare_digest(csrf_token(secret).encode(), (submitted or "").encode())
