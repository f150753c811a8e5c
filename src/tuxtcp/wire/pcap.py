"""pcap output through dpkt: raw IPv4 frames (LINKTYPE_RAW), timestamps from the virtual clock."""

from __future__ import annotations

from typing import BinaryIO, Final

import dpkt

from .ipv4 import Packet

LINKTYPE_RAW: Final = 101


class PcapTap:
    """Writes every packet it is shown to a pcap file that Wireshark and tcpdump open."""

    def __init__(self, path_or_file: str | BinaryIO) -> None:
        if isinstance(path_or_file, str):
            self._file: BinaryIO = open(path_or_file, "wb")  # noqa: SIM115 - closed in close()
            self._owned = True
        else:
            self._file = path_or_file
            self._owned = False
        self._writer = dpkt.pcap.Writer(self._file, linktype=LINKTYPE_RAW, nano=True)
        self.count = 0

    def write(self, now: float, packet: Packet | bytes) -> None:
        data = packet if isinstance(packet, bytes) else packet.to_bytes()
        self._writer.writepkt(data, ts=now)
        self.count += 1

    def close(self) -> None:
        self._file.flush()
        if self._owned:
            self._file.close()


def retime(path: str, origin: float) -> None:
    """Rewrite a pcap file's timestamps as seconds after `origin` (a kernel run's link records
    CLOCK_MONOTONIC instants; the run's own clock starts at `origin`). A packet from before
    `origin` keeps its place at 0 (pcap has no negative times)."""
    with open(path, "rb") as f:
        records = list(dpkt.pcap.Reader(f))
    with open(path, "wb") as f:
        writer = dpkt.pcap.Writer(f, linktype=LINKTYPE_RAW, nano=True)
        for ts, data in records:
            writer.writepkt(data, ts=max(0.0, float(ts) - origin))
