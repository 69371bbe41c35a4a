"""Structured JSON logs on stderr, with personal data masked by lokal's Samaran filter on the handler, so that a
NIK, phone number or name in any message or traceback never reaches the log in clear."""

from __future__ import annotations

import datetime as dt
import logging
import sys

import orjson
from lokal.samaran.logging import SamaranFilter
from opentelemetry import trace

__all__ = ["JsonFormatter", "configure_logging"]


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "service": self.service,
            "message": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            body["trace_id"] = f"{span.trace_id:032x}"
            body["span_id"] = f"{span.span_id:016x}"
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(body).decode()


def configure_logging(level: str, service: str) -> logging.Handler:
    """Replace the root handlers with one masked JSON handler (idempotent per service)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(SamaranFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_demimas", False):
            root.removeHandler(old)
    handler._demimas = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
