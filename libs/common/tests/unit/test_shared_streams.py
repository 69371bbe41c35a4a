"""Which subscriptions share one execution: the same document, variables and caller, and none resumed `after`."""

from __future__ import annotations

from typing import Any

from demimas_common.auth.principal import Agency, Principal
from demimas_common.graphql.context import RequestContext
from demimas_common.graphql.shared_streams import sharing_key

CALLER = Principal("sys", Agency.BP3MI, frozenset({"registry:read"}), region="16", expires_at=1.0)
LIVE = "subscription S($f: F, $after: String) { workerChanged(filter: $f, after: $after) { cursor } }"


def key(query: str, variables: dict[str, Any] | None = None, principal: Principal | None = CALLER) -> str | None:
    return sharing_key(query, variables, None, RequestContext(principal))


def test_identical_live_subscriptions_of_one_caller_share() -> None:
    assert key(LIVE, {"f": {"regionPrefix": "16"}}) == key(LIVE, {"f": {"regionPrefix": "16"}}) is not None
    assert key(LIVE, {"after": None}) is not None
    assert key("subscription { workerChanged(after: null) { cursor } }") is not None


def test_what_differs_does_not_share() -> None:
    assert key(LIVE, {"f": {"regionPrefix": "16"}}) != key(LIVE, {"f": {"regionPrefix": "16.06"}})
    other = Principal("sys", Agency.BP3MI, frozenset({"registry:read"}), region="17", expires_at=1.0)
    assert key(LIVE, principal=other) != key(LIVE)


def test_resumed_anonymous_and_unreadable_operations_run_alone() -> None:
    assert key(LIVE, {"after": "41"}) is None
    assert key('subscription { workerChanged(after: "41") { cursor } }') is None
    assert key(LIVE, principal=None) is None
    assert key("query { worker(id: 1) { id } }") is None
    assert key("subscription { workerChanged( ") is None
    assert key("subscription { ...F } fragment F on Subscription { workerChanged { cursor } }") is None
