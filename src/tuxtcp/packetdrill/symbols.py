"""The names a script may use for numbers (SOCK_STREAM, SOL_SOCKET, O_NONBLOCK, EPIPE, ...),
resolved as Linux defines them: from Python's socket, errno, os, fcntl, select and termios
modules, plus the Linux constants those leave out."""

from __future__ import annotations

import errno
import fcntl
import os
import select
import socket
import termios
from typing import Final

# Linux values Python's modules do not export (include/uapi/linux/*.h)
_LINUX: Final[dict[str, int]] = {
    "SOL_TCP": 6,
    "SOL_IP": 0,
    "SIOCINQ": termios.FIONREAD,
    "SIOCOUTQ": termios.TIOCOUTQ,
    "SIOCOUTQNSD": 0x894B,
    "TCP_REPAIR": 19,
    "TCP_FASTOPEN_CONNECT": 30,
    "TCP_FASTOPEN_NO_COOKIE": 34,
    "TCP_FASTOPEN_KEY": 33,
    "TCP_ZEROCOPY_RECEIVE": 35,
    "TCP_INQ": 36,
    "TCP_TX_DELAY": 37,
    "SO_MEMINFO": 55,
    "SO_ZEROCOPY": 60,
    "MSG_FASTOPEN": 0x20000000,
    "MSG_ZEROCOPY": 0x4000000,
}

_PREFIXES: Final = ("SOCK_", "SOL_", "SO_", "IPPROTO_", "TCP_", "MSG_", "SHUT_", "AF_", "PF_",
                    "IP_", "SOMAXCONN", "INADDR_")


def _table() -> dict[str, int]:
    t: dict[str, int] = {}
    for name in dir(socket):
        if name.startswith(_PREFIXES):
            v = getattr(socket, name)
            if isinstance(v, int):
                t[name] = int(v)
    for name in dir(os):
        if name.startswith("O_"):
            t[name] = getattr(os, name)
    for name in dir(fcntl):
        if name.startswith(("F_", "FD_")):
            v = getattr(fcntl, name)
            if isinstance(v, int):
                t[name] = v
    for name in dir(select):
        if name.startswith(("POLL", "EPOLL")):
            v = getattr(select, name)
            if isinstance(v, int):
                t[name] = v
    t.update((name, code) for code, name in errno.errorcode.items())
    t.update(_LINUX)
    return t


SYMBOLS: Final = _table()


def symbol(name: str) -> int | None:
    """The value of `name`, or None when it is not a number a script can use."""
    return SYMBOLS.get(name)


def errno_value(name: str) -> int | None:
    v = getattr(errno, name, None)
    return v if isinstance(v, int) else None
