"""HTTP to subgraphs: one pooled keep-alive session per worker, JSON in and out with orjson, every failure turned
into a `SubgraphFailure` with a stable code (the codes Apollo's gateways use, so clients can match on them)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

__all__ = ["SubgraphClient", "SubgraphFailure"]


class SubgraphFailure(Exception):
    def __init__(self, graph: str, code: str, message: str) -> None:
        super().__init__(message)
        self.graph = graph
        self.code = code
        self.message = message


class SubgraphClient:
    def __init__(self, urls: Mapping[str, str], *, timeout_seconds: float = 10.0, max_connections: int = 100) -> None:
        self.urls = dict(urls)
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.max_connections, keepalive_timeout=30, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self.timeout, json_serialize=lambda o: orjson.dumps(o).decode()
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, graph: str, body: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        url = self.urls.get(graph)
        if not url:
            raise SubgraphFailure(graph, "SUBREQUEST_HTTP_ERROR", f"subgraph {graph!r} has no URL")
        payload = orjson.dumps(body)
        request_headers = {"content-type": "application/json", "accept": "application/json", **headers}
        try:
            async with self._get_session().post(url, data=payload, headers=request_headers) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError as exc:
            raise SubgraphFailure(graph, "SUBREQUEST_TIMEOUT", f"subgraph {graph!r} did not answer in time") from exc
        except (aiohttp.ClientError, OSError, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise SubgraphFailure(
                graph, "SUBREQUEST_HTTP_ERROR", f"subgraph {graph!r} could not be reached: {type(exc).__name__}"
            ) from exc
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and ("data" in parsed or "errors" in parsed):
            return parsed
        if status >= 400:
            raise SubgraphFailure(graph, "SUBREQUEST_HTTP_ERROR", f"subgraph {graph!r} answered HTTP {status}")
        raise SubgraphFailure(
            graph,
            "SUBREQUEST_MALFORMED_RESPONSE",
            f"subgraph {graph!r} answered something that is not a GraphQL response",
        )
