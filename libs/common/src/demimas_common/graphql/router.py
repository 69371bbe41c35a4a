"""Strawberry's FastAPI router with a strict front door: every subgraph mounts this one (`demimas_common.app`).

Strawberry reads the body with `json.loads` and trusts its shape, so `null`, `"text"` or `42` as a body, invalid
UTF-8 and a 10,000-deep array were 500s. Here the body goes through `request_body.decode_request` instead (see
there for what is refused), and every refusal of the HTTP layer, strawberry's own included ("Unsupported content
type", a `query` that is not a string, ...), answers as JSON with `extensions.code` instead of strawberry's plain
text.

Subscriptions are served at the same path over WebSocket with the `graphql-transport-ws` protocol only (the legacy
`graphql-ws` protocol is not offered: its handshake is refused with 4406). The caller comes from the handshake's
headers as for HTTP, or else from the `connection_init` payload (`RequestContext.accept_connection_params`).
"""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from fastapi.responses import JSONResponse
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from demimas_common.graphql.request_body import RequestRefused, decode_json, decode_request

__all__ = ["GuardedGraphQLRouter"]

_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "BODY_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}


class _Refused(HTTPException):
    def __init__(self, refused: RequestRefused) -> None:
        super().__init__(refused.status, refused.message)
        self.code = refused.code


class GuardedGraphQLRouter(GraphQLRouter[Any, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("subscription_protocols", (GRAPHQL_TRANSPORT_WS_PROTOCOL,))
        super().__init__(*args, **kwargs)

    async def on_ws_connect(self, context: Any) -> UnsetType | dict[str, object] | None:
        accept = getattr(context, "accept_connection_params", None)
        params = getattr(context, "connection_params", None)
        if accept is not None and isinstance(params, dict):
            await accept(params)  # the caller, if the handshake's headers named none
        return await super().on_ws_connect(context)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            if isinstance(data, str):  # a GET parameter (`variables`, `extensions`); strawberry checks its shape
                return decode_json(data, "a JSON query parameter")
            return decode_request(data)  # the POST body, which strawberry reads as bytes
        except RequestRefused as refused:
            raise _Refused(refused) from None

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            code = getattr(exc, "code", None) or _CODES.get(exc.status_code, "BAD_REQUEST")
            body = {"errors": [{"message": exc.reason, "extensions": {"code": code}}]}
            headers = {"allow": "GET, POST"} if exc.status_code == 405 else None
            return JSONResponse(body, status_code=exc.status_code, headers=headers)
