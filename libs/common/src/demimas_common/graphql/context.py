"""The request context every resolver sees: the verified caller, the request's purpose and trace, and a home for
per-request DataLoaders. A service subclasses `RequestContext` and builds it with `context_getter_factory`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from strawberry.fastapi import BaseContext

from demimas_common.auth.jwt import TokenVerifier
from demimas_common.auth.principal import Principal, Purpose
from demimas_common.errors import DemimasError, Unauthenticated
from demimas_common.telemetry import current_traceparent

__all__ = ["PURPOSE_HEADER", "RequestContext", "context_getter_factory"]

PURPOSE_HEADER = "X-Demimas-Purpose"
C = TypeVar("C", bound="RequestContext")


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

    def require_principal(self) -> Principal:
        """The caller; a bad token or purpose header surfaces here, at the first field that needs a caller."""
        if self.auth_error is not None:
            raise self.auth_error
        if self.principal is None:
            raise Unauthenticated("this API needs a token: send `Authorization: Bearer <token>`", reason="missing")
        return self.principal

    def loader(self, key: str, factory: Callable[[], Any]) -> Any:
        found = self.loaders.get(key)
        if found is None:
            found = self.loaders[key] = factory()
        return found


def resolve_caller(verifier: TokenVerifier, request: Request) -> tuple[Principal | None, DemimasError | None]:
    try:
        principal = verifier.from_authorization(request.headers.get("authorization"))
        header = request.headers.get(PURPOSE_HEADER)
        if principal is not None and header:
            principal = principal.with_purpose(Purpose.parse(header, field=PURPOSE_HEADER))
    except DemimasError as exc:
        return None, exc
    return principal, None


def context_getter_factory(
    verifier: TokenVerifier,
    build: Callable[..., C],
    extra: Callable[[C], Awaitable[None]] | None = None,
) -> Callable[[Request], Awaitable[C]]:
    """A strawberry `context_getter`: `build(principal, auth_error=..., traceparent=...)` makes the context."""

    async def get_context(request: Request) -> C:
        principal, error = resolve_caller(verifier, request)
        context = build(principal, auth_error=error, traceparent=current_traceparent())
        if extra is not None:
            await extra(context)
        return context

    return get_context
