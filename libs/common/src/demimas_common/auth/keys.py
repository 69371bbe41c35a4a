"""Development key material and token minting (the devstack's stand-in for an identity provider).

One Ed25519 key (EdDSA) under `.devstack/keys`, its public half as a JWKS file that the services read through
`DEMIMAS_JWKS_PATH`. Production points `DEMIMAS_JWKS_URL`/`_PATH` at the real issuer's keys and never mints here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from demimas_common.auth.grants import DEFAULT_GRANTS, REGIONAL_AGENCIES
from demimas_common.auth.principal import Agency, Purpose

__all__ = ["DevKeys", "check_region", "ensure_dev_keys", "mint_token"]

_REGION = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")


@dataclass(frozen=True)
class DevKeys:
    private_key_path: Path
    jwks_path: Path
    kid: str


def check_region(region: str) -> str:
    if not _REGION.match(region):
        raise ValueError(f"region {region!r} is not a Kemendagri code prefix such as 16, 16.06 or 16.06.13")
    return region


def ensure_dev_keys(directory: Path) -> DevKeys:
    """Create the dev signing key and JWKS once; later calls return the same keys."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path, jwks_path, kid_path = directory / "signing.pem", directory / "jwks.json", directory / "kid"
    if not private_path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        kid_path.write_text(f"dev-{uuid.uuid4().hex[:12]}")
        jwks_path.unlink(missing_ok=True)
    kid = kid_path.read_text().strip()
    if not jwks_path.exists():
        private = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        assert isinstance(private, Ed25519PrivateKey)
        jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
        jwk |= {"kid": kid, "alg": "EdDSA", "use": "sig"}
        jwks_path.write_text(json.dumps({"keys": [jwk]}, indent=2))
    return DevKeys(private_key_path=private_path, jwks_path=jwks_path, kid=kid)


def mint_token(
    keys: DevKeys,
    *,
    issuer: str,
    audience: str,
    agency: Agency,
    scopes: Iterable[str] | None = None,
    region: str | None = None,
    purpose: Purpose | str | None = None,
    ttl: dt.timedelta = dt.timedelta(hours=8),
    sub: str | None = None,
) -> str:
    """A signed dev token. `scopes` may only narrow the agency's default grants, never widen them."""
    granted = DEFAULT_GRANTS[agency]
    wanted = granted if scopes is None else frozenset(scopes)
    extra = wanted - granted
    if extra:
        raise ValueError(f"{agency.value} is not granted {', '.join(sorted(extra))}; --scopes can only narrow")
    if agency in REGIONAL_AGENCIES and region is None:
        raise ValueError(f"{agency.value} is a regional office: give its --region (e.g. 16.06)")
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": audience,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()) - 1,
        "exp": int((now + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
        "sub": sub or f"dev-{agency.value.lower()}",
        "agency": agency.value,
        "scope": " ".join(sorted(wanted)),
    }
    if region is not None:
        claims["region"] = check_region(region)
    if purpose is not None:
        claims["purpose"] = Purpose.parse(str(purpose)).value
    private = serialization.load_pem_private_key(keys.private_key_path.read_bytes(), password=None)
    return jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": keys.kid})  # type: ignore[arg-type]
