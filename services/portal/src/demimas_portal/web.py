"""What every route shares: the session read from and written back to its cookie, CSRF on every POST, the page
renderer (layout, language, labels, flash message), and the errors a page turns into a response.

A route gets a `Page` (`page = await portal.page(request)`), asks the gateway through `page.gateway(...)` with the
session's token, shapes the answer with a pure function of `views/`, and returns `page.render(template, ...)` or
`page.redirect(url)`. docs/portal.md ("How a page is made") walks through one.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from demimas_portal.csrf import CSRF_FIELD, CSRFFailed, csrf_token, csrf_valid
from demimas_portal.gateway import AccessDenied, GatewayClient, GatewayResult
from demimas_portal.grants import token_scopes
from demimas_portal.i18n import DEFAULT_LANG, LABELS_QUERY, LabelCache, Labels, Translator, labels_from, pick_lang
from demimas_portal.revocation import Revocations, RevocationsUnavailable
from demimas_portal.session import COOKIE_NAME, Session, SessionCodec, new_session
from demimas_portal.settings import PortalSettings
from demimas_portal.timing import Timings

__all__ = ["NotSignedIn", "Page", "Portal", "safe_next"]

PACKAGE = Path(__file__).parent


class NotSignedIn(Exception):
    """The page needs a signed-in person: off to /signin, with `flash` (a UI string key) shown there."""

    def __init__(self, flash: str | None = None) -> None:
        super().__init__(flash or "not signed in")
        self.flash = flash


class Portal:
    """The process's shared parts: settings, cookie codec, gateway client, label cache, templates."""

    def __init__(self, settings: PortalSettings, gateway: GatewayClient | None = None) -> None:
        self.settings = settings
        self.codec = SessionCodec(settings.session_key)
        self.gateway = gateway or GatewayClient(
            settings.gateway_endpoint,
            timeout=settings.portal_gateway_timeout_seconds,
            connections=settings.portal_gateway_connections,
        )
        self.labels = LabelCache(settings.portal_label_ttl_seconds)
        self.revocations = Revocations(settings.nats_url, ttl_seconds=settings.session_seconds)
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(PACKAGE / "templates"),
            autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.label_token: Callable[[], str] | None = None
        """Development only (set by app.py): mints a short token to read the labels for a signed-out page."""

    def session_of(self, request: Request) -> Session:
        session = self.codec.decode(request.cookies.get(COOKIE_NAME))
        if session is None:
            session = new_session(DEFAULT_LANG)
        asked = pick_lang(request.query_params.get("lang"))
        if asked is not None and asked != session.lang:
            session = replace(session, lang=asked)
        return session

    async def page(self, request: Request, *, signed_in: bool = True) -> Page:
        """The request's page; with `signed_in`, `NotSignedIn` unless the session holds a live token."""
        timings = Timings()
        session = self.session_of(request)
        page = Page(self, request, session, timings)
        request.state.page = page
        if session.has_person() and (session.sid is None or await self._revoked(session.sid, strict=signed_in)):
            # signed out on another request (or a cookie sealed before sessions had ids): whoever sends it is signed
            # out, and the cookie this answer sets no longer holds the token
            page.session = session.ended()
            if signed_in:
                raise NotSignedIn("signin.revoked" if session.sid is not None else "signin.expired")
            return page
        if signed_in and not session.signed_in():
            if session.expired():
                page.session = session.signed_out()
                raise NotSignedIn("signin.expired")
            raise NotSignedIn()
        return page

    async def _revoked(self, sid: str, *, strict: bool) -> bool:
        """Whether the session was signed out elsewhere. Before the revoked sessions could ever be read, a page that
        needs the person is refused (`RevocationsUnavailable`: a 503 page); one that does not (sign-in, sign-out,
        the language, `/`: nothing read with the token but the nav's labels) goes on with the session as it is."""
        try:
            return await self.revocations.is_revoked(sid)
        except RevocationsUnavailable:
            if strict:
                raise
            return False

    async def close(self) -> None:
        await self.revocations.close()
        await self.gateway.close()

    def set_cookie(self, response: Response, session: Session) -> None:
        """A browser-session cookie (no Max-Age): closing the browser forgets it; the token in it expires on its
        own time (`Session.expires_at`) whatever the browser keeps."""
        response.set_cookie(
            COOKIE_NAME,
            self.codec.encode(session),
            path="/",
            httponly=True,
            secure=not self.settings.development,
            samesite="lax",
        )

    async def labels_for(self, lang: str, token: str | None) -> Labels:
        async def fetch(language: str) -> Labels:
            bearer = token or (self.label_token() if self.label_token else None)
            if bearer is None:
                return Labels(language, {})
            result = await self.gateway.execute(LABELS_QUERY, {"lang": language.upper()}, token=bearer)
            return labels_from(result.data, language)

        try:
            return await self.labels.get(lang, fetch)
        except Exception:  # labels are a nicety: raw values rather than no page
            return Labels(lang, {})


