"""Sign-in, sign-out, the language switch and `/`."""

from __future__ import annotations

import logging
from dataclasses import replace

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from demimas_common.auth.grants import REGIONAL_AGENCIES
from demimas_common.auth.principal import Agency
from demimas_portal.grants import home as start_page
from demimas_portal.i18n import pick_lang
from demimas_portal.session import Session, new_csrf_secret, new_sid
from demimas_portal.signin import DevSignIn, Identity, OidcClient, OidcError
from demimas_portal.web import Portal, safe_next

__all__ = ["router"]

router = APIRouter()
log = logging.getLogger("demimas.portal.signin")


def _portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def _signed_in(session: Session, identity: Identity) -> Session:
    """A new session for the person: a new CSRF secret (no fixation), the language kept, the sign-in state gone."""
    return Session(
        csrf_secret=new_csrf_secret(),
        lang=session.lang,
        token=identity.token,
        agency=identity.agency,
        region=identity.region,
        subject=identity.subject,
        expires_at=identity.expires_at,
        sid=new_sid(),
    )


@router.get("/")
async def home(request: Request) -> Response:
    page = await _portal(request).page(request, signed_in=False)
    return page.redirect(start_page(page.token) if page.session.signed_in() else "/signin")


@router.get("/signin")
async def signin_form(request: Request) -> Response:
    portal = _portal(request)
    page = await portal.page(request, signed_in=False)
    if not portal.settings.development:
        oidc: OidcClient = request.app.state.oidc
        try:
            url, remember = await oidc.authorization_url()
        except OidcError as exc:
            log.warning("OIDC sign-in could not start: %s", exc)
            return await page.render("error.html", status=502, code="OIDC_FAILED", message=page.t("signin.oidc_failed"))
        page.session = replace(page.session, oidc=remember)
        response = page.redirect(url)
        response.status_code = 302
        return response
    agencies = [a.value for a in Agency]
    return await page.render(
        "signin.html",
        agencies=agencies,
        regional=sorted(a.value for a in REGIONAL_AGENCIES),
        chosen=request.query_params.get("agency", "KEMENKO_POLKAM"),
        region="",
        error=None,
    )


@router.post("/signin")
async def signin_submit(request: Request) -> Response:
    portal = _portal(request)
    if not portal.settings.development:
        raise HTTPException(status_code=404)
    page = await portal.page(request, signed_in=False)
    form = await page.form()
    dev: DevSignIn | None = request.app.state.dev_signin
    if dev is None:
        return await page.render("error.html", status=503, code="DEV_SIGNIN_OFF", message=page.t("signin.no_keys"))
    try:
        identity = dev.sign_in(form.get("agency", ""), form.get("region"))
    except ValueError as exc:
        return await page.render(
            "signin.html",
            status=400,
            agencies=[a.value for a in Agency],
            regional=sorted(a.value for a in REGIONAL_AGENCIES),
            chosen=form.get("agency", ""),
            region=form.get("region", ""),
            error=page.t("signin.failed", reason=str(exc)),
        )
    page.session = _signed_in(page.session, identity)
    return page.redirect(safe_next(form.get("next"), default=start_page(page.token)))


@router.get("/auth/callback")
async def auth_callback(request: Request) -> Response:
    portal = _portal(request)
    page = await portal.page(request, signed_in=False)
    if portal.settings.development:
        raise HTTPException(status_code=404)
    oidc: OidcClient = request.app.state.oidc
    params = request.query_params
    remembered, page.session = page.session.oidc, replace(page.session, oidc={})
    try:
        if params.get("error"):
            raise OidcError(f"the issuer answered {params.get('error')}")
        identity = await oidc.finish(code=params.get("code", ""), state=params.get("state", ""), remembered=remembered)
    except OidcError as exc:
        log.warning("OIDC sign-in failed: %s", exc)
        return await page.render("error.html", status=400, code="OIDC_FAILED", message=page.t("signin.oidc_failed"))
    page.session = _signed_in(page.session, identity)
    return page.redirect(start_page(page.token))


@router.post("/signout")
async def signout(request: Request) -> Response:
    portal = _portal(request)
    page = await portal.page(request, signed_in=False)
    await page.form()
    session = page.session
    page.session = session.signed_out()
    revoked = True
    if session.token is not None and session.sid is not None:
        # every copy of this cookie ends here too: on this process at once, on the other replicas through NATS
        revoked = await portal.revocations.revoke(session.sid, session.expires_at or 0.0)
    if revoked:
        page.flash("signin.signed_out")
    else:  # signed out in this browser (the cookie is replaced) but a copy may still work elsewhere: say so
        page.flash("signin.signed_out_here_only", "warning")
    return page.redirect("/signin")


@router.post("/lang")
async def switch_language(request: Request) -> Response:
    page = await _portal(request).page(request, signed_in=False)
    form = await page.form()
    lang = pick_lang(form.get("lang"))
    if lang is not None:
        page.session = replace(page.session, lang=lang)
    return page.redirect(safe_next(form.get("next"), default="/"))
