"""Logs are JSON lines and never carry a NIK or phone number in clear, not even inside a traceback."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from demimas_common.logs import JsonFormatter, configure_logging

NIK, PHONE = "3201014508950001", "0812-3456-7890"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture(autouse=True)
def fresh_uvicorn_loggers() -> Iterator[None]:
    """Each test starts from the uvicorn loggers of a new process, and leaves them as it found them: a server run
    in-process by an earlier test of the session (access_log=False, uvicorn's logging config) leaves them switched
    off or not propagating, which these tests would read as the behaviour of `configure_logging`."""
    saved = [(logger, logger.handlers[:], logger.propagate, logger.level)
             for logger in map(logging.getLogger, UVICORN_LOGGERS)]  # fmt: skip
    for logger, *_ in saved:
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    try:
        yield
    finally:
        for logger, handlers, propagate, level in saved:
            logger.handlers[:] = handlers
            logger.propagate = propagate
            logger.setLevel(level)


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    handler = configure_logging("INFO", "test")
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_personal_data_is_masked_in_messages(output: io.StringIO) -> None:
    logging.getLogger("demimas.test").warning("import rejected NIK %s, HP %s", NIK, PHONE)
    (record,) = lines(output)
    assert record["service"] == "test"
    assert record["level"] == "WARNING"
    assert record["logger"] == "demimas.test"
    assert str(record["message"]).startswith("import rejected NIK 3201")
    assert NIK not in output.getvalue()
    assert PHONE not in output.getvalue()


def test_personal_data_is_masked_in_tracebacks(output: io.StringIO) -> None:
    try:
        raise ValueError(f"duplicate NIK {NIK}")
    except ValueError:
        logging.getLogger("demimas.test").exception("row 7 failed")
    (record,) = lines(output)
    assert "ValueError: duplicate NIK" in str(record["exception"])
    assert NIK not in output.getvalue()


def test_a_failed_statements_values_are_withheld_from_messages_and_tracebacks(output: io.StringIO) -> None:
    """What a driver's error quotes (PostgreSQL's DETAIL, a value asyncpg could not encode) has no shape the mask
    knows: a name, a birth date, an address. It is withheld wherever the error's text is written."""
    detail = "DETAIL:  Failing row contains (Siti Aminah, 1994-03-07, Jalan Kenanga 5, dipukul majikan)."
    encoding = "invalid input for query argument $3: '31-13-1990' (expected a datetime.date instance, got 'str')"
    error = f'new row for relation "workers" violates check constraint "workers_address_check"\n{detail}'
    log = logging.getLogger("demimas.test")
    log.warning("statement failed: %s", error)
    try:
        raise ValueError(f"{error}\n{encoding}")
    except ValueError:
        log.exception("row 7 failed")
    first, second = lines(output)
    assert first["message"] == (
        'statement failed: new row for relation "workers" violates check constraint "workers_address_check"\n'
        "DETAIL: (withheld: it may quote the statement's values)"
    )
    assert "invalid input for query argument $3: (withheld" in str(second["exception"])
    for value in ("Siti Aminah", "1994-03-07", "Jalan Kenanga", "dipukul", "31-13-1990"):
        assert value not in output.getvalue()


def test_uvicorn_access_logs_go_through_the_mask(output: io.StringIO) -> None:
    logging.getLogger("uvicorn.access").addHandler(logging.NullHandler())
    configure_logging("INFO", "test").setStream(output)  # type: ignore[attr-defined]
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET /graphql?query={worker(nik:"%s")} HTTP/1.1" 200', NIK)
    assert lines(output)[-1]["logger"] == "uvicorn.access"
    assert NIK not in output.getvalue()


def test_the_setting_decides_for_uvicorn_loggers_too() -> None:
    logging.getLogger("uvicorn.access").setLevel(logging.INFO)  # as uvicorn's own logging config leaves it
    handler = configure_logging("WARNING", "test")
    stream = io.StringIO()
    handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        logging.getLogger("uvicorn.access").info('127.0.0.1 - "POST /graphql HTTP/1.1" 200')
        logging.getLogger("uvicorn.error").warning("something to see")
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    assert [record["logger"] for record in lines(stream)] == ["uvicorn.error"]


def test_an_access_log_uvicorn_switched_off_stays_off() -> None:
    access = logging.getLogger("uvicorn.access")
    access.handlers, access.propagate = [], False  # what uvicorn's access_log=False / --no-access-log leaves
    handler = configure_logging("INFO", "test")
    try:
        assert not access.hasHandlers()  # uvicorn then never formats a request line
    finally:
        logging.getLogger().removeHandler(handler)
        access.propagate = True
        access.setLevel(logging.NOTSET)


def test_configuring_twice_keeps_one_handler() -> None:
    first = configure_logging("INFO", "a")
    second = configure_logging("DEBUG", "b")
    try:
        assert first not in logging.getLogger().handlers
        assert second in logging.getLogger().handlers
    finally:
        logging.getLogger().removeHandler(second)
        logging.getLogger().setLevel(logging.WARNING)


def test_records_in_a_span_carry_its_ids() -> None:
    tracer = TracerProvider().get_tracer("test")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    with tracer.start_as_current_span("work") as span:
        body = json.loads(JsonFormatter("svc").format(record))
    context = span.get_span_context()
    assert body["message"] == "hello there"
    assert body["trace_id"] == f"{context.trace_id:032x}"
    assert body["span_id"] == f"{context.span_id:016x}"
    assert "trace_id" not in json.loads(JsonFormatter("svc").format(record))
