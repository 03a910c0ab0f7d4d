"""Which redirects a feed may follow: web addresses of the same reach as the feed's own.

An outlet's feed (or whoever took over its domain) can answer with a redirect to anything. The
bot must not be turned into a probe of the network it runs in: a public feed redirecting to
`http://127.0.0.1:8080/metrics`, to a cloud metadata service (`169.254.169.254`), to a private
address or to a host name that resolves to one is refused, and so is any address that is not
http(s) (`file:`, `ftp:`, `gopher:`…). A feed configured on a local address (a test server on
127.0.0.1, an aggregator on the private network) keeps working: it may redirect to addresses of
the same kind as its own. Host names are resolved before deciding, so `internal.example` that
resolves to 10.0.0.5 counts as private.

`redirect_refusal` is the whole policy and is pure; `address_kinds` does the resolving. The
check is made before each hop; the connection then resolves the name again, so a name whose
answer changes between the two (DNS rebinding) is not covered here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Literal
from urllib.parse import urlsplit

Kind = Literal["public", "private", "loopback", "link-local", "reserved"]
# A resolver: host name -> its IP addresses as text (empty when the name does not resolve).
Resolver = Callable[[str], Awaitable[list[str]]]
WEB_SCHEMES = frozenset({"http", "https"})


def address_kind(address: str) -> Kind:
    """The reach of one IP address: public, private, loopback, link-local or reserved."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "reserved"  # 0.0.0.0 reaches this very machine on Linux
    if ip.is_global:
        return "public"
    return "private"  # RFC 1918, unique-local, shared (CGNAT) and documentation ranges


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]").split("%", 1)[0]))
    except ValueError:
        return None


async def system_resolve(host: str) -> list[str]:
    """The addresses the system resolver gives for `host` (empty when it gives none)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


async def address_kinds(url: str, resolve: Resolver = system_resolve) -> frozenset[Kind]:
    """The kinds of every address the host of `url` stands for; empty when it has none."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return frozenset()
    if not host:
        return frozenset()
    literal = _ip_literal(host)
    addresses = [literal] if literal else await resolve(host)
    kinds: set[Kind] = set()
    for address in addresses:
        try:
            kinds.add(address_kind(address))
        except ValueError:
            continue
    return frozenset(kinds)


def redirect_refusal(
    target: str, target_kinds: Iterable[Kind], origin_kinds: Iterable[Kind]
) -> str | None:
    """Why a redirect to `target` must not be followed, or None when it may be.

    `target_kinds` are the kinds of the target's addresses, `origin_kinds` those of the feed's
    configured address. Only http(s) targets are followed; a target with any non-public
    address is followed only when the configured address has that kind too (a loopback feed may
    move within loopback, not to the private network or a link-local metadata service). A
    target that does not resolve is left to fail as the request would.
    """
    try:
        parts = urlsplit(target)
        scheme, host = parts.scheme.lower(), parts.hostname
    except ValueError:
        return f"redirect to an invalid address refused: {target[:200]}"
    if scheme not in WEB_SCHEMES:
        shown = f"{scheme}:" if scheme else target[:200]
        return f"redirect to a non-http address refused ({shown})"
    if not host:
        return f"redirect without a host refused: {target[:200]}"
    allowed = set(origin_kinds) | {"public"}
    for kind in ("loopback", "link-local", "reserved", "private"):
        if kind in set(target_kinds) and kind not in allowed:
            return f"redirect to a {kind} address refused: {target[:200]}"
    return None
