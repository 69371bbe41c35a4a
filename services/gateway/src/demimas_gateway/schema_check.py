"""The API schema a supergraph exposes, and the breaking changes between two of them (graphql-core's
`find_breaking_changes`), so a change that would break ministry integrations cannot land unnoticed.

`deploy/api-schema.graphql` is the accepted baseline (refreshed on purpose with `make api-baseline`);
`deploy/accepted-breaking-changes.txt` lists, one per line, breaking changes that were agreed with the integrators.
"""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema, find_breaking_changes, print_schema

from demimas_gateway.supergraph import load_supergraph

__all__ = ["accepted_changes", "api_sdl", "breaking_changes", "unaccepted_breaking_changes"]


def api_sdl(supergraph_sdl: str) -> str:
    return print_schema(load_supergraph(supergraph_sdl).api_schema) + "\n"


def breaking_changes(old_api_sdl: str, new_api_sdl: str) -> list[str]:
    changes = find_breaking_changes(build_schema(old_api_sdl), build_schema(new_api_sdl))
    return sorted(f"{change.type.name}: {change.description}" for change in changes)


def accepted_changes(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    lines = (line.strip() for line in path.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def unaccepted_breaking_changes(supergraph: Path, baseline: Path, accepted: Path) -> list[str]:
    if not baseline.is_file():
        return []
    new = api_sdl(supergraph.read_text())
    allowed = accepted_changes(accepted)
    return [change for change in breaking_changes(baseline.read_text(), new) if change not in allowed]
