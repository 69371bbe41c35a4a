"""How people sign in.

- **Development and test**: a page picks an agency (and a region for regional offices); the portal mints a dev
  token with that agency's default grants from the devstack's keys (`demimas_common.auth.keys.mint_token`, the
  same keys `make run` signs `.devstack/tokens.env` with, so the gateway trusts it). Never in production.
- **Production**: OpenID Connect authorization code with PKCE (S256), `state` and `nonce`, against the issuer's
  discovery document. The callback exchanges the code, verifies the ID token (signature by the issuer's JWKS,
  issuer, audience = client id, nonce) and the access token (signature, issuer, audience = the gateway's), and the
  session keeps the access token: the gateway checks it again on every request.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from demimas_common.auth.grants import REGIONAL_AGENCIES
from demimas_common.auth.keys import check_region, ensure_dev_keys, mint_token
from demimas_common.auth.principal import Agency
from demimas_portal.settings import PortalSettings

__all__ = ["DevSignIn", "Identity", "OidcClient", "OidcError", "identity_of", "pkce_pair"]


@dataclass(frozen=True)
class Identity:
    """What the session keeps of a token: the token itself and what the layout shows."""

    token: str
    agency: str
    region: str | None
    subject: str | None
    expires_at: float


def identity_of(token: str, claims: dict[str, Any], *, longest_hours: float) -> Identity:
    """The session's view of a verified (or self-minted) token; expiry is the token's, capped by the session's."""
    expires = float(claims.get("exp") or 0)
    cap = time.time() + longest_hours * 3600
    region = claims.get("region")
    return Identity(
        token=token,
        agency=str(claims.get("agency") or ""),
        region=str(region) if region else None,
        subject=str(claims["sub"]) if claims.get("sub") else None,
        expires_at=min(expires, cap) if expires else cap,
    )


