"""Where a webhook may be sent (server-side request forgery): the rule checked when an endpoint is registered and
again, on the resolved address the connection is pinned to, at every delivery (adapters/sender.py).

- **Syntax**: an absolute `https://` URL in production (`http://` too in development and test), with a host, no
  user name or password, no fragment, at most 2,048 characters.
- **Addresses**: the host (a name or an IP literal) is resolved and *every* address it resolves to must be a public
  unicast address: refused are private (RFC 1918, IPv6 ULA fc00::/7 and site-local fec0::/10), loopback, link-local
  (169.254.0.0/16 with the cloud metadata address 169.254.169.254, fe80::/10), unspecified, multicast, reserved,
  shared/CGNAT (100.64.0.0/10), documentation and benchmark ranges, and IPv6 forms that embed an IPv4 address
  (IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo) unless the embedded address is itself public.
  A name that resolves to one refused address is refused whole: DNS answers may rotate, so every answer must pass.
- **Development and test** (`settings.environment`) also allow loopback receivers (127.0.0.0/8, ::1), so that tests
  and demos run on one machine; never any other private address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from demimas_common.errors import BadUserInput
from demimas_common.settings import Environment

__all__ = [
    "MAX_URL_LENGTH",
    "Resolver",
    "Target",
    "UrlPolicy",
    "address_problem",
    "parse_url",
    "resolve_target",
    "system_resolver",
]

MAX_URL_LENGTH = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""`(host, port) -> the IP addresses the host resolves to` (the system's resolver unless a test gives another)."""

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


@dataclass(frozen=True)
class UrlPolicy:
    https_only: bool
    allow_loopback: bool

    @classmethod
    def for_environment(cls, environment: Environment) -> UrlPolicy:
        production = environment is Environment.PRODUCTION
        return cls(https_only=production, allow_loopback=not production)


@dataclass(frozen=True)
class Target:
    """A checked URL: what the sender connects to (one of `addresses`, pinned) and what it asks for."""

    url: str
    scheme: str
    host: str
    """The name for TLS (SNI and certificate verification) and the Host header; an IP literal without brackets."""
    port: int
    path: str
    """Path and query, as sent in the request line (`/` when empty)."""
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _refuse(message: str, reason: str) -> BadUserInput:
    return BadUserInput(message, field="input.url", reason=reason)


def parse_url(url: str, policy: UrlPolicy) -> Target:
    """The URL's parts, or BAD_USER_INPUT (field `input.url`) naming what is wrong; no I/O."""
    if len(url) > MAX_URL_LENGTH:
        raise _refuse(f"the URL is longer than {MAX_URL_LENGTH} characters", "too_long")
    if url != url.strip() or any(ord(c) < 0x21 or c == "\x7f" for c in url):
        raise _refuse("the URL holds spaces or control characters", "malformed")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse("the URL is not a valid absolute URL", "malformed") from None
    scheme = parts.scheme.lower()
    allowed = ("https",) if policy.https_only else ("https", "http")
    if scheme not in allowed:
        raise _refuse(f"the URL must use {' or '.join(allowed)}", "scheme")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _refuse("the URL may not carry a user name or password", "credentials")
    if parts.fragment or url.endswith("#"):
        raise _refuse("the URL may not carry a fragment", "fragment")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise _refuse("the URL has no host", "malformed")
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        raise _refuse("the host must be ASCII (punycode for international names)", "malformed") from None
    if port == 0:
        raise _refuse("the URL's port must be between 1 and 65535", "malformed")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        path=path,
        addresses=(),
    )


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def address_problem(address: str, policy: UrlPolicy) -> str | None:
    """None when a delivery may connect to `address`, else a word for why not (loopback, private, ...)."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "malformed"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return "private"
        embedded = _embedded_v4(ip)
        if embedded is not None:
            return address_problem(str(embedded), policy)
    if ip.is_loopback:
        return None if policy.allow_loopback else "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link_local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "shared"
    if ip.is_private or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local):
        return "private"  # site-local fec0::/10: deprecated, not in is_private, still routed inside some networks
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not_global"
    return None


async def system_resolver(host: str, port: int) -> Sequence[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


async def resolve_target(
    url: str, policy: UrlPolicy, resolver: Resolver = system_resolver, *, resolve_seconds: float = 5.0
) -> Target:
    """The checked URL with the addresses its host resolves to now, every one of them allowed; BAD_USER_INPUT
    (field `input.url`, a `reason`) otherwise. The sender connects to one of `addresses`, never resolves again."""
    target = parse_url(url, policy)
    try:
        literal: IPAddress | None = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: Sequence[str] = [str(literal)]
    else:
        if target.host == "localhost" or target.host.endswith(".localhost"):
            addresses = ["127.0.0.1"]  # RFC 6761: always loopback, whatever a resolver says
        else:
            try:
                addresses = await asyncio.wait_for(resolver(target.host, target.port), resolve_seconds)
            except (OSError, TimeoutError, UnicodeError):
                raise _refuse(f"the host {target.host} does not resolve", "unresolvable") from None
    unique = tuple(dict.fromkeys(addresses))
    if not unique:
        raise _refuse(f"the host {target.host} does not resolve", "unresolvable")
    for address in unique:
        problem = address_problem(address, policy)
        if problem is not None:
            raise _refuse(f"the URL points at a {problem.replace('_', '-')} address, which is refused", problem)
    return Target(target.url, target.scheme, target.host, target.port, target.path, unique)
