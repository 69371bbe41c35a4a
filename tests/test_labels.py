"""Each subgraph labels exactly its own enums (issue 20, item 7): the enums of its committed SDL
(deploy/subgraphs/<name>.graphql) and its catalogue (`demimas_<name>.labels`) name the same enums and values, so a
subgraph never leans on another's labels for an enum it carries and a catalogue keeps no labels of removed values.
The gateway-level completeness test is tests/e2e/test_gateway_labels.py."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from graphql import EnumTypeDefinitionNode, parse

from demimas_common.graphql.labels import SHARED, Catalogue

SUBGRAPHS = Path(__file__).resolve().parents[1] / "deploy" / "subgraphs"


def _enums(name: str) -> dict[str, list[str]]:
    document = parse((SUBGRAPHS / f"{name}.graphql").read_text())
    return {
        d.name.value: [v.name.value for v in d.values or ()]
        for d in document.definitions
        if isinstance(d, EnumTypeDefinitionNode) and not d.name.value.startswith(("link__", "join__"))
    }


@pytest.mark.parametrize("name", sorted(p.stem for p in SUBGRAPHS.glob("*.graphql")))
def test_a_subgraph_labels_exactly_its_own_enums(name: str) -> None:
    enums = _enums(name)
    if not enums:  # a subgraph without enums (audit) needs no labels field
        return
    labels: Catalogue = importlib.import_module(f"demimas_{name}.labels").LABELS
    assert {e: set(labels[e]) for e in labels} == {e: set(values) for e, values in enums.items()}
    for enum, values in labels.items():
        for value, (indonesian, english) in values.items():
            assert indonesian.strip(), f"{enum}.{value}"
            assert english.strip(), f"{enum}.{value}"
    assert f"{name}Labels(" in (SUBGRAPHS / f"{name}.graphql").read_text()


def test_shared_enums_are_labelled_once() -> None:
    # Agency and Sex are carried by several subgraphs: their labels are the same objects everywhere
    for name in ("registry", "cases", "pillars"):
        labels: Catalogue = importlib.import_module(f"demimas_{name}.labels").LABELS
        for enum in SHARED.keys() & labels.keys():
            assert labels[enum] is SHARED[enum]
