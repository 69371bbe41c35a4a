"""The client's operation name on the request context (`RequestContext.operation`), for records that name what a
caller ran: the registry's `personal_data.accessed` events, hence the audit's `Worker.accessLog.operation`.

Filled when execution starts, from the request's `operationName` or else the document's operation. A federation
gateway names each subgraph fetch `<ClientOperation>__<subgraph>__<n>` (ours and Apollo's planners alike): that
suffix is removed, so a read through the gateway is recorded under the name the client gave it. An anonymous
client operation arrives from our gateway as `Op__registry__0` and is recorded as `Op`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

__all__ = ["MAX_LENGTH", "OperationName", "client_operation_name"]

MAX_LENGTH = 200  # the `operation` of demimas.registry.personal_data.accessed allows no more
_FETCH_SUFFIX = re.compile(r"(?P<client>.+)__[A-Za-z0-9_-]+__\d+")


def client_operation_name(name: str | None) -> str | None:
    """The name the client gave its operation: a gateway fetch's `__<subgraph>__<n>` suffix removed."""
    if not name:
        return None
    found = _FETCH_SUFFIX.fullmatch(name)
    return (found.group("client") if found else name)[:MAX_LENGTH]


class OperationName(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        if hasattr(context, "operation"):
            context.operation = client_operation_name(self.execution_context.operation_name)
        yield
