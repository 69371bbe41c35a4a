"""Indonesian and English labels of every enum value, through the gateway (issue 20, item 7).

The enums and the label fields come from the committed API schema (deploy/api-schema.graphql), not from a list: every
root field returning `[EnumLabel!]!` is asked, in one query, for both languages, and every value of every enum of the
schema must come back with a label in each. An enum added without labels fails here the day the supergraph is
recomposed. No label may be empty, a placeholder, the bare identifier, or shared by two values of the same enum.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    EnumTypeDefinitionNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    TypeNode,
    parse,
)

from tests.conftest import Endpoints, ask

pytestmark = pytest.mark.integration

API_SCHEMA = Path(__file__).resolve().parents[2] / "deploy" / "api-schema.graphql"
PLACEHOLDERS = {"todo", "tbd", "fixme", "xxx", "-", "?", "label", "n/a"}


def _named(node: TypeNode) -> str:
    while isinstance(node, NonNullTypeNode | ListTypeNode):
        node = node.type
    assert isinstance(node, NamedTypeNode)
    return node.name.value


def _api() -> tuple[dict[str, list[str]], list[str]]:
    """The API schema's enums (name -> values) and its root fields that serve labels."""
    document = parse(API_SCHEMA.read_text())
    enums = {
        d.name.value: [v.name.value for v in d.values or ()]
        for d in document.definitions
        if isinstance(d, EnumTypeDefinitionNode)
    }
    query = next(d for d in document.definitions if isinstance(d, ObjectTypeDefinitionNode) and d.name.value == "Query")
    fields = [f.name.value for f in query.fields or () if _named(f.type) == "EnumLabel"]
    return enums, fields


def _query(fields: list[str]) -> str:
    selections = " ".join(f"{f}(lang: $lang) {{ enum value lang label }}" for f in fields)
    return f"query L($lang: Lang!) {{ {selections} }}"


async def _labels(endpoints: Endpoints, token: str, fields: list[str], lang: str) -> dict[str, Any]:
    status, answer = await ask(endpoints.gateway, _query(fields), {"lang": lang}, token=token)
    assert status == 200, answer
    assert "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    return data


async def test_every_enum_value_has_an_indonesian_and_an_english_label(
    endpoints: Endpoints, mint: Callable[..., str]
) -> None:
    enums, fields = _api()
    assert len(fields) >= 5  # the walk found the schema's label fields
    assert len(enums) >= 40  # and its enums
    token = mint("KEMENKO_POLKAM")  # labels are public: the agency with the fewest scopes but the auditor's
    by_lang: dict[str, dict[tuple[str, str], str]] = {}
    for lang in ("ID", "EN"):
        data = await _labels(endpoints, token, fields, lang)
        found: dict[tuple[str, str], str] = {}
        for field in fields:
            for row in data[field]:
                assert row["lang"] == lang, row
                key = (row["enum"], row["value"])
                assert row["enum"] in enums, f"{field} labels {key}: not in the API"
                assert row["value"] in enums[row["enum"]], f"{field} labels {key}: not in the API"
                # an enum two subgraphs carry (Agency, Sex) is labelled the same by each
                assert found.setdefault(key, row["label"]) == row["label"], (field, key)
        by_lang[lang] = found

    for lang, found in by_lang.items():
        missing = [f"{e}.{v}" for e, values in enums.items() for v in values if (e, v) not in found]
        assert not missing, f"enum values without a {lang} label: {missing}"
        for (enum, value), label in found.items():
            text = label.strip()
            assert text, f"{enum}.{value} ({lang}): empty label"
            assert text == label, f"{enum}.{value} ({lang}): padded label {label!r}"
            assert text.lower() not in PLACEHOLDERS, f"{enum}.{value} ({lang}): placeholder {label!r}"
            assert text != value, f"{enum}.{value} ({lang}): the identifier is not a label"
        for enum, values in enums.items():
            labels = [found[(enum, v)] for v in values]
            assert len(set(labels)) == len(labels), f"{enum} ({lang}): two values share a label: {labels}"
    # Indonesian is not English with another flag: most values read differently in the two languages
    same = [k for k, label in by_lang["ID"].items() if by_lang["EN"][k] == label]
    assert len(same) < len(by_lang["ID"]) // 10, f"labels identical in both languages: {same}"
    # the programme's own words
    assert by_lang["ID"][("EmasPillar", "EDUCATIVE")] == "Edukatif"
    assert [by_lang["ID"][("EmasPillar", v)] for v in enums["EmasPillar"]] == ["Edukatif", "Maju", "Aman", "Sejahtera"]
    assert (
        "Pencegahan PMI nonprosedural" in by_lang["ID"][("ServicePillar", "NONPROCEDURAL_AND_TRAFFICKING_PREVENTION")]
    )


async def test_one_enum_by_name_an_unknown_one_and_no_token(endpoints: Endpoints, mint: Callable[..., str]) -> None:
    token = mint("AUDITOR")
    one = 'query { pillarsLabels(enum: "EmasPillar") { enum value label } }'
    status, answer = await ask(endpoints.gateway, one, token=token)
    assert status == 200, answer
    assert "errors" not in answer, answer
    assert [(r["enum"], r["value"], r["label"]) for r in answer["data"]["pillarsLabels"]] == [
        ("EmasPillar", "EDUCATIVE", "Edukatif"),
        ("EmasPillar", "ADVANCED", "Maju"),
        ("EmasPillar", "SAFE", "Aman"),
        ("EmasPillar", "PROSPEROUS", "Sejahtera"),
    ]
    english = 'query { registryLabels(enum: "WorkerStatus", lang: EN) { value label } }'
    _, answer = await ask(endpoints.gateway, english, token=token)
    assert {r["value"]: r["label"] for r in answer["data"]["registryLabels"]}["RETURNED"] == "Returned migrant worker"

    # an enum another subgraph owns is not this field's: the caller is told which enums it labels
    _, answer = await ask(endpoints.gateway, 'query { registryLabels(enum: "CaseKind") { value } }', token=token)
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["BAD_USER_INPUT"], answer
    assert "WorkerStatus" in answer["errors"][0]["message"]

    _, answer = await ask(endpoints.gateway, one)
    assert answer.get("data") is None or answer["data"].get("pillarsLabels") is None, answer
    assert answer["errors"], answer
