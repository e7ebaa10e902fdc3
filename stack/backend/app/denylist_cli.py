"""`denylist-add ADDRESS...`: append addresses (or networks) to DENYLIST_FILE, safely.

Each argument is validated with Python's ipaddress (an address copied from the logs, e.g. `ip=203.0.113.7`
-> 203.0.113.7, is accepted with or without the `ip=` prefix) and written in canonical form; anything else
is refused with exit status 2 and nothing is written. Nothing is ever passed to a shell. An address already
listed is not added twice. The backend re-reads the file within ~1 s (no restart).
Run from the backend's working directory (/app in the image): `docker exec backend denylist-add "$ABUSIVE_IP"`.
"""
from __future__ import annotations

import ipaddress
import os
import sys

from .core.config import get_settings
from .core.netaddr import ip_network


def canonical(text: str) -> str:
    """The entry to write for one argument, or ValueError with the reason."""
    value = text.strip()
    if value.startswith("ip="):
        value = value[3:]
    if not value or len(value) > 64:
        raise ValueError(f"not an IP address or network: {text!r}")
    try:
        ip = ipaddress.ip_address(value)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return str(ip)
    except ValueError:
        pass
    try:
        return str(ip_network(value))  # an IPv4-mapped network as the IPv4 network clients are matched against
    except ValueError:
        raise ValueError(f"not an IP address or network: {text!r}") from None


def listed(path: str) -> set[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return {line.split("#", 1)[0].strip() for line in fh} - {""}
    except FileNotFoundError:
        return set()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or any(a in ("-h", "--help") for a in args):
        print(__doc__.strip(), file=sys.stderr if not args else sys.stdout)
        return 2 if not args else 0
    try:
        entries = [canonical(a) for a in args]
    except ValueError as exc:
        print(f"denylist-add: {exc}; nothing written", file=sys.stderr)
        return 2
    path = get_settings().denylist_file
    have = listed(path)
    new = [e for e in dict.fromkeys(entries) if e not in have]
    if new:
        with open(path, "a+b") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell():
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")
            fh.write("".join(f"{e}\n" for e in new).encode())
    for e in entries:
        print(f"denylist-add: {e} {'added to' if e in new else 'already in'} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
