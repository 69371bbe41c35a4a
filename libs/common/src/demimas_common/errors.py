"""The project's errors, each with a stable GraphQL `extensions.code` a caller can act on.

DemimasError                      (code)
├── BadUserInput                  BAD_USER_INPUT     input failed validation; `field` names the culprit
├── NotFound                      NOT_FOUND          no such record, or not visible to the caller
├── Conflict                      CONFLICT           duplicate, or a concurrent update won
├── Unauthenticated               UNAUTHENTICATED    no token, or a token that does not verify
├── Forbidden                     FORBIDDEN          authenticated, but the grant does not allow it
│   └── PurposeRequired           PURPOSE_REQUIRED   personal data asked for without a purpose
├── Unavailable                   UNAVAILABLE        a dependency (database, audit trail) is down
├── CursorExpired                 CURSOR_EXPIRED     a subscription's `after` lies before the stream's retention
└── SlowConsumer                  SLOW_CONSUMER      a subscriber fell too far behind; resume from its last cursor
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BadUserInput",
    "Conflict",
    "CursorExpired",
    "DemimasError",
    "Forbidden",
    "NotFound",
    "PurposeRequired",
    "SlowConsumer",
    "Unauthenticated",
    "Unavailable",
]


class DemimasError(Exception):
    code: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    @property
    def extensions(self) -> dict[str, Any]:
        ext: dict[str, Any] = {"code": self.code}
        if self.field is not None:
            ext["field"] = self.field
        ext.update(self.details)
        return ext


class BadUserInput(DemimasError):
    code = "BAD_USER_INPUT"


class NotFound(DemimasError):
    code = "NOT_FOUND"


class Conflict(DemimasError):
    code = "CONFLICT"


class Unauthenticated(DemimasError):
    code = "UNAUTHENTICATED"


class Forbidden(DemimasError):
    code = "FORBIDDEN"


class PurposeRequired(Forbidden):
    code = "PURPOSE_REQUIRED"


class Unavailable(DemimasError):
    code = "UNAVAILABLE"


class CursorExpired(DemimasError):
    code = "CURSOR_EXPIRED"


class SlowConsumer(DemimasError):
    code = "SLOW_CONSUMER"
