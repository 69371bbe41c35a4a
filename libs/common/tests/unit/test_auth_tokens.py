"""Token minting and verification: every way a token can be wrong is UNAUTHENTICATED with its own reason."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
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


def mint(keys: DevKeys, **kwargs: object) -> str:
    return mint_token(keys, issuer=kwargs.pop("issuer", ISS), audience=kwargs.pop("audience", AUD), **kwargs)  # type: ignore[arg-type]


def reason(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(token)
    return str(caught.value.details["reason"])


class TestMint:
    def test_keys_are_created_once(self, tmp_path: Path) -> None:
        first = ensure_dev_keys(tmp_path)
        second = ensure_dev_keys(tmp_path)
        assert first == second
        assert oct(first.private_key_path.stat().st_mode)[-3:] == "600"

    def test_default_grants_and_claims(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        principal = verifier.verify(mint(keys, agency=Agency.KEMENPPPA, purpose="family_support"))
        assert principal.agency is Agency.KEMENPPPA
        assert "family:read" in principal.scopes
        assert "pii:read" not in principal.scopes
        assert principal.purpose is Purpose.FAMILY_SUPPORT

    def test_scopes_narrow(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        principal = verifier.verify(mint(keys, agency=Agency.KP2MI, scopes=["stats:read"]))
        assert principal.scopes == frozenset({"stats:read"})

    def test_scopes_never_widen(self, keys: DevKeys) -> None:
        with pytest.raises(ValueError, match="not granted pii:read"):
            mint(keys, agency=Agency.BNN, scopes=["stats:read", "pii:read"])

    def test_regional_offices_need_a_region(self, keys: DevKeys) -> None:
        with pytest.raises(ValueError, match="region"):
            mint(keys, agency=Agency.DISNAKER)
        with pytest.raises(ValueError, match="not a Kemendagri code"):
            mint(keys, agency=Agency.DISNAKER, region="16.6")


class TestVerify:
    def test_region_is_carried(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        principal = verifier.verify(mint(keys, agency=Agency.DISNAKER, region="16.06"))
        assert principal.covers("16.06.13.2001")
        assert not principal.covers("16.061.13.2001")
        assert not principal.covers("32.01.01.1002")

    def test_expired(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        assert reason(verifier, mint(keys, agency=Agency.KP2MI, ttl=dt.timedelta(minutes=-5))) == "expired"

    def test_wrong_issuer(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        assert reason(verifier, mint(keys, agency=Agency.KP2MI, issuer="https://evil")) == "issuer"

    def test_wrong_audience(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        assert reason(verifier, mint(keys, agency=Agency.KP2MI, audience="other")) == "audience"

    def test_tampered_payload(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        header, _, signature = mint(keys, agency=Agency.BNN).split(".")
        forged_claims = mint(keys, agency=Agency.KP2MI).split(".")[1]
        assert reason(verifier, f"{header}.{forged_claims}.{signature}") == "signature"

    def test_unknown_key(self, keys: DevKeys, verifier: TokenVerifier, tmp_path: Path) -> None:
        other = ensure_dev_keys(tmp_path / "other")
        assert reason(verifier, mint(other, agency=Agency.KP2MI)) == "unknown_kid"

    def test_alg_none_and_hmac_are_refused(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        claims = {"iss": ISS, "aud": AUD, "sub": "x", "agency": "KP2MI", "iat": 0, "exp": 2**31}
        unsigned = jwt.encode(claims, key=None, algorithm="none", headers={"kid": keys.kid})
        assert reason(verifier, unsigned) == "algorithm"
        hmac = jwt.encode(claims, "a-shared-secret-of-sufficient-length!", algorithm="HS256", headers={"kid": keys.kid})
        assert reason(verifier, hmac) == "algorithm"

    def test_garbage(self, verifier: TokenVerifier) -> None:
        assert reason(verifier, "not-a-token") == "malformed"

    def test_a_signed_widening_gets_nothing_more(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        from cryptography.hazmat.primitives import serialization

        private = serialization.load_pem_private_key(keys.private_key_path.read_bytes(), password=None)
        now = int(dt.datetime.now(dt.UTC).timestamp())
        claims = {"iss": ISS, "aud": AUD, "sub": "x", "agency": "BNN", "iat": now, "exp": now + 60,
                  "scope": "stats:read pii:read audit:read"}  # fmt: skip
        token = jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": keys.kid})  # type: ignore[arg-type]
        assert verifier.verify(token).scopes == frozenset({"stats:read"})

    def test_rs256_from_jwks(self, tmp_path: Path) -> None:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key())) | {"kid": "rsa-1", "alg": "RS256", "use": "sig"}
        jwks = tmp_path / "jwks.json"
        jwks.write_text(json.dumps({"keys": [jwk]}))
        verifier = TokenVerifier(CommonSettings(jwt_issuer=ISS, jwt_audience=AUD, jwks_path=jwks))
        now = int(dt.datetime.now(dt.UTC).timestamp())
        claims = {"iss": ISS, "aud": AUD, "sub": "sys", "agency": "KEMENDES", "iat": now, "exp": now + 60,
                  "scope": "stats:read"}  # fmt: skip
        token = jwt.encode(claims, private, algorithm="RS256", headers={"kid": "rsa-1"})
        assert verifier.verify(token).agency is Agency.KEMENDES

    def test_key_rotation_by_file(self, keys: DevKeys, verifier: TokenVerifier, tmp_path: Path) -> None:
        assert verifier.verify(mint(keys, agency=Agency.KP2MI))
        rotated = ensure_dev_keys(tmp_path / "rotated")
        import os
        import time

        keys.jwks_path.write_text(rotated.jwks_path.read_text())
        os.utime(keys.jwks_path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
        assert verifier.verify(mint(rotated, agency=Agency.KP2MI)).agency is Agency.KP2MI
        assert reason(verifier, mint(keys, agency=Agency.KP2MI)) == "unknown_kid"

    def test_authorization_header(self, keys: DevKeys, verifier: TokenVerifier) -> None:
        assert verifier.from_authorization(None) is None
        with pytest.raises(Unauthenticated, match="Bearer"):
            verifier.from_authorization("Basic abc")
        assert verifier.from_authorization(f"Bearer {mint(keys, agency=Agency.BNN)}") is not None
