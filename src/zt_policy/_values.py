"""Run-time value types that only policy literals create: addresses, networks, like-patterns.

They are our own small classes (not `ipaddress` objects) so that a literal can never be confused with
an arbitrary object a caller put in a context; both the generated code and the interpreter use them.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any


class IpAddr:
    __slots__ = ("text", "value", "version")

    def __init__(self, text: str) -> None:
        addr = _unmapped(ipaddress.ip_address(text))
        self.version = addr.version
        self.value = int(addr)
        self.text = str(addr)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IpAddr) and (self.version, self.value) == (other.version, other.value)

    def __hash__(self) -> int:
        return hash((self.version, self.value))

    def __repr__(self) -> str:
        return f'ip("{self.text}")'


class IpNet:
    __slots__ = ("hi", "lo", "text", "version")

    def __init__(self, text: str) -> None:
        net = ipaddress.ip_network(text, strict=True)
        self.version = net.version
        self.lo = int(net.network_address)
        self.hi = int(net.broadcast_address)
        self.text = str(net)

    def __contains__(self, addr: tuple[int, int]) -> bool:
        return addr[0] == self.version and self.lo <= addr[1] <= self.hi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IpNet) and self.text == other.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f'cidr("{self.text}")'


@lru_cache(maxsize=4096)
def parse_ip(text: str) -> tuple[int, int] | None:
    """(version, integer) of an address string, or None; cached since the same clients recur."""
    try:
        addr = _unmapped(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None
    return addr.version, int(addr)


def _unmapped(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Any:
    """`::ffff:203.0.113.5` is the IPv4 client 203.0.113.5 (as dual-stack sockets report it):
    it must meet IPv4 networks, or an IPv4 forbid could be walked around."""
    mapped = getattr(addr, "ipv4_mapped", None)
    return mapped if mapped is not None else addr


class LikePattern:
    """A `like` pattern: `*` matches any run of characters, `\\*` a literal star. No regex: linear."""

    __slots__ = ("exact", "parts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        parts: list[str] = [""]
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "\\" and i + 1 < len(text) and text[i + 1] in "*\\":
                parts[-1] += text[i + 1]
                i += 2
                continue
            if ch == "*":
                parts.append("")
            else:
                parts[-1] += ch
            i += 1
        self.parts = tuple(parts)
        self.exact = len(parts) == 1

    def match(self, s: str) -> bool:
        parts = self.parts
        if self.exact:
            return s == parts[0]
        first, last = parts[0], parts[-1]
        if len(s) < len(first) + len(last) or not s.startswith(first) or not s.endswith(last):
            return False
        pos, end = len(first), len(s) - len(last)
        for mid in parts[1:-1]:
            found = s.find(mid, pos, end)
            if found < 0:
                return False
            pos = found + len(mid)
        return True

    def __repr__(self) -> str:
        return f'like "{self.text}"'
