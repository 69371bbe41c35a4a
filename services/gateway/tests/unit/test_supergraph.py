"""Supergraph loader: the API schema clients see, the planner's metadata, and refusals that name the element."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import print_schema

from demimas_gateway.cli import main
from demimas_gateway.fieldset import FsField
from demimas_gateway.supergraph import SupergraphError, load_supergraph

FIXTURES = Path(__file__).parent.parent / "fixtures"
SHOP = (FIXTURES / "shop-supergraph.graphql").read_text()
BENCH = (FIXTURES / "bench-supergraph.graphql").read_text()


def test_api_schema_has_no_machinery_and_nothing_inaccessible() -> None:
    api = print_schema(load_supergraph(SHOP).api_schema)
    assert "join__" not in api
    assert "link__" not in api
    assert "@link" not in api
    assert "secret" not in api  # @inaccessible
    assert "requiresScopes" not in api
    assert "@authenticated" not in api
    assert "type Product implements Node" in api
    assert "union SearchResult = Product | Article" in api


def test_metadata_for_the_planner() -> None:
    supergraph = load_supergraph(SHOP)
    product = supergraph.types["Product"]
    assert product.graphs == {"catalog", "pricing", "reviews"}
    assert [k.text for k in product.keys["pricing"]] == ["id"]
    shipping = product.fields["shipping"]["pricing"]
    assert shipping.requires == (FsField("weight", ()), FsField("size", (FsField("width", ()),)))
    assert product.fields["weight"]["pricing"].external
    assert product.fields["stock"]["pricing"].override_from == "catalog"
    assert product.fields["stock"]["pricing"].override_label == "percent(100)"
    assert product.field_auth["cost"] == (False, (frozenset({"finance:read"}),), None)
    assert product.field_auth["margin"][0] is True
    review = supergraph.types["Review"]
    assert review.fields["product"]["reviews"].provides == (FsField("name", ()),)
    media = supergraph.types["Media"]
    assert media.interface_object_in == {"reviews"}
    assert "rating" in supergraph.types["Book"].via_interface_object
    assert supergraph.types["SearchResult"].members["catalog"] == {"Product", "Article"}
    assert supergraph.types["Article"].implements["catalog"] == {"Node"}


def test_subgraph_urls_can_be_overridden() -> None:
    supergraph = load_supergraph(BENCH, graph_urls={"products": "http://elsewhere/graphql"})
    assert supergraph.graphs["products"].url == "http://elsewhere/graphql"
    assert supergraph.graphs["accounts"].url == "http://0.0.0.0:4200/accounts"


@pytest.mark.parametrize(
    ("change", "names"),
    [
        (
            lambda s: s.replace(
                '@link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)',
                '@link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)'
                ' @link(url: "https://specs.apollo.dev/unknown/v0.1", for: SECURITY)',
            ),
            "unknown v0.1",
        ),
        (lambda s: s.replace("join/v0.3", "join/v0.2"), "join/v0.2"),
        (
            lambda s: s.replace(
                'key: "upc")\n  @join__type(graph: PRODUCTS', 'key: "upc {")\n  @join__type(graph: PRODUCTS'
            ),
            "Product @join__type",
        ),
        (lambda s: s.replace("type Product", "type Product {", 1), "not valid GraphQL SDL"),
        (lambda s: s.replace("@join__field(graph: INVENTORY)", "@join__field(graph: NOWHERE)", 1), "NOWHERE"),
    ],
)
def test_refusals_name_the_element(change: object, names: str) -> None:
    broken = change(BENCH)  # type: ignore[operator]
    assert broken != BENCH
    with pytest.raises(SupergraphError) as failure:
        load_supergraph(broken)
    assert names in str(failure.value)


def test_unknown_feature_for_documentation_only_is_ignored() -> None:
    extra = BENCH.replace(
        '@link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)',
        '@link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION) @link(url: "https://example.org/docs/v1.0")',
    )
    load_supergraph(extra)


def test_plan_command_prints_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    query = FIXTURES / "bench-query.graphql"
    assert main(["plan", "--supergraph", str(FIXTURES / "bench-supergraph.graphql"), "--query", f"@{query}"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("QueryPlan (query, 11 fetches)")  # Apollo's planner: 16
    assert "Fetch(service: 'inventory', entities: Product, path: topProducts" in printed
    assert "representations: upc price weight" in printed
