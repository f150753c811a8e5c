"""SYN flood against the host kernel: a raw-socket Python sender in a fresh netns.

Run as root: `python bench/kernel_flood.py [seconds]`; prints SYN/s sent and SYN-ACKs/s sent by
the kernel (SyncookiesSent + OutSegs deltas). Inner mode (--inner) is the sender itself.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time

from tuxtcp.wire.ipv4 import Packet, ip_to_int
from tuxtcp.wire.tcp import SYN, TcpSegment

SERVER, PEER, PORT = "198.18.1.1", "198.18.1.2", 7000


def inner(seconds: float) -> None:
    ls = socket.socket()
    ls.bind((SERVER, PORT))
    ls.listen(128)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    src, dst = ip_to_int(PEER), ip_to_int(SERVER)
    frames = [Packet(src, dst, TcpSegment(1024 + i, PORT, i * 2654435761 & 0xFFFFFFFF, 0, SYN,
                                          64240, mss=1460, wscale=7, sack_perm=True,
                                          tsval=i, tsecr=0)).to_bytes()
              for i in range(4096)]
    send = raw.sendto
    addr = (SERVER, 0)
    sent = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        for f in frames:
            send(f, addr)
        sent += len(frames)
        if time.perf_counter() >= end:
            break
    elapsed = time.perf_counter() - t0
    print(json.dumps({"sent": sent, "elapsed": elapsed}))


def run(seconds: float = 3.0) -> dict[str, float]:
    from tuxtcp.host.netns import silent_peer_pair

    with silent_peer_pair(SERVER, PEER) as ns:
        before = ns.netstat()
        out = ns.run(sys.executable, os.path.abspath(__file__), "--inner", str(seconds))
        after = ns.netstat()
    res = json.loads(out.strip().splitlines()[-1])
    d = {k: after[k] - before.get(k, 0) for k in after}
    return {
        "syn_per_s": res["sent"] / res["elapsed"],
        "synack_per_s": d["TcpExt.SyncookiesSent"] / res["elapsed"],
        "insegs": d["Tcp.InSegs"],
        "cookies": d["TcpExt.SyncookiesSent"],
    }


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--inner":
        inner(float(sys.argv[2]))
    else:
        print(run(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0))
