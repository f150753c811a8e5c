"""A TUN device: raw IPv4 datagrams in and out of the kernel's stack through /dev/net/tun
(IFF_TUN | IFF_NO_PI: no packet-information header, no offloads, so the kernel hands over
segments no larger than the MTU and takes datagrams with their checksums filled in). Root (or
CAP_NET_ADMIN) only. The packetdrill kernel target uses it, and the real-wire work will."""

from __future__ import annotations

import errno
import fcntl
import os
import select
import struct
from typing import Final

TUNSETIFF: Final = 0x400454CA
IFF_TUN: Final = 0x0001
IFF_NO_PI: Final = 0x1000
IFNAMSIZ: Final = 16


class TunError(OSError):
    """The device cannot be had here (no /dev/net/tun, no permission)."""


class Tun:
    """One TUN device, created by opening /dev/net/tun; it goes away when closed."""

    def __init__(self, name: str = "tun0") -> None:
        if len(name.encode()) >= IFNAMSIZ:
            raise ValueError(f"interface name too long: {name!r}")
        try:
            self.fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            raise TunError(e.errno, f"cannot open /dev/net/tun: {e.strerror}") from None
        try:
            ifr = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI)
            got = fcntl.ioctl(self.fd, TUNSETIFF, ifr)
        except OSError as e:
            os.close(self.fd)
            raise TunError(e.errno, f"TUNSETIFF {name}: {e.strerror}") from None
        self.name = got[:IFNAMSIZ].rstrip(b"\0").decode()

    def read(self, timeout: float) -> bytes | None:
        """The next datagram the kernel sent into the device, or None after `timeout` s."""
        try:
            return os.read(self.fd, 65536)
        except BlockingIOError:
            pass
        r, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        if not r:
            return None
        try:
            return os.read(self.fd, 65536)
        except BlockingIOError:
            return None

    def write(self, datagram: bytes) -> None:
        """Hand one IPv4 datagram to the kernel as if it arrived on the device."""
        try:
            os.write(self.fd, datagram)
        except OSError as e:
            if e.errno != errno.EIO:  # EIO: the device is down
                raise

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
