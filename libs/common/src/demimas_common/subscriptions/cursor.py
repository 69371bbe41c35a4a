"""Subscription cursors: an event's `cursor` is its sequence in the DEMIMAS stream, as a decimal string.

`after` resumes a subscription: every matching event with a greater sequence, then live ones. What `after` may be
(docs/contracts.md, "Subscriptions"):

- not a non-negative decimal integer, or beyond the stream's last sequence: BAD_USER_INPUT, reason
  `invalid_cursor` (a cursor this stream never handed out);
- older than the stream's retention (events after it are gone: the first sequence still held is > after + 1):
  CURSOR_EXPIRED, with `firstAvailableCursor` (the oldest event still held) and `resumeAfter` (the smallest `after`
  accepted) in the extensions, so that the client resyncs by query and resumes from there.
"""

from __future__ import annotations

import re

from demimas_common.errors import BadUserInput, CursorExpired

__all__ = ["check_cursor", "encode_cursor", "parse_cursor"]

_DECIMAL = re.compile(r"^[0-9]{1,20}$")
MAX_SEQUENCE = 2**64 - 1


def encode_cursor(sequence: int) -> str:
    return str(sequence)


def parse_cursor(after: str | None, *, field: str = "after") -> int | None:
    """The stream sequence `after` names (None: no cursor, live events only)."""
    if after is None:
        return None
    text = after.strip()
    if not _DECIMAL.match(text) or int(text) > MAX_SEQUENCE:
        raise BadUserInput(
            f"{after[:40]!r} is not a cursor: pass the `cursor` of the last event received (a decimal number)",
            field=field,
            reason="invalid_cursor",
        )
    return int(text)


def check_cursor(after: int, *, first_seq: int, last_seq: int, field: str = "after") -> None:
    """Refuse a cursor the stream cannot resume from (its first and last sequences as the stream reports them)."""
    if after > last_seq:
        raise BadUserInput(
            f"cursor {after} is beyond the last event ({last_seq}): pass the `cursor` of an event received",
            field=field,
            reason="invalid_cursor",
        )
    if first_seq > after + 1:
        raise CursorExpired(
            f"events after cursor {after} are no longer kept (the oldest is {first_seq}): read the current state "
            f'with a query, then subscribe with after: "{first_seq - 1}" or without a cursor',
            field=field,
            firstAvailableCursor=encode_cursor(first_seq),
            resumeAfter=encode_cursor(first_seq - 1),
        )
