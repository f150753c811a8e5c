"""The host kernel's struct tcp_info and SO_MEMINFO, read from a real socket."""

from __future__ import annotations

import socket
import struct
from typing import Final

from ..tcp.info import KERNEL_FIELDS, TCP_INFO_FORMAT, TCP_INFO_LEN

SO_MEMINFO: Final = 55
SK_MEMINFO_VARS: Final = 9


def decode_tcp_info(raw: bytes) -> dict[str, int]:
    """struct tcp_info bytes -> {tcpi_field: value}, the two bitfield bytes split (wscales,
    delivery_rate_app_limited and fastopen_client_fail)."""
    v = list(struct.unpack(TCP_INFO_FORMAT, raw[:TCP_INFO_LEN].ljust(TCP_INFO_LEN, b"\0")))
    b6, b7 = v[6], v[7]
    v = v[:6] + [b6 & 0xF, b6 >> 4, b7 & 1, (b7 >> 1) & 3] + v[8:]
    return dict(zip(KERNEL_FIELDS, v, strict=True))


def tcp_info(s: socket.socket) -> dict[str, int]:
    return decode_tcp_info(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_LEN))


def meminfo(s: socket.socket) -> tuple[int, ...]:
    """SO_MEMINFO: rmem_alloc, rcvbuf, wmem_alloc, sndbuf, fwd_alloc, wmem_queued, optmem,
    backlog, drops."""
    raw = s.getsockopt(socket.SOL_SOCKET, SO_MEMINFO, 4 * SK_MEMINFO_VARS)
    return struct.unpack(f"{SK_MEMINFO_VARS}I", raw)
