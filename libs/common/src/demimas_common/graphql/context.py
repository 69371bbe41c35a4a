"""The request context every resolver sees: the verified caller, the request's purpose and trace, and a home for
per-request DataLoaders.

A bad token or purpose header does not fail the HTTP request (that would be a 500 or a bare 401 without GraphQL
errors): it is kept as `auth_error` and raised by `require_principal()`, so the first field that needs a caller
answers with an UNAUTHENTICATED (or FORBIDDEN) GraphQL error at its path, while `__typename` and `_service` (what
the gateway's composition asks) still answer. No token at all gives `principal=None`; resolvers decide.

A service's context extends `ServiceContext` (the engine and a unit of work for the caller) with its own things
(settings, loaders); the service skeleton (`demimas_common.skeleton`) builds it for every request:

    class PillarsContext(ServiceContext[PillarsUnitOfWork]):
        def __init__(self, principal, *, delivery, **kwargs): super().__init__(principal, **kwargs); ...
"""

from __future__ import annotations

import copy
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar, overload

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext

from demimas_common.auth.jwt import TokenVerifier
from demimas_common.auth.principal import PURPOSE_HEADER, Principal, Purpose
from demimas_common.db.uow import UnitOfWork
from demimas_common.errors import DemimasError, Unauthenticated
from demimas_common.telemetry import current_traceparent

__all__ = ["PURPOSE_HEADER", "RequestContext", "ServiceContext", "context_getter_factory", "resolve_caller"]

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
C = TypeVar("C", bound="RequestContext")
L = TypeVar("L")
U = TypeVar("U", bound=UnitOfWork)
R = TypeVar("R")


