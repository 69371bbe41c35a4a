from __future__ import annotations

import datetime as dt
import random

from demimas_feeds.domain.backoff import MAX_ATTEMPTS, SCHEDULE_SECONDS, Backoff


def test_the_schedule_of_the_contract_with_ten_percent_jitter() -> None:
    backoff = Backoff()
    rng = random.Random(7)
    for attempts, base in enumerate((5, 300, 1800, 7200, 18000, 36000, 36000), start=1):
        for _ in range(50):
            delay = backoff.delay(attempts, rng)
            assert delay is not None
            assert base * 0.9 <= delay <= base * 1.1


def test_jitter_spreads_the_retries() -> None:
    rng = random.Random(1)
    delays = {Backoff().delay(2, rng) for _ in range(20)}
    assert len(delays) > 10


def test_exhausted_after_eight_attempts() -> None:
    assert MAX_ATTEMPTS == 8 == len(SCHEDULE_SECONDS) + 1
    assert Backoff().delay(7) is not None
    assert Backoff().delay(8) is None
    assert Backoff().next_attempt_at(9, dt.datetime.now(dt.UTC)) is None


def test_scale_shortens_delays_not_the_number_of_attempts() -> None:
    short = Backoff(scale=0.001, jitter=0.0)
    assert short.delay(1) == 0.005
    assert short.delay(7) == 36.0
    assert short.delay(8) is None


def test_disable_after_failing_continuously_for_the_threshold() -> None:
    now = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    backoff = Backoff(disable_after=dt.timedelta(hours=120))
    assert not backoff.should_disable(None, now)
    assert not backoff.should_disable(now - dt.timedelta(hours=119, minutes=59), now)
    assert backoff.should_disable(now - dt.timedelta(hours=120), now)
