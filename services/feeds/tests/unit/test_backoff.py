from __future__ import annotations

import datetime as dt
import random

from demimas_feeds.domain.backoff import MAX_ATTEMPTS, SCHEDULE_SECONDS, Backoff


def test_the_schedule_of_the_contract_with_ten_percent_jitter() -> None:
    backoff = Backoff()
    rng = random.Random(7)
    for attempts, base in enumerate((5, 300, 1800, 7200, 18000, *[36000] * 6), start=1):
        for _ in range(50):
            delay = backoff.delay(attempts, rng)
            assert delay is not None
            assert base * 0.9 <= delay <= base * 1.1


def test_jitter_spreads_the_retries() -> None:
    rng = random.Random(1)
    delays = {Backoff().delay(2, rng) for _ in range(20)}
    assert len(delays) > 10


def test_exhausted_after_twelve_attempts_over_about_three_days() -> None:
    assert MAX_ATTEMPTS == 12 == len(SCHEDULE_SECONDS) + 1
    assert Backoff().delay(11) is not None
    assert Backoff().delay(12) is None
    assert Backoff().next_attempt_at(13, dt.datetime.now(dt.UTC)) is None
    hours = sum(SCHEDULE_SECONDS) / 3600
    assert 60 <= hours <= 72, f"the last attempt {hours:.1f} h after the first, not about three days"
    assert hours * 1.1 < Backoff().disable_after.total_seconds() / 3600, "a delivery outlives the disabling clock"


def test_scale_shortens_delays_not_the_number_of_attempts() -> None:
    short = Backoff(scale=0.001, jitter=0.0)
    assert short.delay(1) == 0.005
    assert short.delay(11) == 36.0
    assert short.delay(12) is None


def test_disable_after_failing_continuously_for_the_threshold() -> None:
    now = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    backoff = Backoff(disable_after=dt.timedelta(hours=120))
    assert not backoff.should_disable(None, now)
    assert not backoff.should_disable(now - dt.timedelta(hours=119, minutes=59), now)
    assert backoff.should_disable(now - dt.timedelta(hours=120), now)