class RequestContext(BaseContext):
    def __init__(
        self,
        principal: Principal | None = None,
        *,
        auth_error: DemimasError | None = None,
        traceparent: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__()
        self.principal = principal
        self.auth_error = auth_error
        self.traceparent = traceparent
        self.operation = operation
        self.loaders: dict[str, Any] = {}
        self.live: Any = None
        """The process's live event fan-out (`demimas_common.subscriptions.EventFanout`) when the service serves
        subscriptions; set by the skeleton."""
        self.verifier: TokenVerifier | None = None
        """Set by `context_getter_factory`: a WebSocket's `connection_init` payload may still name the caller."""
        self.caller_from_headers = False

    async def accept_connection_params(self, params: Mapping[str, Any]) -> None:
        """A WebSocket's `connection_init` payload: `{"authorization": "Bearer <jwt>", "purpose": "..."}` names
        the caller when the handshake's headers did not (headers win, as for HTTP). A bad token is kept as
        `auth_error`, like a bad header: the subscription, not the connection, is refused."""
        if self.caller_from_headers or self.verifier is None:
            return
        lowered = {str(k).lower(): v for k, v in params.items()}
        authorization, purpose = lowered.get("authorization"), lowered.get("purpose")
        if authorization is None and purpose is None:
            return
        if not isinstance(authorization, str | None) or not isinstance(purpose, str | None):
            self.principal = None
            self.auth_error = Unauthenticated(
                "connection_init: `authorization` and `purpose` must be strings", reason="malformed"
            )
            return
        self.principal, self.auth_error = await resolve_credentials(self.verifier, authorization, purpose)

    def renew(self) -> None:
        """Forget what one execution cached (DataLoaders), so that the next event of a subscription reads fresh
        data. A service's context that keeps loaders of its own renews them too."""
        self.loaders = {}

    def for_operation(self) -> RequestContext:
        """A copy for one operation on a WebSocket (strawberry shares one context per connection): same caller,
        caches of its own."""
        twin = copy.copy(self)
        twin.renew()
        return twin

    @property
    def purpose(self) -> Purpose | None:
        """The request's purpose: the token's `purpose` claim, else the X-Demimas-Purpose header."""
        return self.principal.purpose if self.principal is not None else None

    def require_principal(self) -> Principal:
        """The caller; a bad token or purpose header surfaces here, at the first field that needs a caller."""
        if self.auth_error is not None:
            raise self.auth_error
        if self.principal is None:
            raise Unauthenticated("this API needs a token: send `Authorization: Bearer <token>`", reason="missing")
        return self.principal

    def loader(self, key: str, factory: Callable[[], L]) -> L:
        """The request's DataLoader (or anything per request) under `key`, made by `factory` on first use, so
        that every resolver of one request batches into the same loader and no two requests share a cache."""
        found = self.loaders.get(key)
        if found is None:
            found = self.loaders[key] = factory()
        return found


class ServiceContext(RequestContext, Generic[U]):
    """The context of a data service's request: the caller, the service's engine, and units of work that carry
    the caller as the actor of their events and the request's trace."""

    def __init__(
        self,
        principal: Principal | None = None,
        *,
        engine: AsyncEngine,
        schema: str,
        unit_of_work_class: type[U],
        **kwargs: Any,
    ) -> None:
        super().__init__(principal, **kwargs)
        self.engine = engine
        self.schema = schema
        self._unit_of_work_class = unit_of_work_class

    def unit_of_work(self) -> U:
        actor = self.principal.actor if self.principal is not None else None
        return self._unit_of_work_class(self.engine, schema=self.schema, actor=actor, traceparent=self.traceparent)

    async def run(self, handler: Callable[..., Awaitable[R]], command: Any, principal: Principal, *extra: Any) -> R:
        """A use case as every resolver runs it: `handler(command, uow, principal, *extra)` in a unit of work of its
        own, which the handler commits (leaving without a commit rolls back)."""
        async with self.unit_of_work() as uow:
            return await handler(command, uow, principal, *extra)


async def resolve_caller(
    verifier: TokenVerifier, request: HTTPConnection
) -> tuple[Principal | None, DemimasError | None]:
    """(principal, None), or (None, the error that explains why the request's credentials are refused)."""
    return await resolve_credentials(
        verifier, request.headers.get("authorization"), request.headers.get(PURPOSE_HEADER)
    )


async def resolve_credentials(
    verifier: TokenVerifier, authorization: str | None, purpose: str | None
) -> tuple[Principal | None, DemimasError | None]:
    """The caller an `Authorization` value and a purpose name describe (HTTP headers or a `connection_init`)."""
    try:
        principal = await verifier.principal_from_authorization_async(authorization)
        if principal is not None and purpose:
            principal = principal.with_purpose(Purpose.parse(purpose, field=PURPOSE_HEADER))
    except DemimasError as exc:
        return None, exc
    return principal, None


def request_traceparent(request: HTTPConnection) -> str | None:
    """The current span's traceparent, or the caller's header when tracing is not set up in this process."""
    found = current_traceparent()
    if found is None:
        header = request.headers.get("traceparent", "").strip().lower()
        found = header if _TRACEPARENT.match(header) else None
    return found


@overload
def context_getter_factory(
    verifier: TokenVerifier,
    build: None = None,
    extra: Callable[[RequestContext], Awaitable[None]] | None = None,
) -> Callable[[HTTPConnection], Awaitable[RequestContext]]: ...


@overload
def context_getter_factory(
    verifier: TokenVerifier,
    build: Callable[..., C],
    extra: Callable[[C], Awaitable[None]] | None = None,
) -> Callable[[HTTPConnection], Awaitable[C]]: ...


def context_getter_factory(
    verifier: TokenVerifier,
    build: Callable[..., Any] | None = None,
    extra: Callable[[Any], Awaitable[None]] | None = None,
) -> Callable[[HTTPConnection], Awaitable[Any]]:
    """A strawberry `context_getter`: `build(principal, auth_error=..., traceparent=...)` makes the context
    (`RequestContext` by default); `extra(context)`, if given, is awaited before the operation runs."""
    make = build or RequestContext

    async def get_context(request: HTTPConnection) -> Any:
        principal, error = await resolve_caller(verifier, request)
        context = make(principal, auth_error=error, traceparent=request_traceparent(request))
        context.verifier = verifier
        context.caller_from_headers = bool(request.headers.get("authorization"))
        if extra is not None:
            await extra(context)
        return context

    return get_context
