"""Structured JSON logs on stderr, one object per line (`time level logger message service [trace_id span_id]
[exception]`), with personal data masked by lokal's Samaran filter.

The filter sits on the handler, not on a logger, so every record that reaches the output passes through it,
whichever library logged it; it masks the message, the exception text and the stack, so a NIK or phone number in
an exception message (`ValueError(f"bad NIK {nik}")`) never reaches the log in clear either. uvicorn's own
loggers are routed through the same handler: its access log carries request paths, and a GET query can put
personal data in one.

The masking filter finds personal data by its shape (a NIK, a phone number); a name, a birth date, an address or a
note has none. A failed statement's text carries exactly those: the driver appends PostgreSQL's DETAIL (`Key
(nik)=(...) already exists`, `Failing row contains (<nik>, <name>, <birth date>, <address>, ...)`) and quotes a value
it could not send (`invalid input for query argument $3: '31-13-1990' ...`). `WithheldStatementValues`, on the same
handler, withholds both from every message, exception text and stack; SQLAlchemy's `[parameters: ...]` is never
written at all (the engine hides parameters, db/engine.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys

import orjson
from lokal.samaran.logging import SamaranFilter
from opentelemetry import trace

__all__ = ["JsonFormatter", "WithheldStatementValues", "configure_logging", "withhold_statement_values"]

_ROUTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            body["trace_id"] = f"{span.trace_id:032x}"
            body["span_id"] = f"{span.span_id:016x}"
        # The masking filter leaves its masked traceback in `exc_text`; formatting `exc_info` again would undo it.
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            body["exception"] = record.exc_text
        if record.stack_info:
            body["stack"] = record.stack_info
        return orjson.dumps(body).decode()


STATEMENT_VALUES = re.compile(
    r"(?m)^(?P<keep>\s*DETAIL:).*$"  # PostgreSQL's DETAIL, as drivers append it to the message
    r"|(?P<keep2>invalid input for query argument \$\d+:).*$"  # asyncpg quoting a value it could not encode
)
WITHHELD = " (withheld: it may quote the statement's values)"


def withhold_statement_values(text: str) -> str:
    """`text` without the parts of a database error that quote a statement's values."""
    if "DETAIL:" not in text and "query argument" not in text:
        return text
    return STATEMENT_VALUES.sub(lambda m: (m.group("keep") or m.group("keep2")) + WITHHELD, text)


class WithheldStatementValues(logging.Filter):
    """Withholds the values a failed statement's error quotes (DETAIL, a value the driver could not encode) from
    the message, the exception text and the stack of every record. After the masking filter, which leaves the
    record's traceback in `exc_text`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        withheld = withhold_statement_values(message)
        if withheld != message:
            record.msg, record.args = withheld, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = withhold_statement_values(record.exc_text)
        if record.stack_info:
            record.stack_info = withhold_statement_values(record.stack_info)
        return True


class _DemimasHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so a second `configure_logging` replaces it."""


def configure_logging(level: str, service: str) -> logging.Handler:
    """Replace this module's root handler with one masked JSON handler on stderr (idempotent)."""
    handler = _DemimasHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(SamaranFilter())
    handler.addFilter(WithheldStatementValues())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _DemimasHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _ROUTED_LOGGERS:
        routed = logging.getLogger(name)
        # uvicorn switches its access log off (--no-access-log, access_log=False) by leaving the logger without
        # handlers and not propagating, and decides whether to log a request by `hasHandlers()`: keep it off then,
        # or routing it here would switch it back on.
        enabled = bool(routed.handlers) or routed.propagate
        routed.handlers.clear()
        routed.propagate = enabled
        # uvicorn sets its loggers' levels (INFO by default): the stricter of its level and DEMIMAS_LOG_LEVEL wins
        routed.setLevel(max(routed.getEffectiveLevel(), root.level))
    return handler
