"""Live subscriptions shared between subscribers that would receive exactly the same events: the same document,
operation, variables, `Authorization` and purpose (so the same plan, the same access decisions in the gateway and in
the subgraphs, the same token lifetime). One upstream subscription, one `_entities` join and one serialisation per
event serve them all; each subscriber's own bounded send buffer still applies to it alone.

Only live subscriptions are shared: one that resumes (`after:` a cursor, per the subscription contract) must get
its own replay, and runs alone. A subscriber that joins a running group receives the events from that moment, which
is what a subscription without `after` promises. Why sharing at all: the benchmark's 1,000 subscribers in 10 regions
hold 10 distinct subscriptions per token; without sharing each event is received, joined, shaped and serialised
once per subscriber (see docs/subscriptions.md for the figures).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import NullValueNode, VariableNode

from demimas_gateway.operation import Field
from demimas_gateway.subscription import Subscription
from demimas_gateway.upstream import UpstreamSubscriptions

__all__ = ["Ended", "SharedSubscriptions", "resumes"]

log = logging.getLogger("demimas.gateway")

OnEvent = Callable[[bytes], None]
Ended = list[dict[str, Any]] | None
"""How a subscription ended: None when the subgraph completed it, else the errors that ended it."""


def resumes(subscription: Subscription) -> bool:
    """Whether the subscription starts `after:` a cursor (given as a literal or a non-null variable)."""
    for item in subscription.cached.plan.operation.items:
        if not isinstance(item, Field):
            continue
        for argument in item.arguments:
            if argument.name.value != "after":
                continue
            value = argument.value
            if isinstance(value, VariableNode):
                return subscription.variables.get(value.name.value) is not None
            return not isinstance(value, NullValueNode)
    return False


@dataclass(eq=False)
class _Group:
    members: dict[int, tuple[OnEvent, asyncio.Future[Ended]]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


class SharedSubscriptions:
    def __init__(self, upstream: UpstreamSubscriptions, *, enabled: bool = True) -> None:
        self.upstream = upstream
        self.enabled = enabled
        self._groups: dict[tuple[Any, ...], _Group] = {}

    @property
    def groups(self) -> int:
        return len(self._groups)

    async def run(
        self,
        subscription: Subscription,
        request: Mapping[str, Any],
        headers: Mapping[str, str],
        on_event: OnEvent,
    ) -> Ended:
        """Deliver each event's result (serialised JSON) to `on_event` until the subscription ends; returns how it
        ended. Cancel the caller to unsubscribe."""
        if not self.enabled or resumes(subscription):
            return await _alone(subscription, self.upstream, on_event)
        key = (
            request.get("query"),
            request.get("operationName"),
            orjson.dumps(subscription.variables, option=orjson.OPT_SORT_KEYS, default=str),
            headers.get("authorization"),
            headers.get("x-demimas-purpose"),
        )
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group()
            group.task = asyncio.create_task(self._pump(key, group, subscription))
        ended: asyncio.Future[Ended] = asyncio.get_running_loop().create_future()
        token = id(ended)
        group.members[token] = (on_event, ended)
        try:
            return await ended
        finally:
            group.members.pop(token, None)
            if not group.members and self._groups.get(key) is group:
                del self._groups[key]
                if group.task is not None:
                    group.task.cancel()

    async def _pump(self, key: tuple[Any, ...], group: _Group, subscription: Subscription) -> None:
        outcome: Ended = [{"message": "the subscription ended", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]
        try:
            async with aclosing(subscription.events(self.upstream)) as events:
                async for body in events:
                    if "data" not in body:
                        outcome = body["errors"]
                        return
                    raw = orjson.dumps(body)
                    for on_event, _ in list(group.members.values()):
                        on_event(raw)
            outcome = None
        except Exception:
            log.exception("shared subscription failure")
        finally:
            if self._groups.get(key) is group:
                del self._groups[key]
            for _, ended in list(group.members.values()):
                if not ended.done():
                    ended.set_result(outcome)


async def _alone(subscription: Subscription, upstream: UpstreamSubscriptions, on_event: OnEvent) -> Ended:
    async with aclosing(subscription.events(upstream)) as events:
        async for body in events:
            if "data" not in body:
                return body["errors"]  # type: ignore[no-any-return]
            on_event(orjson.dumps(body))
    return None
