"""Security headers on every response (docs/portal.md, "Security"): a Content-Security-Policy that allows only the
portal's own scripts, styles and images (no inline script or style, no `style=` attribute either), no framing, no
sniffing, and referrers only within the portal."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSP", "SECURITY_HEADERS", "SecurityHeaders", "with_security_headers"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; connect-src 'self'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def with_security_headers(response: Response) -> Response:
    """The headers set on a response directly: for the 500 page, which Starlette's outermost ServerErrorMiddleware
    sends past every added middleware (`SecurityHeaders` included)."""
    for name, value in SECURITY_HEADERS:
        response.headers[name.decode()] = value.decode()
    return response


class SecurityHeaders:
    """Pure ASGI middleware (no body buffering): adds the headers to every HTTP response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = headers + list(SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, with_headers)
