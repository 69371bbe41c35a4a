"""A federated subscription: planned once, like a query, by the same pipeline (parse, validate, limits, cost,
authorization, plan). The plan's root fetch is the subscription itself, sent to its subgraph over an upstream
`graphql-transport-ws` connection; each event the subgraph sends is that fetch's answer, and the plan's other
fetches (entity fields of other subgraphs, `@requires`) run per event through `_entities` exactly as for a query,
then the event is shaped like a query's response (the caller's field order, aliases, null propagation, and an
`UNAUTHORIZED_FIELD_OR_TYPE` error at each field removed for the caller).

Events are processed one after the other, in the order the subgraph sent them: a subscriber never sees a later
event before an earlier one (the cursor's promise). The joins of one event run concurrently as for a query.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace

from demimas_gateway.caller import Caller
from demimas_gateway.errors import RequestError
from demimas_gateway.fetcher import SubgraphFailure
from demimas_gateway.plan import Fetch
from demimas_gateway.upstream import UpstreamErrors, UpstreamSubscriptions

if TYPE_CHECKING:
    from demimas_gateway.gateway import Gateway, _CachedPlan

__all__ = ["Subscription", "prepare_subscription"]

tracer = trace.get_tracer("demimas.gateway")

JOIN_WINDOW = 32
"""Events of one subscription whose joins run at once."""


@dataclass
class Subscription:
    gateway: Gateway
    cached: _CachedPlan
    variables: dict[str, Any]
    root: Fetch
    headers: dict[str, str]

    async def events(self, upstream: UpstreamSubscriptions) -> AsyncGenerator[dict[str, Any], None]:
        """Each event as the client receives it (`{"data": ..., "errors": [...]}`), until the subgraph completes.
        A subgraph that fails or closes ends the stream with one last result carrying only `errors` (the
        subgraph's code and `serviceName`), after which the client subscribes again after its last cursor."""
        plan = self.cached.plan
        root = self.root
        request: dict[str, Any] = {
            "query": root.query,
            "variables": {name: self.variables[name] for name in root.variables if name in self.variables},
        }
        stream = upstream.events(root.graph, request, self.headers)
        joins = len(plan.fetches) > 1
        try:
            if joins:  # other subgraphs' fields: several events' joins in flight, delivered in order
                async for body in self._pipelined(stream):
                    yield body
            else:
                async for answer in stream:
                    yield await self._result(answer)
        except SubgraphFailure as failure:
            error = {"message": failure.message, "extensions": {"code": failure.code, "serviceName": failure.graph}}
            yield {"errors": [error]}
        except UpstreamErrors as refused:
            yield {"errors": [_from_subgraph(e, refused.graph) for e in refused.errors]}
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()

    async def _result(self, answer: dict[str, Any]) -> dict[str, Any]:
        """One event's answer from the root subgraph -> the client's result: the plan's other fetches run with it
        as the root fetch's answer, then shaped as a query's response."""
        plan = self.cached.plan
        data, errors = await self.gateway.executor.run(plan, self.variables, self.headers, {self.root.id: answer})
        shaped = self.cached.shaper.shape(plan.operation.items, plan.operation.root_type, data, errors)
        return {"errors": errors, "data": shaped} if errors else {"data": shaped}

    async def _pipelined(self, stream: AsyncGenerator[dict[str, Any], None]) -> AsyncGenerator[dict[str, Any], None]:
        """Up to `JOIN_WINDOW` events joined concurrently (a join waits on other subgraphs; one at a time caps a
        subscription at one event per round trip), their results yielded in the order the subgraph sent them. The
        window full, the upstream socket is not read (backpressure to the subgraph)."""
        window: asyncio.Queue[asyncio.Task[dict[str, Any]] | BaseException | None] = asyncio.Queue(JOIN_WINDOW)

        async def read() -> None:
            try:
                async for answer in stream:
                    await window.put(asyncio.create_task(self._result(answer)))
                await window.put(None)
            except Exception as exc:  # the failure is raised to the subscriber after the events before it
                await window.put(exc)

        reader = asyncio.create_task(read())
        try:
            while True:
                item = await window.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield await item
        finally:
            reader.cancel()
            while not window.empty():
                left = window.get_nowait()
                if isinstance(left, asyncio.Task):
                    left.cancel()
            with contextlib.suppress(BaseException):
                await reader


def _from_subgraph(error: dict[str, Any], graph: str) -> dict[str, Any]:
    """A subgraph's error as the client sees it: its message and extensions (code, reason...) and `serviceName`;
    its locations and path refer to the subgraph's operation, not the client's, and are left out."""
    extensions = error.get("extensions")
    merged = dict(extensions) if isinstance(extensions, dict) else {}
    merged.setdefault("serviceName", graph)
    return {"message": str(error.get("message", "subgraph error")), "extensions": merged}


def prepare_subscription(
    gateway: Gateway,
    query: str,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    caller: Caller,
    headers: Mapping[str, str],
) -> Subscription:
    """Plan a subscription (raises `RequestError` as for queries, before anything is sent to a subgraph)."""
    with tracer.start_as_current_span("graphql.subscribe"):
        cached, coerced, _, _ = gateway.plan_for(query, operation_name, variables, caller)
        if cached.plan.operation.operation != "subscription":
            raise RequestError("not a subscription", "BAD_REQUEST")
        roots = [f for f in cached.plan.fetches if not f.depends and not f.is_entity]
        if not roots:
            field = next((i for i in cached.plan.operation.items if getattr(i, "name", None)), None)
            name = getattr(field, "name", "the subscription field")
            raise RequestError(
                f"this caller may not subscribe to {name}: its token lacks what the field requires",
                "UNAUTHORIZED_FIELD_OR_TYPE",
                status=403,
            )
        if len(roots) > 1:
            raise RequestError("a subscription must be served by one subgraph", "QUERY_PLANNING_FAILED", status=500)
        forwarded = dict(headers)
        propagate.inject(forwarded)
    return Subscription(gateway, cached, coerced, roots[0], forwarded)
