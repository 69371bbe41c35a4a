"""The portal's ServiceSpec and app factory (docs/service-skeleton.md, "A service without a database").

A page-only service: no schema or database; NATS only for the revoked sessions (`revocation.py`, a key-value
bucket every replica watches). From the common skeleton it takes the settings, the JSON logs, OpenTelemetry and the
probes (`/healthz`, `/readyz` checking the gateway and the revoked sessions, `/metrics`); the rest is its own: the
pages (`routes/`), the static assets (`static/`, served from the package, nothing from a CDN), the security headers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from demimas_common.app import add_probes
from demimas_common.logs import configure_logging
from demimas_common.service import ServiceSpec
from demimas_common.telemetry import configure_tracing, instrument_app
from demimas_portal.csrf import CSRFFailed
from demimas_portal.gateway import AccessDenied, GatewayClient, GatewayFailed, SignInAgain
from demimas_portal.revocation import RevocationsUnavailable
from demimas_portal.routes import audit, auth, pages, village
from demimas_portal.security import SecurityHeaders, with_security_headers
from demimas_portal.session import COOKIE_NAME
from demimas_portal.settings import PortalSettings
from demimas_portal.signin import DevSignIn, OidcClient
from demimas_portal.web import NotSignedIn, Page, Portal

__all__ = ["SERVICE", "create_app"]

SERVICE = ServiceSpec.pages("portal", 4007, nats=True)
log = logging.getLogger("demimas.portal")
STATIC = Path(__file__).parent / "static"


def create_app(settings: PortalSettings | None = None, *, gateway: GatewayClient | None = None) -> FastAPI:
    settings = settings or PortalSettings()
    configure_logging(settings.log_level, SERVICE.name)
    configure_tracing(SERVICE.name, settings)
    portal = Portal(settings, gateway)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("portal started, reading through %s", settings.gateway_endpoint)
        if portal.revocations.enabled:
            portal.revocations.start()
        else:
            log.warning(
                "session revocation is off: DEMIMAS_NATS_URL is not set, so a copy of a session cookie keeps "
                "working after sign-out until the session expires (development only; production requires it)"
            )
        try:
            yield
        finally:
            await portal.close()
            oidc = getattr(app.state, "oidc", None)
            if oidc is not None:
                await oidc.http.aclose()

    app = FastAPI(title="Demimas portal", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = portal
    if settings.development:
        app.state.dev_signin = DevSignIn(settings) if settings.dev_keys_dir is not None else None
        if app.state.dev_signin is not None:
            portal.label_token = app.state.dev_signin.label_token
    else:
        app.state.oidc = OidcClient(settings)

    app.include_router(auth.router)
    app.include_router(pages.router)
    app.include_router(village.router)
    app.include_router(audit.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def gateway_ready() -> None:
        await portal.gateway.ping()

    async def revoked_sessions_ready() -> None:
        await portal.revocations.ready()

    gateway_ready.__name__ = "gateway"
    revoked_sessions_ready.__name__ = "revoked_sessions"
    add_probes(app, SERVICE, [gateway_ready, revoked_sessions_ready])
    _error_pages(app, portal)
    app.add_middleware(SecurityHeaders)
    instrument_app(app)
    return app


async def _page_of(request: Request, portal: Portal) -> Page:
    """The request's page, or (an error before the route made one: a 404, a fault) one made now, with the same
    checks of the session (a revoked session is shown, and sealed again, signed out)."""
    page = getattr(request.state, "page", None)
    return page if isinstance(page, Page) else await portal.page(request, signed_in=False)


def _no_fresh_cookie(request: Request, response: Response) -> Response:
    """Refusing a POST that came without the session cookie sets none. Such a request is typically another site's
    form posted at the portal (SameSite=Lax keeps the cookie home, but the browser would store what the answer
    sets): a fresh, empty session would replace the person's own and sign them out from another site. (A GET
    without the cookie is a first visit: its session starts on the way to /signin, as before.)"""
    if request.method != "GET" and COOKIE_NAME not in request.cookies:
        del response.headers["set-cookie"]
    return response


def _error_pages(app: FastAPI, portal: Portal) -> None:
    """The errors of a page as pages: in the session's language, with their stable code."""

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        page = await _page_of(request, portal)
        if exc.flash:
            page.flash(exc.flash, "warning")
        return _no_fresh_cookie(request, page.redirect("/signin"))

    @app.exception_handler(SignInAgain)
    async def sign_in_again(request: Request, exc: SignInAgain) -> Response:
        page = await _page_of(request, portal)
        page.session = page.session.signed_out()
        page.flash("signin.again", "warning")
        return page.redirect("/signin")

    @app.exception_handler(RevocationsUnavailable)
    async def revocations_unavailable(request: Request, exc: RevocationsUnavailable) -> Response:
        """The revoked sessions not read yet (NATS not answering since start-up): no signed-in page rather than
        one a revoked cookie could open. The session is kept: nothing is known against it."""
        page = await _page_of(request, portal)
        return await page.render("error.html", status=503, code="UNAVAILABLE", message=page.t("error.revocations"))

    @app.exception_handler(CSRFFailed)
    async def csrf_failed(request: Request, exc: CSRFFailed) -> Response:
        page = await _page_of(request, portal)
        refused = await page.render("error.html", status=403, code=CSRFFailed.code, message=page.t("error.csrf"))
        return _no_fresh_cookie(request, refused)

    @app.exception_handler(AccessDenied)
    async def access_denied(request: Request, exc: AccessDenied) -> Response:
        page = await _page_of(request, portal)
        agency = page.session.agency or "?"
        scope = exc.scope
        message = (
            page.t("error.forbidden", agency=agency, scope=scope)
            if scope
            else page.t("error.forbidden.generic", agency=agency, message=exc.error.message)
        )
        return await page.render(
            # one stable code for every refusal of access (the gateway's own codes differ: FORBIDDEN from a
            # subgraph, UNAUTHORIZED_FIELD_OR_TYPE from the gateway's scope check)
            "error.html",
            status=403,
            code="FORBIDDEN",
            message=message,
            title=page.t("error.forbidden.title"),
        )

    @app.exception_handler(GatewayFailed)
    async def gateway_failed(request: Request, exc: GatewayFailed) -> Response:
        page = await _page_of(request, portal)
        first = exc.errors[0] if exc.errors else None
        if first is None or first.code == "UNAVAILABLE":
            message, code, status = page.t("error.unavailable"), "UNAVAILABLE", 502
        else:  # the gateway refused what the page asked (a bad cursor in the URL, ...): the request's fault
            status = 400 if first.code in ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED") else 502
            message, code = page.t("error.gateway", code=first.code, message=first.message), first.code
        return await page.render("error.html", status=status, code=code, message=message)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        """A fault of the portal's own (an answer it could not shape): an error page with the code INTERNAL and the
        security headers, nothing of the exception shown (Starlette logs it after this handler)."""
        try:
            page = await _page_of(request, portal)
            response: Response = await page.render(
                "error.html", status=500, code="INTERNAL", message=page.t("error.internal")
            )
        except Exception:  # the page itself cannot be made: a plain answer, still with the headers
            response = Response("Internal Server Error (INTERNAL)", status_code=500, media_type="text/plain")
        return with_security_headers(response)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/static/"):
            return Response(status_code=exc.status_code)
        page = await _page_of(request, portal)
        message = page.t("error.not_found") if exc.status_code == 404 else str(exc.detail)
        return await page.render("error.html", status=exc.status_code, code=f"HTTP_{exc.status_code}", message=message)
