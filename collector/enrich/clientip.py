"""Client IP: the socket peer, or X-Forwarded-For only when the peer is a trusted proxy
(walking the chain right to left past trusted hops).  Anonymisation keeps IPv4 /24 and
IPv6 /48, like GA's IP masking."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def _trusted(ip: str, proxies: Sequence[Net]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in n for n in proxies)


def trusted_peer(peer: str, proxies: Sequence[Net]) -> bool:
    """Whether the socket peer is one of the trusted proxies (whose forwarded headers count)."""
    return bool(proxies) and _trusted(peer, proxies)


def client_ip(peer: str | None, xff: str | None, proxies: Sequence[Net]) -> str:
    peer = peer or ""
    if not xff or not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in xff.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop if valid_ip(hop) else peer
    return hops[0] if hops and valid_ip(hops[0]) else peer


def valid_ip(ip: str) -> bool:
    try:
        ipaddress.ip_address(ip)
        return True
    except ValueError:
        return False


@lru_cache(maxsize=100_000)
def anonymize(ip: str) -> str:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    if addr.version == 4:
        return str(ipaddress.ip_network(f"{addr}/24", strict=False).network_address)
    if addr.ipv4_mapped:
        return anonymize(str(addr.ipv4_mapped))
    return str(ipaddress.ip_network(f"{addr}/48", strict=False).network_address)
