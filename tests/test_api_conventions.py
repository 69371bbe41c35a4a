"""The integrator conventions of the API schema the gateway serves (deploy/api-schema.graphql, docs/integration.md):
every connection has `totalCount`, and `regionPrefix` is the one region filter (the older names kept only as
deprecated). Walks the whole schema, so the next connection or region filter added without them fails here."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    build_schema,
)

API_SCHEMA = Path(__file__).resolve().parents[1] / "deploy" / "api-schema.graphql"
OLD_REGION_FILTERS = {"provinceCode", "regencyCode"}


def schema_types() -> list[object]:
    schema = build_schema(API_SCHEMA.read_text())
    return [t for name, t in schema.type_map.items() if not name.startswith("__")]


def connections() -> list[GraphQLObjectType]:
    """Every type shaped as a Relay connection (`edges` and `pageInfo`), whatever it is called."""
    return [
        t
        for t in schema_types()
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType) and {"edges", "pageInfo"} <= set(t.fields)
    ]


def test_the_walk_finds_the_connections() -> None:
    names = {t.name for t in connections()}
    assert {"WorkerConnection", "ChangeConnection", "AuditEventConnection", "ReturneeConnection"} <= names


def test_every_connection_has_a_non_null_int_total_count() -> None:
    missing = []
    for connection in connections():
        field = connection.fields.get("totalCount")
        ok = (
            field is not None
            and isinstance(field.type, GraphQLNonNull)
            and isinstance(field.type.of_type, GraphQLScalarType)
            and field.type.of_type.name == "Int"
        )
        if not ok:
            missing.append(connection.name)
    assert missing == [], f"connections without `totalCount: Int!` (docs/integration.md, pagination): {missing}"


def test_every_total_count_says_it_costs_a_count() -> None:
    undocumented = [t.name for t in connections() if "cost" not in (t.fields["totalCount"].description or "").lower()]
    assert undocumented == [], f"totalCount without a description of its cost: {undocumented}"


def test_region_filters_other_than_region_prefix_are_deprecated() -> None:
    """An argument or input field named provinceCode or regencyCode is a region filter in an older spelling: it
    must be deprecated in favour of `regionPrefix`, which sits next to it."""
    offenders = []
    for t in schema_types():
        if isinstance(t, GraphQLInputObjectType):
            for name, field in t.fields.items():
                if name in OLD_REGION_FILTERS and (
                    field.deprecation_reason != "Use regionPrefix" or "regionPrefix" not in t.fields
                ):
                    offenders.append(f"{t.name}.{name}")
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in t.fields.items():
                for name, arg in field.args.items():
                    if name in OLD_REGION_FILTERS and (
                        arg.deprecation_reason != "Use regionPrefix" or "regionPrefix" not in field.args
                    ):
                        offenders.append(f"{t.name}.{field_name}({name})")
    assert offenders == [], f"region filters not deprecated in favour of regionPrefix: {offenders}"
