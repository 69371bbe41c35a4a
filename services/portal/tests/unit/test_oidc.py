"""OpenID Connect sign-in (production): PKCE S256, state and nonce, and both tokens verified against the issuer's
keys. The issuer is a small in-process one (real Ed25519 keys and JWTs, over httpx's MockTransport)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from demimas_portal.settings import PortalSettings
from demimas_portal.signin import OidcClient, OidcError, pkce_pair

ISSUER = "https://id.example"


class Issuer:
    """Discovery, JWKS, and a token endpoint that checks the PKCE verifier of the code it issued."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.codes: dict[str, dict[str, str]] = {}
        self.access_audience = "demimas"
        self.nonce_override: str | None = None
        self.other_key = Ed25519PrivateKey.generate()
        self.sign_access_with_other_key = False

    def authorize(self, url: str) -> str:
        query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
        code = f"code-{len(self.codes)}"
        self.codes[code] = query
        return code

    def _jwt(self, claims: dict[str, Any], key: Ed25519PrivateKey | None = None) -> str:
        return jwt.encode(claims, key or self.key, algorithm="EdDSA", headers={"kid": "k1"})

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            endpoints = {"authorization_endpoint": "/auth", "token_endpoint": "/token", "jwks_uri": "/jwks"}
            return httpx.Response(200, json={"issuer": ISSUER} | {k: ISSUER + v for k, v in endpoints.items()})
        if request.url.path == "/jwks":
            jwk = json.loads(OKPAlgorithm.to_jwk(self.key.public_key())) | {"kid": "k1", "alg": "EdDSA"}
            return httpx.Response(200, json={"keys": [jwk]})
        if request.url.path == "/token":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            asked = self.codes.pop(form.get("code", ""), None)
            if asked is None:
                return httpx.Response(400, json={"error": "invalid_grant"})
            challenge = base64.urlsafe_b64encode(hashlib.sha256(form["code_verifier"].encode()).digest())
            if asked["code_challenge"] != challenge.rstrip(b"=").decode() or asked["code_challenge_method"] != "S256":
                return httpx.Response(400, json={"error": "invalid_grant", "error_description": "PKCE"})
            now = int(time.time())
            common = {"iss": ISSUER, "sub": "u-1", "iat": now, "exp": now + 600}
            id_token = self._jwt(common | {"aud": "portal", "nonce": self.nonce_override or asked["nonce"]})
            access = self._jwt(
                common | {"aud": self.access_audience, "agency": "KEMENDES", "scope": "pilot:read"},
                self.other_key if self.sign_access_with_other_key else None,
            )
            return httpx.Response(200, json={"access_token": access, "id_token": id_token, "token_type": "Bearer"})
        return httpx.Response(404)


def client(issuer: Issuer) -> OidcClient:
    settings = PortalSettings(
        environment="production",
        portal_session_key="k" * 32,
        portal_oidc_issuer=ISSUER,
        portal_oidc_client_id="portal",
        portal_oidc_redirect_url="https://portal.example/auth/callback",
        jwt_audience="demimas",
        nats_url="nats://unused:4222",
    )
    return OidcClient(settings, httpx.AsyncClient(transport=httpx.MockTransport(issuer.handle)))


def test_pkce_pair_is_s256() -> None:
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert challenge == digest


async def test_the_whole_sign_in() -> None:
    issuer = Issuer()
    oidc = client(issuer)
    url, remember = await oidc.authorization_url()
    query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    assert url.startswith(f"{ISSUER}/auth?")
    assert query["code_challenge_method"] == "S256"
    assert query["response_type"] == "code"
    assert (query["state"], query["nonce"]) == (remember["state"], remember["nonce"])
    assert remember["verifier"] not in url  # only the challenge travels
    code = issuer.authorize(url)
    identity = await oidc.finish(code=code, state=remember["state"], remembered=remember)
    assert (identity.agency, identity.subject) == ("KEMENDES", "u-1")
    assert identity.expires_at > time.time()
    await oidc.http.aclose()


async def test_another_state_is_refused() -> None:
    issuer = Issuer()
    oidc = client(issuer)
    url, remember = await oidc.authorization_url()
    with pytest.raises(OidcError, match="state"):
        await oidc.finish(code=issuer.authorize(url), state="forged", remembered=remember)
    with pytest.raises(OidcError, match="state"):  # non-ASCII: compare_digest of str raised TypeError (a 500 page)
        await oidc.finish(code=issuer.authorize(url), state="s\u00e9" + remember["state"][2:], remembered=remember)
    with pytest.raises(OidcError, match="state"):
        await oidc.finish(code=issuer.authorize(url), state=remember["state"], remembered={})
    await oidc.http.aclose()


async def test_a_wrong_verifier_nonce_audience_or_key_is_refused() -> None:
    issuer = Issuer()
    oidc = client(issuer)
    url, remember = await oidc.authorization_url()
    with pytest.raises(OidcError, match="token exchange"):
        await oidc.finish(
            code=issuer.authorize(url), state=remember["state"], remembered=remember | {"verifier": "x" * 50}
        )
    issuer.nonce_override = "replayed"
    with pytest.raises(OidcError, match="nonce"):
        await oidc.finish(code=issuer.authorize(url), state=remember["state"], remembered=remember)
    issuer.nonce_override = None
    issuer.access_audience = "someone-else"
    with pytest.raises(OidcError, match="does not verify"):
        await oidc.finish(code=issuer.authorize(url), state=remember["state"], remembered=remember)
    issuer.access_audience = "demimas"
    issuer.sign_access_with_other_key = True
    with pytest.raises(OidcError, match="does not verify"):
        await oidc.finish(code=issuer.authorize(url), state=remember["state"], remembered=remember)
    await oidc.http.aclose()


@pytest.mark.parametrize(
    ("key", "says"),
    [("short", "at least 32 characters"), ("CHANGE_ME: 32+ random characters, e.g. openssl rand", "placeholder")],
)
def test_production_refuses_a_short_or_placeholder_session_key(key: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        PortalSettings(
            environment="production",
            portal_session_key=key,
            portal_oidc_issuer=ISSUER,
            portal_oidc_client_id="portal",
            portal_oidc_redirect_url="https://portal.example/auth/callback",
            nats_url="nats://unused:4222",
        )
