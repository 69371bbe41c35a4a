"""The composition pipeline's guard rails (docs/gateway.md): the committed subgraph SDLs are what the
code prints, the committed supergraph is what the composer makes of them, and the API schema has no breaking change
that was not agreed."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib import import_module
from pathlib import Path

import pytest

from demimas_common.graphql.sdl import print_sdl, subgraph_url
from demimas_common.service import ServiceSpec, discover_services
from demimas_gateway.schema_check import api_sdl, breaking_changes, unaccepted_breaking_changes

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SUBGRAPHS = [s for s in discover_services() if s.graphql_schema]
FIX = "run `make supergraph` and commit deploy/"


@pytest.mark.parametrize("spec", SUBGRAPHS, ids=[s.name for s in SUBGRAPHS])
def test_printed_sdl_equals_the_committed_one(spec: ServiceSpec) -> None:
    committed = DEPLOY / "subgraphs" / f"{spec.name}.graphql"
    assert committed.is_file(), f"{committed} is missing: {FIX}"
    assert print_sdl(spec) == committed.read_text(), f"{spec.name}'s schema changed: {FIX}"


@pytest.mark.parametrize("spec", SUBGRAPHS, ids=[s.name for s in SUBGRAPHS])
def test_printed_sdl_is_what_the_subgraph_answers_to_service_sdl(spec: ServiceSpec) -> None:
    assert spec.graphql_schema is not None
    module, _, attribute = spec.graphql_schema.partition(":")
    result = getattr(import_module(module), attribute).execute_sync("{ _service { sdl } }")
    assert result.errors is None, result.errors
    assert result.data is not None
    assert print_sdl(spec) == result.data["_service"]["sdl"].rstrip("\n") + "\n"


def test_every_subgraph_is_committed_with_its_url() -> None:
    urls = json.loads((DEPLOY / "subgraphs" / "subgraphs.json").read_text())
    assert urls == {s.name: subgraph_url(s) for s in SUBGRAPHS}, FIX
    on_disk = {p.stem for p in (DEPLOY / "subgraphs").glob("*.graphql")}
    assert on_disk == {s.name for s in SUBGRAPHS}, FIX


@pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None, reason="composition needs Node")
def test_recomposition_equals_the_committed_supergraph(tmp_path: Path) -> None:
    compose = DEPLOY / "compose"
    installed = compose / "node_modules" / ".package-lock.json"  # written by npm ci; older than the lock = stale
    lock = compose / "package-lock.json"
    if not installed.is_file() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            ["npm", "ci", "--prefix", str(compose), "--no-audit", "--no-fund"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    out = tmp_path / "supergraph.graphql"
    result = subprocess.run(
        ["node", str(compose / "compose.mjs"), str(DEPLOY / "subgraphs"), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text() == (DEPLOY / "supergraph.graphql").read_text(), f"the supergraph is stale: {FIX}"


def test_no_unaccepted_breaking_change_in_the_api_schema() -> None:
    changes = unaccepted_breaking_changes(
        DEPLOY / "supergraph.graphql", DEPLOY / "api-schema.graphql", DEPLOY / "accepted-breaking-changes.txt"
    )
    assert changes == [], (
        f"breaking API changes {changes}: agree them with the integrators, list them in "
        "deploy/accepted-breaking-changes.txt, then run `make supergraph`"
    )


def test_the_api_schema_baseline_is_current() -> None:
    # `make supergraph` refreshes the baseline once the check passes, so additions are guarded from then on too
    current = api_sdl((DEPLOY / "supergraph.graphql").read_text())
    assert (DEPLOY / "api-schema.graphql").read_text() == current, f"deploy/api-schema.graphql is stale: {FIX}"


def test_the_check_sees_a_breaking_change() -> None:
    current = api_sdl((DEPLOY / "supergraph.graphql").read_text())
    narrowed = current.replace("  nikMasked: String!\n", "", 1)
    assert narrowed != current
    assert any("nikMasked" in change for change in breaking_changes(current, narrowed))
