"""Address arguments, checked the way CPython's socket module checks them."""

from __future__ import annotations

import functools
import socket as _pysocket
from collections.abc import Callable

from ..wire.ipv4 import ip_to_int

Resolver = Callable[[str], int | None]


def parse_inet_address(address: object, what: str, resolve: Resolver) -> tuple[int, int]:
    """(u32 address, port) from an AF_INET address tuple, or CPython's TypeError/OverflowError/
    gaierror."""
    if not isinstance(address, tuple):
        raise TypeError(f"{what}(): AF_INET address must be tuple, not {type(address).__name__}")
    if len(address) != 2:
        raise TypeError("AF_INET address must be a pair (host, port)")
    host, port = address
    if not isinstance(host, (str, bytes, bytearray)):
        raise TypeError(f"str, bytes or bytearray expected, not {type(host).__name__}")
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"'{type(port).__name__}' object cannot be interpreted as an integer")
    if not 0 <= port <= 0xFFFF:
        raise OverflowError(f"{what}(): port must be 0-65535.")
    if isinstance(host, (bytes, bytearray)):
        host = host.decode("idna")
    return resolve_host(host, resolve), port


def resolve_host(host: str, resolve: Resolver) -> int:
    if host == "":
        return 0
    if host == "<broadcast>":
        return 0xFFFFFFFF
    if host == "localhost":
        return ip_to_int("127.0.0.1")
    value = _dotted_quad(host)
    if value is not None:
        return value
    found = resolve(host)
    if found is None:
        raise _pysocket.gaierror(_pysocket.EAI_NONAME, "Name or service not known")
    return found


@functools.lru_cache(maxsize=4096)
def _dotted_quad(host: str) -> int | None:
    """The u32 of a strict a.b.c.d literal, else None (then the name is looked up)."""
    parts = host.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        return None
    return ip_to_int(host)
