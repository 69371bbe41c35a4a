"""Server-side request forgery: in production mode an endpoint's URL must be https and every address its host
resolves to must be public. Served in production mode over GraphQL, with a resolver that answers as a hostile DNS
zone would (names of the zone resolve to private addresses, or to a mix)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from demimas_common.auth.keys import DevKeys
from demimas_common.devstack.testing import TestStack
from demimas_common.settings import Environment
from demimas_feeds.app import create_app
from demimas_feeds.domain.url_policy import system_resolver
from demimas_feeds.service_layer.endpoints import EndpointRules

from .conftest import Api, feeds_settings, serve

pytestmark = pytest.mark.integration

ZONE = {
    "internal.hostile.test": ["10.20.30.40"],
    "metadata.hostile.test": ["169.254.169.254"],
    "mixed.hostile.test": ["93.184.215.14", "192.168.1.1"],  # one public answer does not excuse a private one
    "v6.hostile.test": ["fd12:3456::1"],
    "mapped.hostile.test": ["::ffff:127.0.0.1"],
    "public.hostile.test": ["93.184.215.14"],
}


async def hostile_resolver(host: str, port: int) -> Sequence[str]:
    if host in ZONE:
        return ZONE[host]
    return await system_resolver(host, port)  # e.g. this machine's own name, from /etc/hosts


CREATE = """mutation C($url: String!) { createWebhookEndpoint(input: {url: $url, eventTypes: ["*"]}) {
  endpoint { id url } secret } }"""


@pytest.fixture(scope="module")
async def prod(stack: TestStack, feeds_engine: AsyncEngine, feeds_keys: DevKeys) -> AsyncIterator[Api]:
    settings = feeds_settings(stack, feeds_keys, Environment.PRODUCTION)
    rules = EndpointRules.from_settings(settings)
    assert rules.policy.https_only
    assert not rules.policy.allow_loopback
    rules = EndpointRules(rules.box, rules.policy, rules.rotation_grace, resolver=hostile_resolver)
    async for served in serve(create_app(settings, rules=rules), feeds_keys):
        yield served


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://93.184.215.14/hook", "scheme"),
        ("https://10.1.2.3/hook", "private"),
        ("https://172.16.0.1/hook", "private"),
        ("https://192.168.0.10:8443/hook", "private"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://localhost/hook", "loopback"),
        ("https://[::1]/hook", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "link_local"),
        ("https://[fe80::1]/hook", "link_local"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://100.64.0.1/hook", "shared"),
        ("https://[fd00::1]/hook", "private"),
        ("https://[::ffff:10.0.0.1]/hook", "private"),
        ("https://[64:ff9b::a00:1]/hook", "private"),
        ("https://224.0.0.251/hook", "multicast"),
        ("https://internal.hostile.test/hook", "private"),
        ("https://metadata.hostile.test/hook", "link_local"),
        ("https://mixed.hostile.test/hook", "private"),
        ("https://v6.hostile.test/hook", "private"),
        ("https://mapped.hostile.test/hook", "loopback"),
        ("https://nothing.invalid/hook", "unresolvable"),
    ],
)
async def test_refused_in_production(prod: Api, url: str, reason: str) -> None:
    refused = await prod.error(prod.caller("KP2MI"), CREATE, {"url": url})
    assert (refused["code"], refused["field"], refused["reason"]) == ("BAD_USER_INPUT", "input.url", reason)


async def test_this_machines_own_name_is_refused(prod: Api) -> None:
    name = socket.gethostname()
    try:
        addresses = await system_resolver(name, 443)
    except OSError:
        pytest.skip("this machine's name does not resolve here")
    if all(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        pytest.skip("this machine's name resolves to public addresses only")
    refused = await prod.error(prod.caller("KP2MI"), CREATE, {"url": f"https://{name}/hook"})
    assert refused["code"] == "BAD_USER_INPUT", addresses
    assert refused["reason"] in {"loopback", "private", "link_local", "shared", "not_global"}


async def test_public_https_is_accepted(prod: Api) -> None:
    created = await prod.ok(prod.caller("KP2MI"), CREATE, {"url": "https://public.hostile.test/hook?k=1"})
    assert created["createWebhookEndpoint"]["endpoint"]["url"] == "https://public.hostile.test/hook?k=1"