@dataclass
class Page:
    portal: Portal
    request: Request
    session: Session
    timings: Timings = field(default_factory=Timings)
    """Where the request's time went: sent as `Server-Timing` (timing.py)."""

    @property
    def t(self) -> Translator:
        return Translator(self.session.lang)

    @property
    def token(self) -> str | None:
        return self.session.token if self.session.signed_in() else None

    async def gateway(
        self, query: str, variables: Mapping[str, Any] | None = None, *, needs: str | None = None
    ) -> GatewayResult:
        """The query with the session's token; a token the gateway refuses ends the session (`SignInAgain`).
        `needs` is the grant the page reads with (`pilot:read`), named on the 403 page when the gateway removes a
        field without saying why (UNAUTHORIZED_FIELD_OR_TYPE)."""
        if self.token is None:
            raise NotSignedIn("signin.expired")
        started = time.perf_counter()
        try:
            return await self.portal.gateway.execute(query, dict(variables or {}), token=self.token)
        except AccessDenied as exc:
            raise AccessDenied(exc.error, needs=needs) from None
        finally:
            self.timings.gateway.append((started, time.perf_counter()))

    async def labels(self) -> Labels:
        """The API's enum labels in the session's language (cached per language)."""
        started = time.perf_counter()
        try:
            return await self.portal.labels_for(self.session.lang, self.token)
        finally:
            self.timings.gateway.append((started, time.perf_counter()))  # a cache hit adds microseconds

    async def form(self) -> dict[str, str]:
        """The POSTed form, once its CSRF token matches the session's (else `CSRFFailed`)."""
        raw = await self.request.form()
        values = {k: v for k, v in raw.items() if isinstance(v, str)}
        if not csrf_valid(self.session.csrf_secret, values.get(CSRF_FIELD)):
            raise CSRFFailed
        return values

    def flash(self, key: str, kind: str = "info", **values: Any) -> None:
        self.session = self.session.with_flash(self.t(key, **values), kind)

    async def render(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        labels = await self.labels()
        flash, flash_kind = self.session.flash, self.session.flash_kind
        self.session = replace(self.session, flash=None, flash_kind="info")
        started = time.perf_counter()
        html = self.portal.templates.get_template(template).render(
            t=self.t,
            lang=self.session.lang,
            labels=labels,
            csrf_field=CSRF_FIELD,
            csrf_token=csrf_token(self.session.csrf_secret),
            session=self.session,
            signed_in=self.session.signed_in(),
            flash=flash,
            flash_kind=flash_kind,
            path=self.request.url.path,
            here=quote(self.request.url.path + (f"?{self.request.url.query}" if self.request.url.query else "")),
            development=self.portal.settings.development,
            today=dt.date.today(),
            grants=token_scopes(self.token),
            **context,
        )
        self.timings.render += time.perf_counter() - started
        response = HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})
        self.portal.set_cookie(response, self.session)
        response.headers["server-timing"] = self.timings.header()
        return response

    def redirect(self, url: str) -> RedirectResponse:
        """303 See Other (POST/redirect/GET), carrying the session (and its flash message) in the cookie."""
        response = RedirectResponse(url, status_code=303, headers={"cache-control": "no-store"})
        self.portal.set_cookie(response, self.session)
        return response


def safe_next(value: str | None, default: str = "/pilots") -> str:
    """A local path to go back to after a form (never another site: `//evil` and `https://` are refused)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(c.isspace() or ord(c) < 32 for c in value):  # browsers drop tabs and newlines: "/\t/evil" is "//evil"
        return default
    return value
