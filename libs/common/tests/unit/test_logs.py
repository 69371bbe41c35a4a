"""Logs are JSON and never carry a NIK or phone number in clear."""

from __future__ import annotations

import io
import json
import logging

from demimas_common.logs import JsonFormatter, configure_logging


def test_personal_data_is_masked_in_logs() -> None:
    handler = configure_logging("INFO", "test")
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        logging.getLogger("demimas.test").warning("import rejected NIK 3201014508950001, HP 0812-3456-7890")
    finally:
        logging.getLogger().removeHandler(handler)
    line = stream.getvalue().strip().splitlines()[-1]
    record = json.loads(line)
    assert record["service"] == "test"
    assert "3201014508950001" not in line
    assert "0812-3456-7890" not in line
    assert record["message"].startswith("import rejected NIK")


def test_formatter_is_json() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    assert json.loads(JsonFormatter("svc").format(record))["message"] == "hello there"
