"""Host addresses a port is published on, judged by value rather than by spelling.

Compose files and `docker inspect` write the same address many ways (`::`, `[::]`, `::0`,
`0:0:0:0:0:0:0:0`, `0.0.0.0`, `[::ffff:0.0.0.0]`). Both ask here, and `ipaddress` decides, so
`[::]` and `::0` both mean every interface (CHECKLIST.md, network.bind-localhost; Docker
splits `HOST:PUBLISHED:TARGET` on the last two colons, docker/go-connections nat.ParsePortSpec).
"""

from __future__ import annotations

import ipaddress

_ANY_WORDS = frozenset({"", "*"})


def _address(host_ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = host_ip.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]  # fe80::1%eth0: the zone does not change the address
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def all_interfaces(host_ip: str | None) -> bool:
    """True when a port published on `host_ip` listens on every interface: no address, `*`,
    or any spelling of the IPv4/IPv6 unspecified address. A hostname is not judged (False)."""
    if host_ip is None or host_ip.strip().strip("[]").strip() in _ANY_WORDS:
        return True
    addr = _address(host_ip)
    return addr is not None and addr.is_unspecified


def loopback(host_ip: str | None) -> bool:
    """True for 127.0.0.0/8, `::1` (any spelling) and `localhost`."""
    if not host_ip:
        return False
    if host_ip.strip().strip("[]").lower() == "localhost":
        return True
    addr = _address(host_ip)
    return addr is not None and addr.is_loopback
