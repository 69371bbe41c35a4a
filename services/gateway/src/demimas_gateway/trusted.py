"""Trusted documents: a mode in which the gateway runs only operations registered in a manifest, as ministry systems
deploy (their operations are known at build time; anything else is an attacker's).

The manifest is JSON, either Apollo's persisted-query manifest (`{"operations": [{"id": ..., "body": ...}]}`) or a
plain object `{"<sha256 hex>": "<document>"}`. A request names an operation by `extensions.persistedQuery.sha256Hash`
(Apollo's protocol) or `documentId` (`sha256:<hex>` or `<hex>`), or sends a full `query` whose SHA-256 is in the
manifest. Ids are checked to be the SHA-256 of their body when the manifest is loaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson

__all__ = ["TrustedDocuments", "document_hash"]


def document_hash(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


class TrustedDocuments:
    def __init__(self, documents: dict[str, str]) -> None:
        for digest, body in documents.items():
            if document_hash(body) != digest:
                raise ValueError(f"trusted document {digest[:16]}... is not the SHA-256 of its body")
        self.documents = documents
        self._known = frozenset(documents.values())

    @classmethod
    def load(cls, path: Path) -> TrustedDocuments:
        raw: Any = orjson.loads(path.read_bytes())
        if isinstance(raw, dict) and isinstance(raw.get("operations"), list):
            return cls({str(op["id"]): str(op["body"]) for op in raw["operations"]})
        if isinstance(raw, dict) and all(isinstance(v, str) for v in raw.values()):
            return cls({str(k): v for k, v in raw.items()})
        raise ValueError(f"{path}: not a trusted-document manifest")

    def resolve(self, request: dict[str, Any]) -> str | None:
        """The document to run, or None when the request names or sends no registered operation."""
        query = request.get("query")
        if isinstance(query, str) and query:
            return query if query in self._known else None
        ident = request.get("documentId")
        if not isinstance(ident, str):
            extensions = request.get("extensions")
            persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
            ident = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if not isinstance(ident, str):
            return None
        return self.documents.get(ident.removeprefix("sha256:"))
