"""The portal's one way to data: GraphQL over HTTP to the gateway, with the signed-in person's token, so every rule
of the gateway (grants, regions, purposes, limits) applies to the pages exactly as to any other client.

One pooled `httpx.AsyncClient` per process. Each request forwards the current span's `traceparent`, so a page's
gateway and subgraph spans join its trace. GraphQL errors become exceptions a page can act on:

- `UNAUTHENTICATED` (or HTTP 401) -> `SignInAgain`: the page sends the person to /signin.
- `FORBIDDEN` / `PURPOSE_REQUIRED` / `UNAUTHORIZED_FIELD_OR_TYPE` on a top-level field -> `AccessDenied`: a 403
  page saying what the agency lacks (the scope the error names, else the one the page declares it needs).
  On a nested field the page still renders, with the error listed (`GatewayResult.errors`).
- No data at all (the gateway down, a 5xx, a refused document) -> `GatewayFailed`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from demimas_common.telemetry import current_traceparent

__all__ = [
    "AccessDenied",
    "GatewayClient",
    "GatewayError",
    "GatewayFailed",
    "GatewayResult",
    "SignInAgain",
    "error_from_json",
    "trace_id_of",
]

log = logging.getLogger("demimas.portal.gateway")
_DENIED = frozenset({"FORBIDDEN", "PURPOSE_REQUIRED", "UNAUTHORIZED_FIELD_OR_TYPE"})
"""A subgraph's refusal (FORBIDDEN names the scope in `required_scope`) and the gateway's removal of a field the
token's scopes do not allow (UNAUTHORIZED_FIELD_OR_TYPE names nothing: the page says which grant it needs)."""


@dataclass(frozen=True)
class GatewayError:
    """One GraphQL error as the gateway reported it: its stable code, its message and its details."""

    code: str
    message: str
    path: tuple[str | int, ...] = ()
    extensions: dict[str, Any] = field(default_factory=dict)

    @property
    def required_scope(self) -> str | None:
        scope = self.extensions.get("required_scope") or self.extensions.get("requiredScope")
        return str(scope) if scope else None


def error_from_json(raw: dict[str, Any]) -> GatewayError:
    extensions = raw.get("extensions") or {}
    return GatewayError(
        code=str(extensions.get("code") or "INTERNAL"),
        message=str(raw.get("message") or ""),
        path=tuple(raw.get("path") or ()),
        extensions=dict(extensions),
    )


class SignInAgain(Exception):
    """The gateway no longer accepts the session's token (expired, revoked, or none)."""


class AccessDenied(Exception):
    """The signed-in agency's grants do not cover what the page reads or does."""

    def __init__(self, error: GatewayError, needs: str | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.needs = needs

    @property
    def scope(self) -> str | None:
        """The grant the agency lacks: named by the error, else what the page said it needs."""
        return self.error.required_scope or self.needs


class GatewayFailed(Exception):
    """The gateway gave no data: unreachable, failing, or it refused the operation as a whole."""

    def __init__(self, errors: list[GatewayError]) -> None:
        super().__init__("; ".join(e.message for e in errors) or "the gateway gave no answer")
        self.errors = errors


@dataclass(frozen=True)
class GatewayResult:
    data: dict[str, Any]
    errors: list[GatewayError]
    trace_id: str | None = None
    """The request's trace at the gateway (`extensions.traceId`, else the `traceresponse` header): the reference a
    person hands an auditor, who opens it as `auditTrace(traceId)` (/audit/traces/{trace_id})."""

    def errors_with(self, code: str) -> list[GatewayError]:
        return [e for e in self.errors if e.code == code]


_TRACE_ID = re.compile(r"[0-9a-f]{32}")


def trace_id_of(payload: dict[str, Any], traceresponse: str | None = None) -> str | None:
    """The gateway's trace id of a request: the body's `extensions.traceId`, else the trace field of a
    `traceresponse` header (`00-<trace-id>-<span-id>-<flags>`); None when neither holds 32 lowercase hex digits."""
    extensions = payload.get("extensions")
    candidates = [extensions.get("traceId") if isinstance(extensions, dict) else None]
    if traceresponse:
        parts = traceresponse.strip().split("-")
        candidates.append(parts[1] if len(parts) == 4 else None)
    for candidate in candidates:
        if isinstance(candidate, str) and _TRACE_ID.fullmatch(candidate) and candidate != "0" * 32:
            return candidate
    return None


def check(payload: dict[str, Any], *, status: int = 200, traceresponse: str | None = None) -> GatewayResult:
    """A gateway answer as a page sees it (raising as the module says); pure, so it is unit-tested on its own."""
    errors = [error_from_json(e) for e in payload.get("errors") or () if isinstance(e, dict)]
    if status == 401 or any(e.code == "UNAUTHENTICATED" for e in errors):
        raise SignInAgain
    data = payload.get("data")
    for error in errors:
        if error.code in _DENIED and (len(error.path) <= 1 or data is None):
            raise AccessDenied(error)
    if not isinstance(data, dict):
        if not errors:
            errors = [GatewayError("UNAVAILABLE", f"the gateway answered HTTP {status} without data")]
        raise GatewayFailed(errors)
    return GatewayResult(data=data, errors=errors, trace_id=trace_id_of(payload, traceresponse))


class GatewayClient:
    def __init__(self, url: str, *, timeout: float = 15.0, connections: int = 50) -> None:
        self.url = url
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            headers={"accept": "application/json", "content-type": "application/json"},
        )

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None, operation: str | None = None
    ) -> GatewayResult:
        headers: dict[str, str] = {}
        if token:
            headers["authorization"] = f"Bearer {token}"
        traceparent = current_traceparent()
        if traceparent:
            headers["traceparent"] = traceparent
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation:
            body["operationName"] = operation
        try:
            response = await self._http.post(self.url, content=orjson.dumps(body), headers=headers)
        except httpx.HTTPError as exc:
            log.warning("gateway unreachable: %s", type(exc).__name__)
            raise GatewayFailed([GatewayError("UNAVAILABLE", "the gateway did not answer")]) from exc
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        return check(payload, status=response.status_code, traceresponse=response.headers.get("traceresponse"))

    async def ping(self) -> None:
        """For /readyz: the gateway's own /healthz answers 200."""
        base = self.url.rsplit("/graphql", 1)[0]
        response = await self._http.get(f"{base}/healthz", headers={"accept": "application/json"})
        response.raise_for_status()

    async def close(self) -> None:
        await self._http.aclose()
