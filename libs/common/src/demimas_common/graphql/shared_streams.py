"""Identical live subscriptions of one caller share one execution.

A hundred subscribers of one office that send the same subscription with the same token would otherwise execute
every event a hundred times for the same answer. Here the first such subscription starts the stream; the others
join it and receive every result from when they joined, each through a bounded queue of its own (a member that
falls `limit` results behind ends with SLOW_CONSUMER, the others go on). The stream ends when its last member
leaves.

Only what is certainly the same answer is shared: a subscription whose root fields are given no `after` (a resumed
subscription replays from its own cursor; `after: $after` with a null variable is not a resumption), by a caller
whose token verified, keyed on the document, the variables, the operation name and the whole caller (agency, sub,
scopes, region, purpose and the token's expiry). A personal field read in such a stream is recorded once per event
for that caller, not once per connection of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    parse,
)
from strawberry.types import ExecutionResult

from demimas_common.auth.principal import Principal

__all__ = ["SharedStreams", "sharing_key"]

log = logging.getLogger("demimas.subscriptions")
Source = AsyncGenerator[Any, None]


def sharing_key(query: Any, variables: Any, operation_name: Any, context: Any) -> str | None:
    """The key under which this operation may share its stream, or None when it must run on its own."""
    if not isinstance(query, str) or not query.lstrip().startswith("subscription"):
        return None
    if _resumes(query, variables or {}, operation_name):
        return None
    principal: Principal | None = getattr(context, "principal", None)
    if principal is None or getattr(context, "auth_error", None) is not None:
        return None
    caller = (principal.agency.value, principal.sub, sorted(principal.scopes), principal.region,
              principal.purpose.value if principal.purpose else None, principal.expires_at)  # fmt: skip
    return json.dumps([query, variables or {}, operation_name, caller], sort_keys=True, default=str)


def _resumes(query: str, variables: dict[str, Any], operation_name: Any) -> bool:
    """True when a root field of the operation is given an `after` (a literal, or a variable that is not null), or
    when the document cannot be read here (then it runs alone and its errors come from the usual path)."""
    try:
        document = parse(query, no_location=True, max_tokens=10_000)
    except GraphQLError:
        return True
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.SUBSCRIPTION:
        return True
    for selection in operations[0].selection_set.selections:
        if not isinstance(selection, FieldNode):
            return True  # fragments at the root: not worth following
        for argument in selection.arguments or ():
            if argument.name.value != "after":
                continue
            value = argument.value
            if isinstance(value, VariableNode):
                if variables.get(value.name.value) is not None:
                    return True
            elif not isinstance(value, NullValueNode):
                return True
    return False


class _Member:
    def __init__(self, limit: int) -> None:
        self.queue: deque[Any] = deque()
        self.limit = limit
        self.overflowed = False
        self.ended = False
        self.ready = asyncio.Event()

    def put(self, result: Any) -> None:
        if self.overflowed:
            return
        if len(self.queue) >= self.limit:
            self.overflowed = True
        else:
            self.queue.append(result)
        self.ready.set()

    def end(self) -> None:
        self.ended = True
        self.ready.set()


class _Shared:
    def __init__(self, key: str, source: Source, on_empty: Callable[[str], None]) -> None:
        self.key = key
        self.source = source
        self.members: set[_Member] = set()
        self.on_empty = on_empty
        self.task = asyncio.create_task(self._pump(), name="shared-subscription")
        self.done = False

    async def _pump(self) -> None:
        try:
            async for result in self.source:
                for member in tuple(self.members):
                    member.put(result)
        except asyncio.CancelledError:
            raise
        except Exception:  # the source shapes its own errors; anything else ends the members
            log.exception("a shared subscription stream failed")
        finally:
            self.done = True
            self.on_empty(self.key)
            for member in tuple(self.members):
                member.end()
            with contextlib.suppress(Exception):
                await self.source.aclose()

    async def leave(self, member: _Member) -> None:
        self.members.discard(member)
        if not self.members and not self.done:
            self.done = True
            self.on_empty(self.key)
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


class SharedStreams:
    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self.streams: dict[str, _Shared] = {}

    async def join(self, key: str, start: Callable[[], Coroutine[Any, Any, Source]]) -> Source:
        shared = self.streams.get(key)
        if shared is None or shared.done:
            shared = _Shared(key, await start(), self._forget)
            self.streams[key] = shared
        member = _Member(self.limit)
        shared.members.add(member)
        return self._read(shared, member)

    def _forget(self, key: str) -> None:
        self.streams.pop(key, None)

    async def _read(self, shared: _Shared, member: _Member) -> Source:
        last: str | None = None
        try:
            while True:
                if member.queue:
                    result = member.queue.popleft()
                    last = _cursor_of(result) or last
                    yield result
                    continue
                if member.overflowed:
                    error = GraphQLError(
                        f"this subscription fell more than {member.limit} events behind and was ended: subscribe "
                        f'again with after: "{last}" to miss nothing',
                        extensions={"code": "SLOW_CONSUMER", "lastCursor": last},
                    )
                    yield ExecutionResult(data=None, errors=[error])
                    return
                if member.ended:
                    return
                member.ready.clear()
                await member.ready.wait()
        finally:
            await shared.leave(member)


def _cursor_of(result: Any) -> str | None:
    """The `cursor` of the event a result carries (every event object has one), if it is there."""
    data = getattr(result, "data", None)
    if not isinstance(data, dict) or len(data) != 1:
        return None
    event = next(iter(data.values()))
    cursor = event.get("cursor") if isinstance(event, dict) else None
    return cursor if isinstance(cursor, str) else None
