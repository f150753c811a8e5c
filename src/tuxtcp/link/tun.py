"""A TUN device: raw IPv4 datagrams in and out of the kernel's stack through /dev/net/tun
(IFF_TUN | IFF_NO_PI: no packet-information header). Without offloads the kernel hands over
segments no larger than the MTU; with them (IFF_VNET_HDR, checksum and TSO offload, as
packetdrill sets its device up) it hands over whole TSO packets behind a virtio_net_hdr,
which read() strips and write() adds (empty: no GSO, checksums complete). Root (or
CAP_NET_ADMIN) only. The packetdrill kernel target uses it, and the real-wire work will."""

from __future__ import annotations

import errno
import fcntl
import os
import select
import struct
from typing import Final

TUNSETIFF: Final = 0x400454CA
TUNSETOFFLOAD: Final = 0x400454D0
IFF_TUN: Final = 0x0001
IFF_NO_PI: Final = 0x1000
IFF_VNET_HDR: Final = 0x4000
TUN_F_CSUM: Final = 0x01
TUN_F_TSO4: Final = 0x02
TUN_F_TSO6: Final = 0x04
TUN_F_TSO_ECN: Final = 0x08
VNET_HDR_LEN: Final = 10  # struct virtio_net_hdr
IFNAMSIZ: Final = 16


class TunError(OSError):
    """The device cannot be had here (no /dev/net/tun, no permission)."""


class Tun:
    """One TUN device, created by opening /dev/net/tun; it goes away when closed."""

    def __init__(self, name: str = "tun0", offload: bool = False) -> None:
        """`offload`: IFF_VNET_HDR with checksum and TSO offload, as packetdrill sets its
        device up: the kernel hands over whole TSO packets (up to 64 KB, one per skb), each
        behind a virtio_net_hdr that read() strips."""
        if len(name.encode()) >= IFNAMSIZ:
            raise ValueError(f"interface name too long: {name!r}")
        try:
            self.fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            raise TunError(e.errno, f"cannot open /dev/net/tun: {e.strerror}") from None
        self.vnet = offload
        flags = IFF_TUN | IFF_NO_PI | (IFF_VNET_HDR if offload else 0)
        try:
            ifr = struct.pack("16sH22x", name.encode(), flags)
            got = fcntl.ioctl(self.fd, TUNSETIFF, ifr)
            if offload:
                fcntl.ioctl(self.fd, TUNSETOFFLOAD,
                            TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)
        except OSError as e:
            os.close(self.fd)
            raise TunError(e.errno, f"TUNSETIFF {name}: {e.strerror}") from None
        self.name = got[:IFNAMSIZ].rstrip(b"\0").decode()

    def read(self, timeout: float) -> bytes | None:
        """The next datagram the kernel sent into the device, or None after `timeout` s."""
        skip = VNET_HDR_LEN if self.vnet else 0
        try:
            return os.read(self.fd, 65536 + skip)[skip:]
        except BlockingIOError:
            pass
        r, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        if not r:
            return None
        try:
            return os.read(self.fd, 65536 + skip)[skip:]
        except BlockingIOError:
            return None

    def write(self, datagram: bytes) -> None:
        """Hand one IPv4 datagram to the kernel as if it arrived on the device."""
        if self.vnet:
            datagram = bytes(VNET_HDR_LEN) + datagram  # no GSO, checksums complete
        try:
            os.write(self.fd, datagram)
        except OSError as e:
            if e.errno != errno.EIO:  # EIO: the device is down
                raise

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
