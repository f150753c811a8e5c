"""Address arguments, checked the way CPython's socket module checks them."""

from __future__ import annotations

import socket as _pysocket
from typing import Final

from ..wire.ipv4 import ip_to_int
from .driver import Driver


def parse_inet_address(address: object, what: str, driver: Driver) -> tuple[int, int]:
    """(u32 address, port) from an AF_INET address tuple, or CPython's TypeError/OverflowError/
    gaierror; a name that is not a literal is the driver's to resolve. (The driver, not its
    bound resolve method: that would be a new object each call.)"""
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
    return resolve_host(host, driver), port


def resolve_host(host: str, driver: Driver) -> int:
    if host == "":
        return 0
    if host == "<broadcast>":
        return 0xFFFFFFFF
    if host == "localhost":
        return ip_to_int("127.0.0.1")
    value = _dotted_quad(host)
    if value is not None:
        return value
    found = driver.resolve(host)
    if found is None:
        raise _pysocket.gaierror(_pysocket.EAI_NONAME, "Name or service not known")
    return found


# the literals parsed so far (a dict, not functools.lru_cache: the compiled code reads it
# directly, where a call through the cache's wrapper is a generic call; emptied when full)
_QUADS: dict[str, int | None] = {}
QUADS_KEPT: Final = 4096


def _dotted_quad(host: str) -> int | None:
    """The u32 of a strict a.b.c.d literal, else None (then the name is looked up)."""
    known = _QUADS.get(host, -1)
    if known != -1:
        return known
    parts = host.split(".")
    value = (ip_to_int(host) if len(parts) == 4 and all(p.isdigit() and int(p) < 256
                                                         for p in parts) else None)
    if len(_QUADS) >= QUADS_KEPT:
        _QUADS.clear()
    _QUADS[host] = value
    return value
