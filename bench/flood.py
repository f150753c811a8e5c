"""Peers that ignore the window: how much memory a listener's connections hold when each peer
floods past the advertised window in order and overlaps itself out of order (issue 10).
Uses only the public API and the namespace's packet entry point, so it runs on any build:

    python bench/flood.py [CONNECTIONS] [SEGMENTS]

Each connection is opened by a crafted handshake (SYN, then the third ACK), accepted and never
read; then its peer sends SEGMENTS out-of-order segments of 60,000 bytes inside the window,
each one byte further on, and SEGMENTS in-order segments of 32 KiB back to back, each segment
a buffer of its own. Prints one
JSON line: the traced memory per connection once the flood is over (tracemalloc, started
before the first SYN), the peak, and the kernel counters that tell what the receive side
did."""

from __future__ import annotations

import gc
import json
import sys
import time
import tracemalloc

import tuxtcp
from tuxtcp.wire.ipv4 import Packet, ip_to_int
from tuxtcp.wire.tcp import ACK, PSH, SYN, TcpSegment

M32 = 0xFFFFFFFF


def flood(conns: int = 1000, segments: int = 100) -> dict[str, object]:
    w = tuxtcp.World(seed=1)
    srv = w.host("srv", "198.18.0.1")
    srv.sysctl["net.core.somaxconn"] = 4096
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(4096)
    ns = srv.ns
    dst = ip_to_int("198.18.0.1")
    peer = ip_to_int("198.19.0.1")
    isn = 1000
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    accepted = []
    for i in range(conns):
        sport = 1024 + i
        ns.deliver(Packet(peer, dst, TcpSegment(sport, 80, isn, 0, SYN, 64240, mss=1460,
                                                wscale=7, sack_perm=True)), 1.0)
        synack = ns.outbox[-1].seg
        ns.outbox.clear()
        ack = (synack.seq + 1) & M32
        ns.deliver(Packet(peer, dst, TcpSegment(sport, 80, isn + 1, ack, ACK, 502)), 1.0)
        accepted.append((sport, ack))
    socks = [ls.accept()[0] for _ in range(conns)]
    chunk = b"z" * 32768
    ooo = b"o" * 60000
    for sport, ack in accepted:
        base = isn + 1
        for k in range(segments):  # out of order, overlapping, inside the window
            # each segment its own buffer, as segments from a wire are (a shared bytes object
            # would be kept for free and hide what the out-of-order queue holds)
            seg = TcpSegment(sport, 80, (base + 1 + k) & M32, ack, ACK | PSH, 502,
                             bytes(bytearray(ooo)))
            ns.deliver(Packet(peer, dst, seg), 1.0)
        for k in range(segments):  # then in order, ignoring the window
            seg = TcpSegment(sport, 80, (base + k * len(chunk)) & M32, ack, ACK | PSH, 502,
                             bytes(bytearray(chunk)))
            ns.deliver(Packet(peer, dst, seg), 1.0)
        ns.outbox.clear()
    wall = time.perf_counter() - t0
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    c = srv.counters
    names = ["TCPZeroWindowDrop", "TCPOFOQueue", "TCPOFODrop", "TCPOFOMerge", "PruneCalled",
             "RcvPruned", "OfoPruned"]
    out: dict[str, object] = {
        "connections": conns, "segments_per_peer": 2 * segments,
        "bytes_per_connection": round(current / conns), "peak_bytes": peak,
        "wall_s": round(wall, 2),
        "counters": {n: c.get(f"TcpExt.{n}", 0) for n in names},
        "tuxtcp": tuxtcp.__file__,
    }
    assert len(socks) == conns
    return out


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    print(json.dumps(flood(*args)))
