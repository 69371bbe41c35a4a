"""Token buckets, circuit breakers and the trusted-document manifest, on a fake clock (no I/O, no sleeping)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from demimas_gateway.breaker import CircuitBreaker
from demimas_gateway.ratelimit import RateLimiter, RateRule
from demimas_gateway.trusted import TrustedDocuments, document_hash


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TestRateLimiter:
    def test_burst_then_rate_then_retry_after(self) -> None:
        clock = Clock()
        limiter = RateLimiter({"BNN": RateRule(rate=0.5, burst=2)}, None, clock)
        assert [limiter.retry_after("BNN") for _ in range(3)] == [0, 0, 2]  # one token back in 2 s
        clock.now += 2
        assert limiter.retry_after("BNN") == 0
        assert limiter.retry_after("BNN") == 2

    def test_agencies_have_their_own_buckets_and_a_default(self) -> None:
        limiter = RateLimiter({"BNN": RateRule(1, 1)}, RateRule(1, 1), Clock())
        assert [limiter.retry_after(a) for a in ("BNN", "KP2MI", "BP3MI")] == [0, 0, 0]
        assert [limiter.retry_after(a) for a in ("BNN", "KP2MI", "BP3MI")] == [1, 1, 1]

    def test_the_default_does_not_cover_anonymous_callers(self) -> None:
        limiter = RateLimiter({}, RateRule(1, 1), Clock())
        assert all(limiter.retry_after(None, "10.0.0.1") == 0 for _ in range(100))

    def test_anonymous_callers_have_a_bucket_per_address(self) -> None:
        clock = Clock()
        limiter = RateLimiter({}, RateRule(50, 100), clock, anonymous=RateRule(rate=5, burst=10))
        assert [limiter.retry_after(None, "10.0.0.1") for _ in range(11)] == [0] * 10 + [1]
        assert limiter.retry_after(None, "10.0.0.2") == 0  # another address: its own bucket
        assert limiter.retry_after("KP2MI") == 0  # agencies: theirs
        clock.now += 0.2  # one token back at 5/s
        assert [limiter.retry_after(None, "10.0.0.1") for _ in range(2)] == [0, 1]

    def test_anonymous_buckets_are_bounded_and_the_longest_idle_goes_first(self) -> None:
        clock = Clock()
        limiter = RateLimiter({}, None, clock, anonymous=RateRule(rate=1, burst=1), max_anonymous_buckets=2)
        assert [limiter.retry_after(None, a) for a in ("a", "b", "a")] == [0, 0, 1]  # "a" used most recently
        assert limiter.retry_after(None, "c") == 0  # evicts "b", the longest idle
        assert limiter.retry_after(None, "a") == 1  # "a" kept its empty bucket
        assert len(limiter._anonymous) == 2

    def test_no_rule_no_limit(self) -> None:
        limiter = RateLimiter({"BNN": RateRule(1, 1)}, None, Clock())
        assert all(limiter.retry_after("KP2MI") == 0 for _ in range(100))
        assert all(limiter.retry_after(None, "10.0.0.1") == 0 for _ in range(100))

    def test_a_replicas_rules_are_shared_among_its_worker_processes(self) -> None:
        limiter = RateLimiter.per_process({"BNN": (10, 20)}, (50, 100), (5, 1), processes=2)
        assert limiter is not None
        assert limiter.rules == {"BNN": RateRule(5, 10)}
        assert limiter.default == RateRule(25, 50)
        assert limiter.anonymous == RateRule(2.5, 1)  # a burst never below one request
        assert RateLimiter.per_process({}, None, None) is None


class TestCircuitBreaker:
    def test_opens_after_failures_half_opens_after_reset(self) -> None:
        clock = Clock()
        breaker = CircuitBreaker(failures=2, reset_seconds=5, clock=clock)
        breaker.failure()
        assert breaker.allow()
        breaker.failure()
        assert not breaker.allow()
        clock.now += 5
        assert breaker.allow()  # the trial
        assert not breaker.allow()  # only one at a time
        breaker.failure()  # the trial failed: open again
        assert not breaker.allow()
        clock.now += 5
        assert breaker.allow()
        breaker.success()
        assert breaker.allow()
        assert not breaker.open

    def test_a_success_resets_the_streak(self) -> None:
        breaker = CircuitBreaker(failures=2, reset_seconds=5, clock=Clock())
        breaker.failure()
        breaker.success()
        breaker.failure()
        assert breaker.allow()


class TestTrustedDocuments:
    def test_manifest_forms_and_lookups(self, tmp_path: Path) -> None:
        body = "{ me { id } }"
        digest = document_hash(body)
        plain = tmp_path / "plain.json"
        plain.write_bytes(orjson.dumps({digest: body}))
        trusted = TrustedDocuments.load(plain)
        assert trusted.resolve({"documentId": f"sha256:{digest}"}) == body
        assert trusted.resolve({"extensions": {"persistedQuery": {"sha256Hash": digest}}}) == body
        assert trusted.resolve({"query": body}) == body
        assert trusted.resolve({"query": "{ me { id name } }"}) is None
        assert trusted.resolve({"documentId": "sha256:" + "0" * 64}) is None

    def test_an_id_that_is_not_the_hash_is_refused(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.json"
        bad.write_bytes(orjson.dumps({"operations": [{"id": "0" * 64, "body": "{ me { id } }"}]}))
        with pytest.raises(ValueError, match="not the SHA-256"):
            TrustedDocuments.load(bad)
