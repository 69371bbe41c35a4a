"""Development key material and token minting: the devstack's stand-in for an identity provider.

One Ed25519 key (EdDSA) under `.devstack/keys` (`signing.pem`, mode 0600) and its public half as a JWKS file
(`jwks.json`) that services read through `DEMIMAS_JWKS_PATH`. Production points `DEMIMAS_JWKS_URL`/`_PATH` at the
real issuer's keys and never mints here.

Several processes may ask for the keys at once (`make run`, tests, `demimas token`): the key file is created
exclusively, the key id is derived from the key itself (RFC 7638 thumbprint), and the JWKS is replaced atomically,
so every process ends up with the same key, the same `kid` and never reads a half-written JWKS.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import tempfile
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

__all__ = ["REGION_PATTERN", "DevKeys", "check_region", "ensure_dev_keys", "mint_token"]

# Kemendagri region codes: province 16, regency 16.06, district 16.06.13, village 16.06.13.2001.
REGION_PATTERN = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")


@dataclass(frozen=True)
class DevKeys:
    private_key_path: Path
    jwks_path: Path
    kid: str


def check_region(region: str) -> str:
    if not REGION_PATTERN.match(region):
        raise ValueError(f"region {region!r} is not a Kemendagri code prefix such as 16, 16.06, 16.06.13")
    return region


def ensure_dev_keys(directory: Path) -> DevKeys:
    """Create the dev signing key and its JWKS once; later calls (from any process) return the same keys."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path, jwks_path, kid_path = directory / "signing.pem", directory / "jwks.json", directory / "kid"
    if not private_path.exists():
        _create_key(private_path)
    private = _load(private_path)
    public_jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    # Keys made before the kid was derived keep their recorded kid, so running services keep trusting them.
    kid = kid_path.read_text().strip() if kid_path.exists() else f"dev-{_thumbprint(public_jwk)[:16]}"
    jwks = {"keys": [public_jwk | {"kid": kid, "alg": "EdDSA", "use": "sig"}]}
    if not jwks_path.exists() or _read_json(jwks_path) != jwks:
        _write_atomically(jwks_path, json.dumps(jwks, indent=2).encode())
    return DevKeys(private_key_path=private_path, jwks_path=jwks_path, kid=kid)


def mint_token(
    keys: DevKeys,
    *,
    issuer: str,
    audience: str,
    agency: Agency | str,
    scopes: Iterable[str] | None = None,
    region: str | None = None,
    purpose: Purpose | str | None = None,
    ttl: dt.timedelta = dt.timedelta(hours=8),
    sub: str | None = None,
) -> str:
    """A signed dev token; `ValueError` (naming what is wrong) for a request no real issuer would grant.

    `scopes` may only narrow the agency's default grants, never widen them. Regional offices (BP3MI, DISNAKER) need
    a `region`. A negative `ttl` gives an already expired token (tests use that).
    """
    agency = _agency(agency)
    granted = DEFAULT_GRANTS[agency]
    wanted = granted if scopes is None else frozenset(scopes)
    extra = wanted - granted
    if extra:
        raise ValueError(f"{agency.value} is not granted {', '.join(sorted(extra))}; --scopes can only narrow")
    if agency in REGIONAL_AGENCIES and region is None:
        raise ValueError(f"{agency.value} is a regional office: give its region (e.g. 16.06)")
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now - 1,
        "exp": now + int(ttl.total_seconds()),
        "jti": uuid.uuid4().hex,
        "sub": sub or f"dev-{agency.value.lower()}",
        "agency": agency.value,
        "scope": " ".join(sorted(wanted)),
    }
    if region is not None:
        claims["region"] = check_region(region)
    if purpose is not None:
        claims["purpose"] = _purpose(purpose).value
    return jwt.encode(claims, _load(keys.private_key_path), algorithm="EdDSA", headers={"kid": keys.kid})


def _agency(value: Agency | str) -> Agency:
    try:
        return Agency(value.strip().upper() if isinstance(value, str) else value)
    except ValueError:
        known = ", ".join(a.value for a in Agency)
        raise ValueError(f"unknown agency {value!r}; use one of {known}") from None


def _purpose(value: Purpose | str) -> Purpose:
    try:
        return Purpose(value.strip().upper() if isinstance(value, str) else value)
    except ValueError:
        known = ", ".join(p.value for p in Purpose)
        raise ValueError(f"unknown purpose {value!r}; use one of {known}") from None


def _create_key(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Written under a temporary name and linked into place: the link fails if another process won the race,
    # and nobody ever reads a half-written key.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".signing-")  # mkstemp creates it with mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _load(path: Path) -> Ed25519PrivateKey:
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return private


def _thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint of an OKP key: SHA-256 of its required members in lexical order."""
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=")


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, 0o644)  # public keys: services running as other users read them
    os.replace(tmp, path)