class DevSignIn:
    """Dev tokens for the sign-in page (development and test only)."""

    def __init__(self, settings: PortalSettings) -> None:
        if not settings.development:
            raise RuntimeError("dev sign-in exists in development and test only")
        if settings.dev_keys_dir is None:
            raise RuntimeError("DEMIMAS_DEV_KEYS_DIR is not set: start the portal with `make run`, which sets it")
        self.settings = settings
        self.keys = ensure_dev_keys(settings.dev_keys_dir)

    def sign_in(self, agency: str, region: str | None) -> Identity:
        """`ValueError` naming what is wrong (an unknown agency, a regional office without a region, a bad code)."""
        try:
            chosen = Agency(agency)
        except ValueError:
            raise ValueError(f"unknown agency {agency!r}") from None
        region = (region or "").strip() or None
        if region is not None:
            region = check_region(region)
        if chosen in REGIONAL_AGENCIES and region is None:
            raise ValueError(f"{chosen.value} is a regional office: give its region (e.g. 16.06)")
        token = mint_token(
            self.keys,
            issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience,
            agency=chosen,
            region=region,
            sub=f"portal-dev-{chosen.value.lower()}",
        )
        claims = jwt.decode(token, options={"verify_signature": False})
        return identity_of(token, claims, longest_hours=self.settings.portal_session_hours)

    def label_token(self) -> str:
        """A one-minute token to read the (public) enum labels for the signed-out sign-in page."""
        return mint_token(
            self.keys,
            issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience,
            agency=Agency.AUDITOR,
            scopes=["stats:read"],
            ttl=dt.timedelta(minutes=1),
            sub="portal-labels",
        )


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge) of RFC 7636."""
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class OidcError(Exception):
    """The sign-in could not be completed; the message names the step (never a token)."""


class OidcClient:
    def __init__(self, settings: PortalSettings, http: httpx.AsyncClient | None = None) -> None:
        if not (settings.portal_oidc_issuer and settings.portal_oidc_client_id and settings.portal_oidc_redirect_url):
            raise RuntimeError("OIDC needs DEMIMAS_PORTAL_OIDC_ISSUER, _CLIENT_ID and _REDIRECT_URL")
        self.settings = settings
        self.issuer = settings.portal_oidc_issuer.rstrip("/")
        self.client_id = settings.portal_oidc_client_id
        self.redirect_url = settings.portal_oidc_redirect_url
        self.http = http or httpx.AsyncClient(timeout=10.0)
        self._discovery: dict[str, Any] | None = None
        self._jwks: tuple[float, dict[str, Any]] | None = None

    async def discovery(self) -> dict[str, Any]:
        if self._discovery is None:
            response = await self.http.get(f"{self.issuer}/.well-known/openid-configuration")
            if response.status_code != 200:
                raise OidcError(f"discovery document: HTTP {response.status_code}")
            document = response.json()
            if str(document.get("issuer", "")).rstrip("/") != self.issuer:
                raise OidcError("discovery document names another issuer")
            self._discovery = document
        return self._discovery

    async def authorization_url(self) -> tuple[str, dict[str, str]]:
        """Where to send the browser, and what the session must remember (state, nonce, verifier)."""
        document = await self.discovery()
        verifier, challenge = pkce_pair()
        remember = {"state": secrets.token_urlsafe(24), "nonce": secrets.token_urlsafe(24), "verifier": verifier}
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_url,
                "scope": self.settings.portal_oidc_scopes,
                "state": remember["state"],
                "nonce": remember["nonce"],
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{document['authorization_endpoint']}?{query}", remember

    async def _keys(self, refresh: bool = False) -> dict[str, Any]:
        if self._jwks is None or refresh or time.monotonic() - self._jwks[0] > 3600:
            document = await self.discovery()
            response = await self.http.get(document["jwks_uri"])
            if response.status_code != 200:
                raise OidcError(f"issuer keys: HTTP {response.status_code}")
            self._jwks = (time.monotonic(), response.json())
        return self._jwks[1]

    async def _verify(self, token: str, *, audience: str, nonce: str | None = None) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise OidcError("a token from the issuer is not a JWT") from exc
        for refresh in (False, True):  # a key rotated since the last fetch: fetch once more
            keys = {k.get("kid"): k for k in (await self._keys(refresh)).get("keys", [])}
            if kid in keys:
                break
        else:
            raise OidcError("a token from the issuer is signed with an unknown key")
        key = jwt.PyJWK(keys[kid])
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm_name],
                audience=audience,
                issuer=self.settings.portal_oidc_issuer,
                leeway=self.settings.jwt_leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise OidcError(f"a token from the issuer does not verify: {type(exc).__name__}") from exc
        if nonce is not None and claims.get("nonce") != nonce:
            raise OidcError("the ID token's nonce is not this sign-in's")
        return claims

    async def finish(self, *, code: str, state: str, remembered: dict[str, str]) -> Identity:
        # compared as bytes: compare_digest of str raises TypeError on a non-ASCII state (a 500, not a refusal)
        if not remembered or not secrets.compare_digest(state.encode(), remembered.get("state", "").encode()):
            raise OidcError("the callback's state is not this browser's sign-in")
        document = await self.discovery()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_url,
            "client_id": self.client_id,
            "code_verifier": remembered["verifier"],
        }
        secret = self.settings.portal_oidc_client_secret
        if secret is not None:  # a confidential client authenticates (client_secret_basic); a public one has PKCE only
            auth = httpx.BasicAuth(self.client_id, secret.get_secret_value())
            response = await self.http.post(document["token_endpoint"], data=form, auth=auth)
        else:
            response = await self.http.post(document["token_endpoint"], data=form)
        if response.status_code != 200:
            raise OidcError(f"token exchange: HTTP {response.status_code}")
        tokens = response.json()
        access, id_token = tokens.get("access_token"), tokens.get("id_token")
        if not access or not id_token:
            raise OidcError("token exchange gave no access token or no ID token")
        await self._verify(id_token, audience=self.client_id, nonce=remembered["nonce"])
        audience = self.settings.portal_oidc_audience or self.settings.jwt_audience
        claims = await self._verify(access, audience=audience)
        if not claims.get("agency"):
            raise OidcError("the access token names no agency")
        return identity_of(access, claims, longest_hours=self.settings.portal_session_hours)
