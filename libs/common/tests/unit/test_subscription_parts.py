"""The pure parts of subscriptions: cursors, subject matching, a feed's bounded queue, the region rule."""

from __future__ import annotations

import pytest

from demimas_common.auth.principal import Agency, Principal
from demimas_common.errors import BadUserInput, CursorExpired
from demimas_common.events.envelope import new_event
from demimas_common.subscriptions import Feed, LiveEvent, check_cursor, parse_cursor, subject_matches, visible_in_region


@pytest.mark.parametrize("text", ["abc", "-1", "1.5", "", " ", "1e3", "0x10", "9" * 21, str(2**64)])
def test_a_cursor_is_a_non_negative_decimal(text: str) -> None:
    with pytest.raises(BadUserInput) as refused:
        parse_cursor(text)
    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "field": "after", "reason": "invalid_cursor"}


def test_cursors_that_parse() -> None:
    assert parse_cursor(None) is None
    assert parse_cursor("0") == 0
    assert parse_cursor(" 42 ") == 42


def test_a_cursor_beyond_the_stream_is_invalid_and_one_before_its_retention_expired() -> None:
    check_cursor(10, first_seq=1, last_seq=10)
    check_cursor(4, first_seq=5, last_seq=10)  # the next event is the first one held
    check_cursor(0, first_seq=0, last_seq=0)  # an empty stream
    with pytest.raises(BadUserInput):
        check_cursor(11, first_seq=1, last_seq=10)
    with pytest.raises(CursorExpired) as expired:
        check_cursor(3, first_seq=5, last_seq=10)
    assert expired.value.extensions["firstAvailableCursor"] == "5"
    assert expired.value.extensions["resumeAfter"] == "4"


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("demimas.>", "demimas.registry.worker.updated", True),
        ("demimas.registry.worker.>", "demimas.registry.worker.updated", True),
        ("demimas.registry.worker.>", "demimas.registry.worker", False),
        ("demimas.registry.*.updated", "demimas.registry.worker.updated", True),
        ("demimas.registry.*.updated", "demimas.registry.worker.registered", False),
        ("demimas.registry.worker.updated", "demimas.registry.worker.updated", True),
        ("demimas.registry.worker.updated", "demimas.registry.worker.updated.x", False),
    ],
)
def test_subject_matching(pattern: str, subject: str, matches: bool) -> None:
    assert subject_matches(pattern, subject) is matches


def worker(village: str) -> LiveEvent:
    data = {"workerId": "00000000-0000-7000-8000-000000000000", "villageCode": village, "status": "CPMI", "version": 1}
    return LiveEvent(1, new_event("demimas.registry.worker.registered", data["workerId"], data))


def test_a_feed_queues_what_it_accepts_up_to_its_limit() -> None:
    feed = Feed("demimas.registry.worker.>", lambda e: e.data["villageCode"].startswith("16"), limit=2)
    feed.offer(worker("35.07.01.2001"))
    feed.offer(worker("16.06.01.2001"))
    feed.offer(worker("16.06.01.2002"))
    assert len(feed.queue) == 2
    assert not feed.overflowed
    feed.offer(worker("16.06.01.2003"))
    assert feed.overflowed
    assert len(feed.queue) == 2


def test_a_replaying_feed_drops_its_buffer_when_it_overflows() -> None:
    feed = Feed("demimas.>", lambda e: True, limit=2)
    feed.replaying = True
    for _ in range(3):
        feed.offer(worker("16.06.01.2001"))
    assert feed.overflowed
    assert not feed.queue


def test_a_failing_filter_drops_the_event_for_that_feed_only() -> None:
    feed = Feed("demimas.>", lambda e: e.data["missing"], limit=2)
    feed.offer(worker("16.06.01.2001"))
    assert not feed.queue


def test_the_region_rule_for_events() -> None:
    national = Principal("a", Agency.KP2MI, frozenset())
    regional = Principal("b", Agency.BP3MI, frozenset(), region="16.06")
    assert visible_in_region(national, None)
    assert visible_in_region(regional, "16.06.01.2001")
    assert not visible_in_region(regional, "16.061.01.2001")
    assert not visible_in_region(regional, None)
