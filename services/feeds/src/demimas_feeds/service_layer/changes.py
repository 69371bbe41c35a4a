"""The change feed: pages of the events an agency may see (visibility.py), in stream order, for systems that sync
by pulling. A cursor is a DEMIMAS stream sequence (a decimal string, as the subscriptions' cursors).

One call reads from the stream after `after` (or from `since`, or from the stream's start) and stops when the page
holds `first` events, when it has scanned `scan_limit` stream messages, or at the end of the stream. `endCursor` is
the sequence of the last message it looked at (also when the page is empty), and `hasNextPage` says whether the
stream holds more messages of the asked-for types after it: a puller loops `after: endCursor` while it is true, and
later starts again from its last `endCursor`. A page that reached the stream's end ends at the stream's last sequence
as it was when the call began (never at a message the caller does not see). A cursor older than the stream's first
sequence is CURSOR_EXPIRED; a malformed one, or one beyond the stream's end, BAD_USER_INPUT."""

from __future__ import annotations

import datetime as dt
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import orjson

from demimas_common.auth.principal import Principal
from demimas_common.errors import BadUserInput
from demimas_common.graphql.village import parse_region_prefix
from demimas_common.subscriptions.cursor import check_cursor, encode_cursor, parse_cursor
from demimas_feeds.adapters.stream_reader import StreamReader, subjects_for
from demimas_feeds.domain.endpoint import check_types_syntax
from demimas_feeds.visibility import Audience, matches_types, project

__all__ = ["DEFAULT_FIRST", "MAX_FIRST", "READ", "Change", "ChangePage", "ChangeQuery", "count_changes", "read_changes"]

READ = "feeds:read"
DEFAULT_FIRST = 100
MAX_FIRST = 1000


@dataclass(frozen=True)
class ChangeQuery:
    after: str | None = None
    types: tuple[str, ...] | None = None
    region_prefix: str | None = None
    since: dt.datetime | None = None
    first: int | None = None


@dataclass(frozen=True)
class Change:
    sequence: int
    event: dict[str, Any]
    """The projected CloudEvent (visibility.project), with `sequence`."""

    @property
    def cursor(self) -> str:
        return encode_cursor(self.sequence)


@dataclass(frozen=True)
class ChangePage:
    changes: list[Change]
    end_cursor: str | None
    has_next_page: bool


def _cursor(after: str | None) -> int | None:
    """The sequence `after` names; BAD_USER_INPUT on `after`, as every connection of the API answers a bad cursor."""
    try:
        return parse_cursor(after)
    except BadUserInput as exc:
        raise BadUserInput(exc.message, field="after") from None


def _visible(
    data: bytes, audience: Audience, types: tuple[str, ...] | None, region_prefix: str | None
) -> dict[str, Any] | None:
    """The message as the audience may see it (visibility.project), or None: not a CloudEvent, another type than
    asked for, or not the audience's to see. The one filter of pages and counts."""
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict):
        return None
    if types is not None and not matches_types(str(event.get("type", "")), types):
        return None
    return project(event, audience, region_prefix=region_prefix)


async def read_changes(
    query: ChangeQuery, principal: Principal, reader: StreamReader, *, scan_limit: int = 10_000
) -> ChangePage:
    principal.require_scope(READ)
    first = DEFAULT_FIRST if query.first is None else query.first
    if not 1 <= first <= MAX_FIRST:
        raise BadUserInput(f"first must be between 1 and {MAX_FIRST}, not {first}", field="first")
    types = check_types_syntax(query.types, field="types") if query.types is not None else None
    region_prefix = parse_region_prefix(query.region_prefix)
    if query.after is not None and query.since is not None:
        raise BadUserInput("pass either after (a cursor) or since (a time), not both", field="since")
    after = _cursor(query.after)
    # The stream's end before the scan: an empty page's end when the scan reaches the end (see below).
    first_seq, last_seq = await reader.bounds()
    if after is not None:
        try:
            check_cursor(after, first_seq=first_seq, last_seq=last_seq)
        except BadUserInput as exc:  # beyond the stream's end (CURSOR_EXPIRED passes as it is)
            raise BadUserInput(exc.message, field="after") from None
    since = query.since
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)

    audience = Audience.of(principal)
    changes: list[Change] = []
    last_seen: int | None = None
    more = False
    messages = reader.read(after=after, since=since, subjects=subjects_for(types), max_messages=scan_limit)
    async with aclosing(messages):  # stopping early removes the consumer now, not at garbage collection
        async for message in messages:
            last_seen, more = message.sequence, message.pending > 0
            projected = _visible(message.data, audience, types, region_prefix)
            if projected is None:
                continue
            projected["sequence"] = encode_cursor(message.sequence)
            changes.append(Change(message.sequence, projected))
            if len(changes) >= first:
                break
    if last_seen is None:
        # Nothing read: from a cursor, stay at it; otherwise the stream's end so far is where to go on from.
        end = after if after is not None else (await reader.bounds())[1]
        return ChangePage([], encode_cursor(end), False)
    if not more and len(changes) < first:
        # The scan reached the end: go on from the end as it was when the scan began (every message of the types up
        # to it was scanned), not from the last message scanned, which may be one the caller does not see: an empty
        # page ending at it would say where, and so when, an event of another region or of a type the caller's
        # grants never receive happened.
        return ChangePage(changes, encode_cursor(max(last_seen, last_seq)), False)
    return ChangePage(changes, encode_cursor(last_seen), more)


async def count_changes(
    query: ChangeQuery, principal: Principal, reader: StreamReader, *, scan_limit: int = 10_000
) -> int:
    """`ChangeConnection.totalCount`: how many events the caller may see from the query's start (`after`, `since`
    or the stream's start) to the stream's end now, with the same types, region and visibility as the pages. The
    stream has no index to count from, so this scans it, at most `scan_limit` messages: beyond that the count is
    refused (BAD_USER_INPUT saying how to narrow it), never answered short. Run only when `totalCount` is selected,
    after `read_changes` has checked the arguments."""
    types = check_types_syntax(query.types, field="types") if query.types is not None else None
    region_prefix = parse_region_prefix(query.region_prefix)
    after = _cursor(query.after)
    since = query.since
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    audience = Audience.of(principal)
    total = 0
    pending = 0
    messages = reader.read(after=after, since=since, subjects=subjects_for(types), max_messages=scan_limit)
    async with aclosing(messages):
        async for message in messages:
            pending = message.pending
            if _visible(message.data, audience, types, region_prefix) is not None:
                total += 1
    if pending > 0:
        raise BadUserInput(
            f"totalCount of changes scans at most {scan_limit} stream messages and more follow: narrow the count "
            "with types, since or a later after, or page with hasNextPage instead",
            field="totalCount",
        )
    return total
