"""A TUN device: raw IPv4 datagrams in and out of the kernel's stack through /dev/net/tun
(IFF_TUN | IFF_NO_PI: no packet-information header). Without offloads the kernel hands over
segments no larger than the MTU; with them (IFF_VNET_HDR, checksum and TSO offload, as
packetdrill sets its device up) it hands over whole TSO packets behind a virtio_net_hdr,
which read() strips and write() adds (empty: no GSO, checksums complete); read_frame() and
write_offload() use the header both ways (GRO'd reads, TSO writes, checksums partial). Root (or
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
# virtio_net_hdr, in the host's byte order (a TUN device is native-endian unless told
# otherwise): flags, gso_type, hdr_len, gso_size, csum_start, csum_offset
VNET_HDR: Final = struct.Struct("=BBHHHH")
VIRTIO_NET_HDR_F_NEEDS_CSUM: Final = 1  # CHECKSUM_PARTIAL: csum_start/offset say where
VIRTIO_NET_HDR_F_DATA_VALID: Final = 2  # CHECKSUM_UNNECESSARY
VIRTIO_NET_HDR_GSO_NONE: Final = 0
VIRTIO_NET_HDR_GSO_TCPV4: Final = 1
VIRTIO_NET_HDR_GSO_ECN: Final = 0x80
TCP_CSUM_OFFSET: Final = 16  # offsetof(struct tcphdr, check)
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

    def read_frame(self) -> tuple[bytes, bool, int] | None:
        """With offloads, without waiting: the next datagram, whether the kernel vouches for
        its TCP checksum (NEEDS_CSUM: left partial, as a TSO-capable device gets it;
        DATA_VALID), and its gso_size (a TSO super-segment; 0: one segment). None if the
        device has nothing."""
        try:
            raw = os.read(self.fd, 65536 + VNET_HDR_LEN)
        except BlockingIOError:
            return None
        if len(raw) < VNET_HDR_LEN:
            return raw[:0], False, 0  # an empty datagram: the checked parse counts it
        flags, gso_type, _hdr_len, gso_size, _start, _off = VNET_HDR.unpack_from(raw)
        trusted = bool(flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
        return raw[VNET_HDR_LEN:], trusted, gso_size if gso_type else 0

    def write_offload(self, datagram: bytes, l4_offset: int, hdr_len: int, gso_size: int,
                      ecn: bool) -> None:
        """With offloads: hand the kernel one IPv4 datagram whose TCP checksum is partial
        (the pseudo-header sum, at `l4_offset` + 16), a TSO super-segment of `gso_size`
        segments when gso_size is not 0 (`hdr_len`: IP and TCP headers; `ecn`: it has CWR,
        SKB_GSO_TCP_ECN)."""
        gso_type = VIRTIO_NET_HDR_GSO_NONE
        if gso_size:
            gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | (VIRTIO_NET_HDR_GSO_ECN if ecn else 0)
        hdr = VNET_HDR.pack(VIRTIO_NET_HDR_F_NEEDS_CSUM, gso_type, hdr_len, gso_size,
                            l4_offset, TCP_CSUM_OFFSET)
        try:
            os.write(self.fd, hdr + datagram)
        except OSError as e:
            if e.errno != errno.EIO:
                raise

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
