"""The labels field every subgraph builds from its catalogue (demimas_common.graphql.labels)."""

from __future__ import annotations

import pytest
import strawberry

from demimas_common.graphql.labels import SHARED, catalogue, labels_field

OWN = {"Colour": {"RED": ("Merah", "Red"), "GREEN": ("Hijau", "Green")}}


@strawberry.type
class Query:
    demo_labels = labels_field("demo", catalogue(OWN, shared=("Sex",)))


SCHEMA = strawberry.federation.Schema(query=Query)


def test_every_enum_or_one_in_either_language() -> None:
    every = SCHEMA.execute_sync("{ demoLabels { enum value lang label } }")
    assert every.errors is None
    assert every.data is not None
    rows = [(r["enum"], r["value"], r["lang"], r["label"]) for r in every.data["demoLabels"]]
    assert ("Colour", "RED", "ID", "Merah") in rows
    assert ("Sex", "FEMALE", "ID", SHARED["Sex"]["FEMALE"][0]) in rows
    assert ("Lang", "EN", "ID", "Bahasa Inggris") in rows  # Lang, which the field carries, is labelled too
    one = SCHEMA.execute_sync('{ demoLabels(enum: "Colour", lang: EN) { value label } }')
    assert one.data == {"demoLabels": [{"value": "RED", "label": "Red"}, {"value": "GREEN", "label": "Green"}]}


def test_an_enum_the_subgraph_does_not_carry_is_refused_with_those_it_does() -> None:
    result = SCHEMA.execute_sync('{ demoLabels(enum: "CaseKind") { value } }')
    assert result.errors is not None
    assert "Colour" in result.errors[0].message
    assert "CaseKind" in result.errors[0].message


def test_a_shared_enum_cannot_be_labelled_again_by_a_service() -> None:
    with pytest.raises(ValueError, match="Sex"):
        catalogue({"Sex": {"FEMALE": ("Wanita", "Woman"), "MALE": ("Pria", "Man")}}, shared=("Sex",))
