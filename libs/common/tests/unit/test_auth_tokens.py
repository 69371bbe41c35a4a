"""Token minting and verification: every way a token can be wrong is UNAUTHENTICATED with its own reason."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import RSAAlgorithm

from demimas_common.auth.jwt import TokenVerifier
from demimas_common.auth.keys import DevKeys, ensure_dev_keys, mint_token
from demimas_common.auth.principal import Agency, Purpose
from demimas_common.errors import Unauthenticated
from demimas_common.settings import CommonSettings

ISS, AUD = "https://auth.test", "demimas"


@pytest.fixture
def keys(tmp_path: Path) -> DevKeys:
    return ensure_dev_keys(tmp_path / "keys")


@pytest.fixture
def verifier(keys: DevKeys) -> TokenVerifier:
    return TokenVerifier(CommonSettings(jwt_issuer=ISS, jwt_audience=AUD, jwks_path=keys.jwks_path))


def mint(keys: DevKeys, **kwargs: Any) -> str:
    return mint_token(keys, issuer=kwargs.pop("issuer", ISS), audience=kwargs.pop("audience", AUD), **kwargs)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISS, "aud": AUD, "sub": "sys", "agency": "KP2MI", "iat": now, "exp": now + 60, "scope": "stats:read"}
    return {k: v for k, v in (base | overrides).items() if v is not None}


def private_key_of(keys: DevKeys) -> Ed25519PrivateKey:
    private = serialization.load_pem_private_key(keys.private_key_path.read_bytes(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    return private


def sign(keys: DevKeys, body: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
    headers = {"kid": keys.kid} if headers is None else headers
    return jwt.encode(body, private_key_of(keys), algorithm="EdDSA", headers=headers)


def failure(verifier: TokenVerifier, token: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(token)
    assert caught.value.code == "UNAUTHENTICATED"
    return caught.value


def reason(verifier: TokenVerifier, token: str) -> str:
    return str(failure(verifier, token).details["reason"])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class TestDevKeys:
    def test_created_once_with_a_private_key_file(self, tmp_path: Path) -> None:
        first = ensure_dev_keys(tmp_path)
        second = ensure_dev_keys(tmp_path)
        assert first == second
        assert oct(first.private_key_path.stat().st_mode)[-3:] == "600"

    def test_jwks_holds_the_public_key(self, keys: DevKeys) -> None:
        (jwk,) = json.loads(keys.jwks_path.read_text())["keys"]
        assert {k: jwk[k] for k in ("kty", "crv", "alg", "use", "kid")} == {
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": keys.kid,
        }
        assert "d" not in jwk

    def test_the_kid_follows_from_the_key(self, keys: DevKeys) -> None:
        """Two processes racing to create the keys agree on the kid without sharing anything but the key file."""
        keys.jwks_path.unlink()
        assert ensure_dev_keys(keys.private_key_path.parent).kid == keys.kid
        assert keys.jwks_path.exists()

    def test_a_recorded_kid_is_kept(self, keys: DevKeys) -> None:
        (keys.private_key_path.parent / "kid").write_text("dev-legacy\n")
        again = ensure_dev_keys(keys.private_key_path.parent)
        assert again.kid == "dev-legacy"
        assert json.loads(again.jwks_path.read_text())["keys"][0]["kid"] == "dev-legacy"


class TestMint:
    def test_default_grants_and_claims(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        token = mint(keys, agency=Agency.KEMENPPPA, purpose="family_support")
        principal = verifier.verify(token)
        assert principal.agency is Agency.KEMENPPPA
        assert "family:read" in principal.scopes
        assert "pii:read" not in principal.scopes
        assert principal.purpose is Purpose.FAMILY_SUPPORT
        assert principal.sub == "dev-kemenpppa"
        assert jwt.get_unverified_header(token)["kid"] == keys.kid
        assert {"iss", "aud", "exp", "iat", "nbf", "jti"} <= jwt.decode(
            token, options={"verify_signature": False}
        ).keys()

    def test_agency_by_name(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        assert verifier.verify(mint(keys, agency="kp2mi")).agency is Agency.KP2MI

    def test_scopes_narrow(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        principal = verifier.verify(mint(keys, agency=Agency.KP2MI, scopes=["stats:read"]))
        assert principal.scopes == frozenset({"stats:read"})

    def test_scopes_never_widen(self, keys: DevKeys) -> None:
        with pytest.raises(ValueError, match="not granted audit:read, pii:read"):
            mint(keys, agency=Agency.BNN, scopes=["stats:read", "pii:read", "audit:read"])

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"agency": Agency.DISNAKER}, "regional office"),
            ({"agency": Agency.DISNAKER, "region": "16.6"}, "not a Kemendagri code"),
            ({"agency": Agency.KP2MI, "region": "16.06.13.20011"}, "not a Kemendagri code"),
            ({"agency": Agency.KP2MI, "purpose": "CURIOSITY"}, "unknown purpose"),
            ({"agency": "NASA"}, "unknown agency"),
        ],
    )
    def test_refusals(self, keys: DevKeys, kwargs: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            mint(keys, **kwargs)

    @pytest.mark.parametrize("region", ["16", "16.06", "16.06.13", "16.06.13.2001"])
    def test_region_levels(self, keys: DevKeys, verifier: TokenVerifier, region: str) -> None:
        assert verifier.verify(mint(keys, agency=Agency.BP3MI, region=region)).region == region


class TestVerify:
    def test_region_is_carried(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        principal = verifier.verify(mint(keys, agency=Agency.DISNAKER, region="16.06"))
        assert principal.covers("16.06.13.2001")
        assert not principal.covers("16.061.13.2001")
        assert not principal.covers("32.01.01.1002")

    def test_rs256_from_jwks(self, tmp_path: Path) -> None:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key())) | {"kid": "rsa-1", "alg": "RS256", "use": "sig"}
        jwks = tmp_path / "jwks.json"
        jwks.write_text(json.dumps({"keys": [jwk]}))
        verifier = TokenVerifier(CommonSettings(jwt_issuer=ISS, jwt_audience=AUD, jwks_path=jwks))
        token = jwt.encode(claims(agency="KEMENDES"), private, algorithm="RS256", headers={"kid": "rsa-1"})
        assert verifier.verify(token).agency is Agency.KEMENDES
        hs = jwt.encode(claims(), "a-shared-secret-of-sufficient-length!", algorithm="HS256", headers={"kid": "rsa-1"})
        assert reason(verifier, hs) == "algorithm"

    def test_every_failure_has_its_own_reason(self, keys: DevKeys, verifier: TokenVerifier, tmp_path: Path) -> None:
        now = int(time.time())
        public_pem = (
            private_key_of(keys)
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        raw_jwks = keys.jwks_path.read_bytes()
        header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": keys.kid}).encode())
        body = b64(json.dumps(claims()).encode())
        # The classic confusion attack: the public key (as JWKS text, as PEM) used as an HMAC secret.
        hs256 = [
            f"{header}.{body}.{b64(hmac.new(secret, f'{header}.{body}'.encode(), hashlib.sha256).digest())}"
            for secret in (raw_jwks, public_pem)
        ]
        good_header, _, good_signature = mint(keys, agency=Agency.BNN).split(".")
        cases = {
            "expired": mint(keys, agency=Agency.KP2MI, ttl=dt.timedelta(minutes=-5)),
            "not_yet_valid": sign(keys, claims(nbf=now + 3600)),
            "issuer": mint(keys, agency=Agency.KP2MI, issuer="https://evil"),
            "audience": mint(keys, agency=Agency.KP2MI, audience="other"),
            "unknown_kid": mint(ensure_dev_keys(tmp_path / "other"), agency=Agency.KP2MI),
            "signature": f"{good_header}.{mint(keys, agency=Agency.KP2MI).split('.')[1]}.{good_signature}",
            "algorithm": jwt.encode(claims(), key="", algorithm="none", headers={"kid": keys.kid}),
            "no_kid": sign(keys, claims(), headers={}),
            "malformed": "not-a-token",
            "missing_claim": sign(keys, claims(sub=None)),
            "agency": sign(keys, claims(agency="NASA")),
            "region": sign(keys, claims(agency="BP3MI")),
            "purpose": sign(keys, claims(purpose="CURIOSITY")),
            "claim": sign(keys, claims(scope=["pii:read"])),
        }
        reasons = {name: reason(verifier, token) for name, token in cases.items()}
        assert reasons == {name: name for name in cases}
        assert [reason(verifier, token) for token in hs256] == ["algorithm", "algorithm"]

    def test_messages_say_what_is_wrong(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        expired = failure(verifier, mint(keys, agency=Agency.KP2MI, ttl=dt.timedelta(minutes=-5)))
        assert expired.message.startswith("token expired at 20")
        audience = failure(verifier, mint(keys, agency=Agency.KP2MI, audience="other"))
        assert audience.message == "wrong audience other: this service expects 'demimas'"
        assert "unknown key id 'nope'" in failure(verifier, sign(keys, claims(), headers={"kid": "nope"})).message

    def test_leeway(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        assert verifier.leeway == 30
        assert verifier.verify(mint(keys, agency=Agency.KP2MI, ttl=dt.timedelta(seconds=-10)))

    def test_a_signed_widening_gets_nothing_more(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        token = sign(keys, claims(agency="BNN", scope="stats:read pii:read audit:read"))
        assert verifier.verify(token).scopes == frozenset({"stats:read"})

    def test_key_rotation_by_file(self, keys: DevKeys, verifier: TokenVerifier, tmp_path: Path) -> None:
        assert verifier.verify(mint(keys, agency=Agency.KP2MI))
        rotated = ensure_dev_keys(tmp_path / "rotated")
        keys.jwks_path.write_text(rotated.jwks_path.read_text())
        os.utime(keys.jwks_path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
        assert verifier.verify(mint(rotated, agency=Agency.KP2MI)).agency is Agency.KP2MI
        assert reason(verifier, mint(keys, agency=Agency.KP2MI)) == "unknown_kid"

    def test_authorization_header(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        assert verifier.principal_from_authorization(None) is None
        assert verifier.principal_from_authorization("  ") is None
        with pytest.raises(Unauthenticated, match="Bearer"):
            verifier.principal_from_authorization("Basic abc")
        token = mint(keys, agency=Agency.BNN)
        assert verifier.principal_from_authorization(f"bearer  {token}") is not None

    async def test_async_verification(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        principal = await verifier.principal_from_authorization_async(f"Bearer {mint(keys, agency=Agency.BNN)}")
        assert principal is not None
        assert principal.agency is Agency.BNN
