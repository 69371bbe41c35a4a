"""Webhook endpoints over GraphQL with real tokens, against the session's PostgreSQL: an agency sees only its own
endpoints on every path (root fields, nested lists, `_entities`, every mutation), the secret is shown once and kept
encrypted, a rotation keeps both secrets signing for the grace period, bad input has its codes, and every change
publishes its `demimas.feeds.endpoint.*` event (without URL or secret)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_feeds.adapters.endpoints import EndpointRepository
from demimas_feeds.adapters.tables import endpoint_secrets, events
from demimas_feeds.service_layer.endpoints import EndpointRules

from .conftest import Api, Caller

pytestmark = pytest.mark.integration

NOBODY = "0f000000-0000-4000-8000-00000000feed"
FIELDS = "id url description eventTypes regionPrefix status disabledReason createdAt failingSince lastSuccessAt"
CREATE = (
    "mutation C($in: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $in) { secret endpoint { "
    + FIELDS
    + " } } }"
)
GET = "query G($id: ID!) { webhookEndpoint(id: $id) { " + FIELDS + " deliveries { totalCount edges { cursor } } } }"
LIST = "query L($first: Int, $after: String) { webhookEndpoints(first: $first, after: $after) { totalCount edges { "
LIST += "cursor node { id deliveries(first: 5) { edges { node { id } } } } } pageInfo { hasNextPage endCursor } } }"
DELIVERIES = "query D($id: ID!) { webhookDeliveries(endpointId: $id) { totalCount edges { node { id } } } }"
ENTITIES = "query E($r: [_Any!]!) { _entities(representations: $r) { ... on WebhookEndpoint { id url eventTypes } } }"
ROTATE = "mutation R($id: ID!) { rotateWebhookSecret(id: $id) { secret oldSecretExpiresAt endpoint { id } } }"
DISABLE = "mutation X($id: ID!) { disableWebhookEndpoint(id: $id) { id status disabledReason } }"
ENABLE = "mutation N($id: ID!) { enableWebhookEndpoint(id: $id) { id status disabledReason } }"
DELETE = "mutation Z($id: ID!) { deleteWebhookEndpoint(id: $id) }"
UPDATE = "mutation U($id: ID!, $in: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(id: $id, input: $in) { id } }"
RECEIVER = "http://127.0.0.1:9/hook"  # development and test allow loopback receivers


def endpoint_input(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "url": RECEIVER,
        "eventTypes": ["demimas.registry.worker.*"],
        "description": "case management system",
    }
    value.update(changes)
    return {"in": value}


async def create(api: Api, who: Caller, **changes: Any) -> dict[str, Any]:
    created: dict[str, Any] = (await api.ok(who, CREATE, endpoint_input(**changes)))["createWebhookEndpoint"]
    return created


async def outbox_of(engine: AsyncEngine, endpoint_id: str) -> list[tuple[str, dict[str, Any]]]:
    t = events.outbox
    async with engine.connect() as conn:
        rows = await conn.execute(select(t.c.type, t.c.payload).where(t.c.subject == endpoint_id).order_by(t.c.seq))
        return [(r.type, r.payload) for r in rows]


async def test_create_shows_the_secret_once_and_keeps_it_encrypted(
    api: Api, feeds_engine: AsyncEngine, rules: EndpointRules
) -> None:
    kp2mi = api.caller("KP2MI")
    created = await create(api, kp2mi)
    secret, endpoint = created["secret"], created["endpoint"]
    assert secret.startswith("whsec_")
    assert endpoint["url"] == RECEIVER
    assert endpoint["status"] == "ACTIVE"
    assert endpoint["eventTypes"] == ["demimas.registry.worker.*"]

    read = await api.ok(kp2mi, GET, {"id": endpoint["id"]})
    assert secret not in json.dumps(read)
    assert secret[6:] not in json.dumps(read)

    endpoint_id = uuid.UUID(endpoint["id"])
    async with feeds_engine.connect() as conn:
        stored = (await conn.execute(select(endpoint_secrets.c.ciphertext))).scalars().all()
        mine = await EndpointRepository(conn).active_secrets(endpoint_id, dt.datetime.now(dt.UTC))
    assert all(secret.encode() not in bytes(blob) for blob in stored)
    assert [rules.box.decrypt(endpoint_id, blob) for blob in mine] == [secret]
    with pytest.raises(ValueError, match="does not decrypt"):
        rules.box.decrypt(uuid.uuid4(), mine[0])  # bound to its endpoint

    published = await outbox_of(feeds_engine, endpoint["id"])
    assert [t for t, _ in published] == ["demimas.feeds.endpoint.created"]
    payload = json.dumps(published[0][1])
    assert "127.0.0.1" not in payload
    assert secret not in payload
    assert published[0][1]["data"]["agency"] == "KP2MI"


async def test_another_agency_sees_nothing_on_any_path(api: Api) -> None:
    owner, other = api.caller("KEMENPPPA"), api.caller("BNN")
    endpoint = (await create(api, owner, eventTypes=["demimas.pillars.*"]))["endpoint"]
    assert (await api.ok(owner, GET, {"id": endpoint["id"]}))["webhookEndpoint"]["id"] == endpoint["id"]

    def without_id(ext: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in ext.items() if k != "message"}

    for query, variables in [
        (GET, {"id": "{id}"}),
        (DELIVERIES, {"id": "{id}"}),
        (ENTITIES, {"r": [{"__typename": "WebhookEndpoint", "id": "{id}"}]}),
        (ROTATE, {"id": "{id}"}),
        (DISABLE, {"id": "{id}"}),
        (ENABLE, {"id": "{id}"}),
        (DELETE, {"id": "{id}"}),
        (UPDATE, {"id": "{id}", "in": {"url": "http://127.0.0.1:8/stolen"}}),
    ]:
        theirs = json.loads(json.dumps(variables).replace("{id}", endpoint["id"]))
        nobodys = json.loads(json.dumps(variables).replace("{id}", NOBODY))
        refused = await api.error(other, query, theirs)
        assert refused["code"] == "NOT_FOUND", (query, refused)
        assert without_id(refused) == without_id(await api.error(other, query, nobodys)), query

    listed = (await api.ok(other, LIST, {"first": 500}))["webhookEndpoints"]
    assert endpoint["id"] not in {e["node"]["id"] for e in listed["edges"]}
    # the owner's endpoint is untouched by all of that
    still = (await api.ok(owner, GET, {"id": endpoint["id"]}))["webhookEndpoint"]
    assert still["status"] == "ACTIVE"
    assert still["url"] == RECEIVER
    own = (await api.ok(owner, LIST, {"first": 500}))["webhookEndpoints"]
    assert endpoint["id"] in {e["node"]["id"] for e in own["edges"]}
    assert own["totalCount"] == len(own["edges"])


async def test_regional_offices_of_one_agency_see_only_their_region(api: Api) -> None:
    central_java, south_sumatra = api.caller("BP3MI", "33"), api.caller("BP3MI", "16")
    endpoint = (await create(api, central_java, regionPrefix="33.07"))["endpoint"]
    assert endpoint["regionPrefix"] == "33.07"
    assert (await api.error(south_sumatra, GET, {"id": endpoint["id"]}))["code"] == "NOT_FOUND"
    assert (await api.error(south_sumatra, ROTATE, {"id": endpoint["id"]}))["code"] == "NOT_FOUND"
    listed = (await api.ok(south_sumatra, LIST, {"first": 500}))["webhookEndpoints"]
    assert endpoint["id"] not in {e["node"]["id"] for e in listed["edges"]}
    # a narrower office of the same region sees it only if the endpoint was made within its region
    assert (await api.error(api.caller("BP3MI", "33.07"), GET, {"id": endpoint["id"]}))["code"] == "NOT_FOUND"
    assert (await api.ok(central_java, GET, {"id": endpoint["id"]}))["webhookEndpoint"]["id"] == endpoint["id"]


async def test_pages_of_endpoints(api: Api) -> None:
    who = api.caller("KEMENDES")
    made = [
        (await create(api, who, eventTypes=["demimas.pillars.activity.recorded"]))["endpoint"]["id"] for _ in range(3)
    ]
    seen: list[str] = []
    after = None
    while True:
        page = (await api.ok(who, LIST, {"first": 2, "after": after}))["webhookEndpoints"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [i for i in seen if i in made] == made
    assert len(seen) == len(set(seen))


async def test_rotation_keeps_both_secrets_for_the_grace_period(
    api: Api, feeds_engine: AsyncEngine, rules: EndpointRules
) -> None:
    who = api.caller("KP2MI")
    created = await create(api, who)
    endpoint_id = created["endpoint"]["id"]
    before = dt.datetime.now(dt.UTC)
    rotated = (await api.ok(who, ROTATE, {"id": endpoint_id}))["rotateWebhookSecret"]
    after = dt.datetime.now(dt.UTC)
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    expires = dt.datetime.fromisoformat(rotated["oldSecretExpiresAt"])
    assert before + rules.rotation_grace <= expires <= after + rules.rotation_grace

    key = uuid.UUID(endpoint_id)
    async with feeds_engine.connect() as conn:
        repo = EndpointRepository(conn)
        now = [rules.box.decrypt(key, b) for b in await repo.active_secrets(key, dt.datetime.now(dt.UTC))]
        later = [rules.box.decrypt(key, b) for b in await repo.active_secrets(key, expires + dt.timedelta(seconds=1))]
    assert now == [rotated["secret"], created["secret"]]  # the new one first: both sign meanwhile
    assert later == [rotated["secret"]]

    again = (await api.ok(who, ROTATE, {"id": endpoint_id}))["rotateWebhookSecret"]
    async with feeds_engine.connect() as conn:
        repo = EndpointRepository(conn)
        live = [rules.box.decrypt(key, b) for b in await repo.active_secrets(key, dt.datetime.now(dt.UTC))]
    assert live == [again["secret"], rotated["secret"], created["secret"]]  # the first keeps its earlier end
    types = [t for t, _ in await outbox_of(feeds_engine, endpoint_id)]
    assert types == ["demimas.feeds.endpoint.created"] + ["demimas.feeds.endpoint.secret_rotated"] * 2


async def test_disable_enable_delete(api: Api, feeds_engine: AsyncEngine) -> None:
    who = api.caller("BNN")
    endpoint_id = (await create(api, who, eventTypes=["demimas.pillars.pilot.*"]))["endpoint"]["id"]
    disabled = (await api.ok(who, DISABLE, {"id": endpoint_id}))["disableWebhookEndpoint"]
    assert (disabled["status"], disabled["disabledReason"]) == ("DISABLED", "by_agency")
    assert (await api.ok(who, DISABLE, {"id": endpoint_id}))["disableWebhookEndpoint"]["status"] == "DISABLED"
    enabled = (await api.ok(who, ENABLE, {"id": endpoint_id}))["enableWebhookEndpoint"]
    assert (enabled["status"], enabled["disabledReason"]) == ("ACTIVE", None)
    assert (await api.ok(who, DELETE, {"id": endpoint_id}))["deleteWebhookEndpoint"] is True
    assert (await api.error(who, GET, {"id": endpoint_id}))["code"] == "NOT_FOUND"
    assert (await api.error(who, DELETE, {"id": endpoint_id}))["code"] == "NOT_FOUND"
    types = [t.rsplit(".", 1)[1] for t, _ in await outbox_of(feeds_engine, endpoint_id)]
    assert types == ["created", "disabled", "enabled", "deleted"]  # the repeated disable changed nothing


async def test_update_changes_what_was_given(api: Api, feeds_engine: AsyncEngine) -> None:
    who = api.caller("KP2MI")
    endpoint_id = (await create(api, who, regionPrefix="16"))["endpoint"]["id"]
    changes = {"url": "http://127.0.0.1:10/other", "eventTypes": ["*"], "regionPrefix": ""}
    await api.ok(who, UPDATE, {"id": endpoint_id, "in": changes})
    read = (await api.ok(who, GET, {"id": endpoint_id}))["webhookEndpoint"]
    assert (read["url"], read["eventTypes"], read["regionPrefix"]) == ("http://127.0.0.1:10/other", ["*"], None)
    assert read["description"] == "case management system"
    assert [t for t, _ in await outbox_of(feeds_engine, endpoint_id)][-1] == "demimas.feeds.endpoint.updated"


@pytest.mark.parametrize(
    ("agency", "region", "changes", "code", "field"),
    [
        ("KP2MI", None, {"eventTypes": []}, "BAD_USER_INPUT", "input.eventTypes"),
        ("KP2MI", None, {"eventTypes": ["demimas.registry.worker.teleported"]}, "BAD_USER_INPUT", "input.eventTypes"),
        ("KP2MI", None, {"eventTypes": ["demimas.registry.*.registered"]}, "BAD_USER_INPUT", "input.eventTypes"),
        ("KP2MI", None, {"eventTypes": ["registry"]}, "BAD_USER_INPUT", "input.eventTypes"),
        ("KP2MI", None, {"eventTypes": ["demimas.nothing.*"]}, "BAD_USER_INPUT", "input.eventTypes"),
        ("KP2MI", None, {"eventTypes": ["demimas.registry.personal_data.accessed"]}, "FORBIDDEN", "input.eventTypes"),
        ("KP2MI", None, {"eventTypes": ["demimas.audit.*"]}, "BAD_USER_INPUT", "input.eventTypes"),
        ("KEMENDES", None, {"eventTypes": ["demimas.registry.*"]}, "FORBIDDEN", "input.eventTypes"),
        ("KP2MI", None, {"regionPrefix": "16.6"}, "BAD_USER_INPUT", "input.regionPrefix"),
        ("BP3MI", "33", {"regionPrefix": "16"}, "FORBIDDEN", "input.regionPrefix"),
        ("KP2MI", None, {"description": "x" * 501}, "BAD_USER_INPUT", "input.description"),
        ("KP2MI", None, {"url": "not a url"}, "BAD_USER_INPUT", "input.url"),
        ("KP2MI", None, {"url": "ftp://127.0.0.1/x"}, "BAD_USER_INPUT", "input.url"),
        ("KP2MI", None, {"url": "http://user:pw@127.0.0.1/x"}, "BAD_USER_INPUT", "input.url"),
        ("KP2MI", None, {"url": "http://10.0.0.7/x"}, "BAD_USER_INPUT", "input.url"),  # private even in test
        ("KP2MI", None, {"url": "http://127.0.0.1/" + "a" * 2100}, "BAD_USER_INPUT", "input.url"),
    ],
)
async def test_bad_input_codes(
    api: Api, agency: str, region: str | None, changes: dict[str, Any], code: str, field: str
) -> None:
    refused = await api.error(api.caller(agency, region), CREATE, endpoint_input(**changes))
    assert (refused["code"], refused.get("field")) == (code, field)


async def test_bad_ids_and_missing_scope(api: Api) -> None:
    assert (await api.error(api.caller("KP2MI"), GET, {"id": "nope"}))["code"] == "BAD_USER_INPUT"
    assert (await api.error(api.caller("KP2MI"), DELIVERIES, {"id": NOBODY}))["code"] == "NOT_FOUND"
    polkam = api.caller("KEMENKO_POLKAM")  # no feeds:manage
    assert (await api.error(polkam, CREATE, endpoint_input()))["code"] == "FORBIDDEN"
    narrowed = api.caller("KP2MI", scopes=["registry:read", "feeds:read"])
    assert (await api.error(narrowed, LIST, {}))["code"] == "FORBIDDEN"
    bad_cursor = await api.error(api.caller("KP2MI"), LIST, {"after": "garbage"})
    assert (bad_cursor["code"], bad_cursor["field"]) == ("BAD_USER_INPUT", "after")


async def test_a_narrowed_token_cannot_rotate_a_wider_endpoints_secret(api: Api) -> None:
    """The new secret signs deliveries of the endpoint's grants: a `feeds:manage`-only token of the same agency must
    not obtain it (it could forge those deliveries to the agency's receiver)."""
    owner = api.caller("KP2MI")
    endpoint_id = (await create(api, owner))["endpoint"]["id"]
    narrowed = api.caller("KP2MI", scopes=["feeds:manage"])
    refused = await api.error(narrowed, ROTATE, {"id": endpoint_id})
    assert refused["code"] == "FORBIDDEN"
    assert refused["reason"] == "narrower_grants"
    assert "registry:read" in refused["required_scopes"]
    assert (await api.ok(owner, ROTATE, {"id": endpoint_id}))["rotateWebhookSecret"]["secret"].startswith("whsec_")
