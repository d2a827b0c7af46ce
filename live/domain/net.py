"""Addresses as vote limits and fraud signals see them, and when a device id was issued. Pure."""

from __future__ import annotations

import functools
import ipaddress


def born_of(device: str) -> int:
    """When a device id was issued (ms since the epoch), or 0 if the id does not say."""
    head, dot, _ = device.partition(".")
    if not dot or not 8 <= len(head) <= 12:
        return 0
    try:
        return int(head, 16)
    except ValueError:
        return 0


@functools.lru_cache(maxsize=65_536)
def subnet_of(ip: str) -> str:
    """The network a vote is rate-limited with: the /24 for IPv4, the /64 for IPv6.

    Cached: parsing an address costs ~5 µs and every vote (and the fraud consumer) asks."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip  # not an address (a test client or a unix socket): its own bucket
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped  # ::ffff:1.2.3.4 (a dual-stack socket) is 1.2.3.4: its /24
    bits = 24 if addr.version == 4 else 64
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False))
