"""The issuer's public keys (a JWKS), by `kid`: from a file or from a URL.

- A file (`DEMIMAS_JWKS_PATH`, what the devstack writes) is re-read when it changes, so rotating keys is "write a
  new file"; services need no restart.
- A URL (`DEMIMAS_JWKS_URL`, a real identity provider) is cached for `ttl_seconds` and refetched early when a token
  names an unknown `kid` (the issuer rotated), but at most once per `min_refetch_seconds`, so a flood of tokens with
  made-up key ids cannot turn into a flood of requests to the issuer.
- When a re-read or refetch fails, the last good keys stay in use (and the failure is logged): a flaky identity
  provider must not log every caller out. Only when no keys were ever loaded does verification fail.

Fetching is synchronous in `key()` (for commands and sync callers) and asynchronous in `prepare()`, which request
handlers await first so that the event loop never blocks on the issuer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
from jwt import PyJWK, PyJWTError

from demimas_common.errors import Unauthenticated

__all__ = ["ALGORITHMS", "JwksSource"]

ALGORITHMS = ("EdDSA", "RS256")
_ALG_OF_KTY = {"OKP": "EdDSA", "RSA": "RS256"}

log = logging.getLogger("demimas.auth")


def parse_jwks(raw: bytes) -> dict[str, PyJWK]:
    """The usable signing keys of a JWKS document; keys for other algorithms or uses are skipped, not fatal."""
    document = orjson.loads(raw)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("a JWKS is a JSON object with a `keys` list")
    keys: dict[str, PyJWK] = {}
    for item in document["keys"]:
        if not isinstance(item, dict) or not isinstance(item.get("kid"), str) or item.get("use", "sig") != "sig":
            continue
        alg = item.get("alg") or _ALG_OF_KTY.get(str(item.get("kty")))
        if alg not in ALGORITHMS or _ALG_OF_KTY.get(str(item.get("kty"))) != alg:
            continue  # e.g. an HS256 `oct` key: a shared secret must never verify a token here
        try:
            keys[item["kid"]] = PyJWK(item, algorithm=alg)
        except PyJWTError as exc:
            log.warning("JWKS key %s skipped: %s", item["kid"], exc)
    return keys


class JwksSource:
    def __init__(
        self,
        *,
        path: Path | None = None,
        url: str | None = None,
        ttl_seconds: float = 300.0,
        min_refetch_seconds: float = 30.0,
        transport: httpx.MockTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (path is None) == (url is None):
            raise ValueError("a JWKS source is a file or a URL: set exactly one of DEMIMAS_JWKS_PATH, DEMIMAS_JWKS_URL")
        self.path, self.url = path, url
        self.ttl_seconds, self.min_refetch_seconds = ttl_seconds, min_refetch_seconds
        self._transport = transport  # a test seam (httpx.MockTransport serves sync and async clients)
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._file_stamp: tuple[int, int, int] | None = None
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()

    def key(self, kid: str) -> PyJWK:
        """The key with this id, reloading first when due; `Unauthenticated` when there is none."""
        if self.path is not None:
            self._reload_file(self.path)
        elif self._fetch_due(kid):
            self._attempted_at = self._clock()
            try:
                with httpx.Client(transport=self._transport, timeout=5.0) as client:
                    self._accept(client.get(str(self.url)))
            except (httpx.HTTPError, ValueError) as exc:
                self._fetch_failed(exc)
        return self._lookup(kid)

    async def prepare(self, kid: str) -> None:
        """Fetch the URL's keys without blocking the event loop when `key(kid)` would have to."""
        if self.path is not None or not self._fetch_due(kid):
            return
        async with self._lock:  # concurrent requests after the TTL share one fetch
            if not self._fetch_due(kid):
                return
            self._attempted_at = self._clock()
            try:
                async with httpx.AsyncClient(transport=self._transport, timeout=5.0) as client:
                    self._accept(await client.get(str(self.url)))
            except (httpx.HTTPError, ValueError) as exc:
                self._fetch_failed(exc)

    def _reload_file(self, path: Path) -> None:
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            if stamp != self._file_stamp:
                self._keys, self._file_stamp = parse_jwks(path.read_bytes()), stamp
        except (OSError, ValueError) as exc:
            if not self._keys:
                raise _unavailable(exc) from None
            log.warning("JWKS file %s unreadable, keeping the previous keys: %s", path, type(exc).__name__)

    def _fetch_due(self, kid: str) -> bool:
        now = self._clock()
        if self._attempted_at is None:
            return True
        stale = self._fetched_at is None or now - self._fetched_at > self.ttl_seconds
        wanted = stale or kid not in self._keys
        return wanted and now - self._attempted_at >= self.min_refetch_seconds

    def _accept(self, response: httpx.Response) -> None:
        response.raise_for_status()
        self._keys = parse_jwks(response.content)
        self._fetched_at = self._attempted_at

    def _fetch_failed(self, exc: Exception) -> None:
        log.warning("JWKS %s not fetched (%s); keeping the previous keys", self.url, type(exc).__name__)

    def _lookup(self, kid: str) -> PyJWK:
        if not self._keys and self.url is not None:
            raise _unavailable(RuntimeError("no keys fetched yet"))
        found = self._keys.get(kid)
        if found is None:
            raise Unauthenticated(
                f"unknown key id {kid[:64]!r}: the token was not signed by a key of the trusted issuer",
                reason="unknown_kid",
            )
        return found


def _unavailable(exc: Any) -> Unauthenticated:
    return Unauthenticated(
        f"the issuer's signing keys cannot be read ({type(exc).__name__}); try again shortly",
        reason="jwks_unavailable",
    )
