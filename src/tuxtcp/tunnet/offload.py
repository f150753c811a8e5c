"""Checksum offload on the wire: what a device that completes TCP checksums puts there."""

from __future__ import annotations

from ..wire.checksum import internet_checksum


def complete_checksum(datagram: bytes) -> bytes:
    """An IPv4/TCP datagram whose TCP checksum was left partial for the device (checksum
    offload), with the checksum the device would have put there: what a capture on the wire
    would show."""
    ihl = (datagram[0] & 0x0F) * 4
    total = int.from_bytes(datagram[2:4], "big")
    tcp = datagram[ihl:total]
    if len(tcp) < 20:
        return datagram
    src = int.from_bytes(datagram[12:16], "big")
    dst = int.from_bytes(datagram[16:20], "big")
    body = tcp[:16] + b"\0\0" + tcp[18:]
    csum = internet_checksum(body, src + dst + 6 + len(tcp))
    return datagram[:ihl + 16] + csum.to_bytes(2, "big") + datagram[ihl + 18:]
