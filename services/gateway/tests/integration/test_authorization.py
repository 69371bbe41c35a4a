"""Authorization directives with Apollo Router's semantics over the shop subgraphs, with rules added to the shop
supergraph: `@policy` (region rules of the default hook), the same directive from two subgraphs (OR), different
directives on one field (AND), a guarded implementation field behind an interface, and a personal-data field (purpose).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from demimas_gateway.fetcher import SubgraphClient
from demimas_gateway.gateway import Caller, Gateway, RequestError
from demimas_gateway.policies import region_policies
from demimas_gateway.supergraph import load_supergraph

from ..support.subgraphs import MiniSubgraph, serve_subgraphs  # noqa: TID252
from .test_planner_features import SUPERGRAPH, shop_graphs

pytestmark = pytest.mark.integration

POLICY_LINK = '@link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY) {'
POLICY_DIRECTIVE = (
    "directive @policy(policies: [[policy__Policy!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n"
    "scalar policy__Policy\n"
)
RULES = {
    "weight: Int @join__field(graph: CATALOG) @join__field(graph: PRICING, external: true)": (
        '@policy(policies: [["region:16"]])'
    ),
    "price: Int @join__field(graph: PRICING)": (
        '@requiresScopes(scopes: [["finance:read"]]) @requiresScopes(scopes: [["sales:read"]])'
        ' @policy(policies: [["national"]])'
    ),
    "  pages: Int\n": '@requiresScopes(scopes: [["pii:read"]])',
}


def secured_supergraph() -> str:
    sdl = SUPERGRAPH.replace("for: SECURITY) {", "for: SECURITY) " + POLICY_LINK, 1)
    sdl = sdl.replace("directive @authenticated", POLICY_DIRECTIVE + "directive @authenticated", 1)
    for line, rule in RULES.items():
        assert sdl.count(line) == 1, line
        sdl = sdl.replace(line, line.rstrip("\n") + " " + rule + ("\n" if line.endswith("\n") else ""))
    book = "type Book implements Media"  # Book.title needs a token, Movie.title does not
    head, tail = sdl.split(book, 1)
    return head + book + tail.replace("  title: String\n", "  title: String @authenticated\n", 1)


SECURED = secured_supergraph()


@pytest.fixture(scope="module")
def graphs() -> dict[str, MiniSubgraph]:
    return shop_graphs()


@pytest.fixture(scope="module")
async def urls(graphs: dict[str, MiniSubgraph]) -> AsyncIterator[dict[str, str]]:
    async with serve_subgraphs(list(graphs.values())) as served:
        yield served


@pytest.fixture
async def client(urls: dict[str, str], graphs: dict[str, MiniSubgraph]) -> AsyncIterator[SubgraphClient]:
    client = SubgraphClient(urls, timeout_seconds=10)  # generous: no timeout is tested here (1 s flakes on loaded CI)
    for graph in graphs.values():
        graph.requests.clear()
    yield client
    await client.close()


def make(urls: dict[str, str], client: SubgraphClient, **options: Any) -> Gateway:
    return Gateway(load_supergraph(SECURED, graph_urls=urls), client, **options)


def calls(graphs: dict[str, MiniSubgraph]) -> dict[str, int]:
    return {name: len(g.requests) for name, g in graphs.items()}


def sent(graphs: dict[str, MiniSubgraph], name: str) -> str:
    return " ".join(r["body"]["query"] for r in graphs[name].requests)


def unauthorized(errors: list[dict[str, Any]]) -> list[list[Any]]:
    assert all(e["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE" for e in errors)
    assert {e["message"] for e in errors} <= {"Unauthorized field or type"}  # names nothing
    return sorted(e["path"] for e in errors)


ANON = Caller()
FINANCE = Caller(authenticated=True, scopes=frozenset({"finance:read"}))


async def test_errors_at_each_real_path_through_aliases_and_fragments(
    urls: dict[str, str], client: SubgraphClient, graphs: dict[str, MiniSubgraph]
) -> None:
    gateway = make(urls, client)
    query = "{ products { id c: cost ...F } } fragment F on Product { cost }"
    response = await gateway.execute(query, caller=ANON)
    assert response.data == {"products": [{"id": "p1", "c": None, "cost": None}, {"id": "p2", "c": None, "cost": None}]}
    assert unauthorized(response.errors) == [
        ["products", 0, "c"],
        ["products", 0, "cost"],
        ["products", 1, "c"],
        ["products", 1, "cost"],
    ]
    assert "cost" not in sent(graphs, "catalog")
    response = await gateway.execute(query, caller=FINANCE)
    assert response.errors == []
    assert response.data == {"products": [{"id": "p1", "c": 7, "cost": 7}, {"id": "p2", "c": 70, "cost": 70}]}


async def test_interface_field_is_guarded_when_any_implementation_is(
    urls: dict[str, str], client: SubgraphClient, graphs: dict[str, MiniSubgraph]
) -> None:
    gateway = make(urls, client)
    response = await gateway.execute("{ media { id title } }", caller=ANON)
    assert response.data == {"media": [{"id": "b1", "title": None}, {"id": "m1", "title": None}]}
    assert unauthorized(response.errors) == [["media", 0, "title"], ["media", 1, "title"]]
    assert "title" not in sent(graphs, "catalog")
    response = await gateway.execute("{ media { id ... on Movie { title } } }", caller=ANON)
    assert response.errors == []
    assert response.data == {"media": [{"id": "b1"}, {"id": "m1", "title": "Alien"}]}
    authenticated = Caller(authenticated=True)
    response = await gateway.execute("{ media { id title } }", caller=authenticated)
    assert response.errors == []
    assert response.data == {"media": [{"id": "b1", "title": "Dune"}, {"id": "m1", "title": "Alien"}]}


@pytest.mark.parametrize(
    ("region", "visible"), [(None, True), ("16", True), ("16.06", True), ("32.01", False), ("160", False)]
)
async def test_region_policy(urls: dict[str, str], client: SubgraphClient, region: str | None, visible: bool) -> None:
    gateway = make(urls, client)
    caller = Caller(authenticated=True, agency="BP3MI", region=region)
    response = await gateway.execute('{ product(id: "p1") { name weight } }', caller=caller)
    assert response.data == {"product": {"name": "Lamp", "weight": 2 if visible else None}}
    assert unauthorized(response.errors) == ([] if visible else [["product", "weight"]])
    response = await gateway.execute('{ product(id: "p1") { weight } }', caller=ANON)
    assert unauthorized(response.errors) == [["product", "weight"]]


async def test_policy_hook_decides_and_unknown_policies_fail_closed(
    urls: dict[str, str], client: SubgraphClient
) -> None:
    seen: list[frozenset[str]] = []

    def hook(caller: Caller, policies: frozenset[str]) -> frozenset[str]:
        seen.append(policies)
        return frozenset({"national", "made-up"})

    gateway = make(urls, client, policy_hook=hook)
    regional = Caller(authenticated=True, region="32.01", scopes=frozenset({"sales:read"}))
    response = await gateway.execute('{ product(id: "p1") { weight price } }', caller=regional)
    assert response.data == {"product": {"weight": None, "price": 100}}  # the hook said national, not region:16
    assert seen == [frozenset({"region:16", "national"})]
    assert region_policies(regional, frozenset({"made-up", "region:32"})) == frozenset({"region:32"})


@pytest.mark.parametrize(
    ("scopes", "region", "visible"),
    [
        ({"finance:read"}, None, True),  # one subgraph's scope is enough (OR)
        ({"sales:read"}, None, True),
        ({"sales:read"}, "16.06", False),  # ... and the policy must hold too (AND)
        ({"stats:read"}, None, False),
    ],
)
async def test_same_directive_or_different_directives_and(
    urls: dict[str, str],
    client: SubgraphClient,
    graphs: dict[str, MiniSubgraph],
    scopes: set[str],
    region: str | None,
    visible: bool,
) -> None:
    gateway = make(urls, client)
    caller = Caller(authenticated=True, scopes=frozenset(scopes), region=region)
    response = await gateway.execute('{ product(id: "p1") { price } }', caller=caller)
    assert response.data == {"product": {"price": 100 if visible else None}}
    assert calls(graphs)["pricing"] == (1 if visible else 0)  # the empty fetch is not sent


async def test_reject_setting_refuses_the_whole_operation(
    urls: dict[str, str], client: SubgraphClient, graphs: dict[str, MiniSubgraph]
) -> None:
    gateway = make(urls, client, reject_unauthorized=True)
    with pytest.raises(RequestError) as failure:
        await gateway.execute('{ product(id: "p1") { name cost } }', caller=ANON)
    assert (failure.value.code, failure.value.status) == ("UNAUTHORIZED_FIELD_OR_TYPE", 403)
    assert "cost" not in failure.value.message
    assert calls(graphs) == {"catalog": 0, "pricing": 0, "reviews": 0}
    response = await gateway.execute('{ product(id: "p1") { name cost } }', caller=FINANCE)
    assert response.data == {"product": {"name": "Lamp", "cost": 7}}


async def test_personal_fields_need_a_purpose(
    urls: dict[str, str], client: SubgraphClient, graphs: dict[str, MiniSubgraph]
) -> None:
    gateway = make(urls, client)
    query = "{ media { id ... on Book { pages } } }"
    pii = Caller(authenticated=True, scopes=frozenset({"pii:read"}))
    response = await gateway.execute(query, caller=pii)
    assert response.data == {"media": [{"id": "b1", "pages": None}, {"id": "m1"}]}
    assert [(e["path"], e["extensions"]["code"]) for e in response.errors] == [
        (["media", 0, "pages"], "PURPOSE_REQUIRED")
    ]
    assert "pages" not in sent(graphs, "catalog")  # removed before planning, like an unauthorised field
    with_purpose = Caller(authenticated=True, scopes=frozenset({"pii:read"}), purpose="PLACEMENT_SERVICE")
    response = await gateway.execute(query, caller=with_purpose, headers={"x-demimas-purpose": "PLACEMENT_SERVICE"})
    assert response.errors == []
    assert response.data == {"media": [{"id": "b1", "pages": 500}, {"id": "m1"}]}
    assert graphs["catalog"].requests[-1]["headers"]["x-demimas-purpose"] == "PLACEMENT_SERVICE"
    response = await gateway.execute(query, caller=ANON)  # not allowed at all: unauthorised, not a purpose matter
    assert unauthorized(response.errors) == [["media", 0, "pages"]]


async def test_no_way_around_through_entities_or_suggestions(urls: dict[str, str], client: SubgraphClient) -> None:
    gateway = make(urls, client, suggestions=False)
    entities = '{ _entities(representations: [{__typename: "Product", id: "p1"}]) { ... on Product { cost } } }'
    with pytest.raises(RequestError) as failure:
        await gateway.execute(entities, caller=ANON)
    assert failure.value.code == "GRAPHQL_VALIDATION_FAILED"
    with pytest.raises(RequestError) as failure:
        await gateway.execute("{ products { cots } }", caller=ANON)
    assert "Did you mean" not in failure.value.message
    assert "cost" not in failure.value.message.replace("cots", "")
