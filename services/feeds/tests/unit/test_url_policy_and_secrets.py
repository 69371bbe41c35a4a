"""The URL policy without I/O (syntax, each refused address class, development's loopback), the secrets' format
and encryption, and the change feed's filter subjects."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence

import pytest

from demimas_common.errors import BadUserInput
from demimas_common.settings import Environment
from demimas_feeds.adapters.stream_reader import subjects_for
from demimas_feeds.domain.secrets import SecretBox, new_secret, secret_key_bytes
from demimas_feeds.domain.url_policy import UrlPolicy, address_problem, parse_url, resolve_target

PROD = UrlPolicy.for_environment(Environment.PRODUCTION)
DEV = UrlPolicy.for_environment(Environment.DEVELOPMENT)


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("10.0.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link_local"),
        ("fe80::1%eth0", "link_local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("::", "unspecified"),
        ("100.100.100.200", "shared"),
        ("fc00::1", "private"),
        ("::ffff:192.168.0.1", "private"),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::7f00:1", "loopback"),
        ("2002:a00:1::1", "private"),
        ("239.1.1.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "private"),
        ("198.51.100.7", "private"),
        ("fec0::1", "private"),  # IPv6 site-local (deprecated, still routed inside some networks)
        ("fec0::a9fe:a9fe", "private"),
    ],
)
def test_address_classes(address: str, problem: str | None) -> None:
    assert address_problem(address, PROD) == problem


def test_development_allows_loopback_only() -> None:
    assert address_problem("127.0.0.1", DEV) is None
    assert address_problem("::1", DEV) is None
    assert address_problem("10.0.0.1", DEV) == "private"
    assert address_problem("169.254.169.254", DEV) == "link_local"


def test_parse() -> None:
    target = parse_url("https://Example.ORG.:8443/a/b?c=d", PROD)
    assert (target.host, target.port, target.path, target.host_header) == (
        "example.org",
        8443,
        "/a/b?c=d",
        "example.org:8443",
    )
    assert parse_url("http://[::1]/", DEV).host_header == "[::1]"
    for bad in ["https://", "https://a b/", " https://x.org/", "https://x.org/#f", "https://u@x.org/", "x.org/hook"]:
        with pytest.raises(BadUserInput):
            parse_url(bad, PROD)
    with pytest.raises(BadUserInput, match="https"):
        parse_url("http://x.org/", PROD)


async def test_every_answer_must_pass() -> None:
    async def rotating(host: str, port: int) -> Sequence[str]:
        return ["93.184.215.14", "10.0.0.1"]

    with pytest.raises(BadUserInput) as refused:
        await resolve_target("https://rebind.example/", PROD, rotating)
    assert refused.value.details["reason"] == "private"

    async def public(host: str, port: int) -> Sequence[str]:
        return ["93.184.215.14", "93.184.215.14"]

    target = await resolve_target("https://ok.example/", PROD, public)
    assert target.addresses == ("93.184.215.14",)


def test_secret_format_and_box() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(secret_key_bytes(secret)) == 24
    assert new_secret() != secret
    box = SecretBox(b"k" * 32)
    endpoint = uuid.uuid4()
    blob = box.encrypt(endpoint, secret)
    assert secret.encode() not in blob
    assert base64.b64decode(secret[6:]) not in blob
    assert box.decrypt(endpoint, blob) == secret
    with pytest.raises(ValueError, match="decrypt"):
        SecretBox(b"j" * 32).decrypt(endpoint, blob)
    with pytest.raises(ValueError, match="decrypt"):
        box.decrypt(endpoint, blob[:-1] + bytes([blob[-1] ^ 1]))


def test_subjects_for() -> None:
    assert subjects_for(None) == ["demimas.>"]
    assert subjects_for(["*", "demimas.registry.worker.registered"]) == ["demimas.>"]
    assert subjects_for(["demimas.registry.*", "demimas.registry.worker.*", "demimas.cases.case.opened"]) == [
        "demimas.cases.case.opened",
        "demimas.registry.>",
    ]
    assert subjects_for(["demimas.registry.worker.*", "demimas.registry.worker.registered"]) == [
        "demimas.registry.worker.>"
    ]
