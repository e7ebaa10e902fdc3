"""Networks as the backend compares them (standard library only: denylist-add runs on the image's bare python3)."""
from __future__ import annotations

import ipaddress

_MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def ip_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """ipaddress.ip_network(text, strict=False) with an IPv4-mapped network (::ffff:127.1.2.0/121) folded to
    its IPv4 network (127.1.2.0/25), as parse_ip folds client addresses: kept mapped it could never match a
    client. ValueError if `text` is no network."""
    net = ipaddress.ip_network(text.strip(), strict=False)
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96 and net.subnet_of(_MAPPED):
        return ipaddress.IPv4Network((net.network_address.ipv4_mapped, net.prefixlen - 96))
    return net
