"""The gateway's limits as settings: on by default, overridable and switched off by environment variables."""

from __future__ import annotations

import pytest

from demimas_gateway.app import rate_limiter_from_settings
from demimas_gateway.ratelimit import RateRule
from demimas_gateway.settings import GatewaySettings


def test_rate_limits_are_on_by_default() -> None:
    limiter = rate_limiter_from_settings(GatewaySettings())
    assert limiter is not None
    assert limiter.default == RateRule(50, 100)
    assert limiter.anonymous == RateRule(5, 10)
    assert limiter.rules == {}


def test_a_replicas_worker_processes_share_its_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMIMAS_GATEWAY_WORKERS", "2")  # as `demimas-gateway serve --workers 2` sets it
    limiter = rate_limiter_from_settings(GatewaySettings())
    assert limiter is not None
    assert (limiter.default, limiter.anonymous) == (RateRule(25, 50), RateRule(2.5, 5))


def test_environment_variables_override_and_null_switches_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMIMAS_GATEWAY_RATE_LIMITS", '{"KP2MI": [100, 200]}')
    monkeypatch.setenv("DEMIMAS_GATEWAY_DEFAULT_RATE_LIMIT", "null")
    monkeypatch.setenv("DEMIMAS_GATEWAY_ANONYMOUS_RATE_LIMIT", "[1, 2]")
    monkeypatch.setenv("DEMIMAS_GATEWAY_MAX_DEPTH", "null")
    settings = GatewaySettings()
    assert settings.gateway_max_depth is None
    limiter = rate_limiter_from_settings(settings)
    assert limiter is not None
    assert (limiter.rules, limiter.default, limiter.anonymous) == ({"KP2MI": RateRule(100, 200)}, None, RateRule(1, 2))


def test_every_rate_limit_off_means_no_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMIMAS_GATEWAY_DEFAULT_RATE_LIMIT", "null")
    monkeypatch.setenv("DEMIMAS_GATEWAY_ANONYMOUS_RATE_LIMIT", "null")
    assert rate_limiter_from_settings(GatewaySettings()) is None
