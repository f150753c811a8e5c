"""Time to recover from a tail loss, RTO-only against tail loss probes, in virtual time.

A server writes a response of N segments to a client over a 10 ms RTT link (1 Gbit/s, no
random loss) and the first transmissions of the response's last k segments are lost. Without
a probe (net.ipv4.tcp_early_retrans=0) nothing is left to send and no later segment is
delivered, so RACK has nothing to go on and only the retransmission timer (at least 200 ms
after the last send) repairs it; with TLP (tcp_early_retrans=3, Linux's default) the last
segment goes again two smoothed RTTs (+ 2 jiffies) after the last ACK, its SACK lets RACK mark
the others lost, and they are resent at once. With one segment lost, one packet is out when
the probe is armed, and Linux then adds the minimum RTO to the probe timeout (the peer may be
delaying its ACK: tcp_schedule_loss_probe), so the probe comes no sooner than the RTO would.
Reported: the virtual time from the write to the client reading the last byte, lossless and
for each, with both congestion controls; the wall time of the lossless run alongside.

    python bench/tail_loss.py          # prints a Markdown table
"""

from __future__ import annotations

import contextlib
import socket
import time

import tuxtcp
from tuxtcp.wire.ipv4 import Packet, ip_to_int

SERVER, CLIENT = "198.18.0.1", "198.18.0.2"
MSS = 1448  # with timestamps


def response_time(segments: int, early_retrans: int, cc: str, tail: int = 1,
                  ) -> tuple[float, float, dict[str, int]]:
    """(virtual s from the write to the last byte read, wall s, the server's counters)."""
    w = tuxtcp.World(seed=1)
    srv = w.host("srv", SERVER)
    cli = w.host("cli", CLIENT)
    w.link(srv, cli, delay=0.005, rate=1e9)
    for host in (srv, cli):
        host.sysctl["net.ipv4.tcp_congestion_control"] = cc
        host.sysctl["net.ipv4.tcp_early_retrans"] = early_retrans
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(5)
    c = cli.socket()
    c.connect((SERVER, 80))
    conn, _ = ls.accept()
    size = segments * MSS
    w.run(0.1)  # the handshake's ACK has landed; the connection is idle
    src = ip_to_int(SERVER)
    first_isn: list[int] = []
    lost: set[int] = set()

    def lose(pkt: Packet) -> bool:
        seg = pkt.seg
        if pkt.src != src or not seg.payload:
            return False
        if not first_isn:
            first_isn.append(seg.seq)
        end = (seg.seq + len(seg.payload) - first_isn[0]) & 0xFFFFFFFF
        if end > size - tail * MSS and end not in lost:
            lost.add(end)  # the first transmission of a tail segment
            return True
        return False

    w.drop_if(lose)
    t0, wall0 = w.clock, time.perf_counter()
    conn.sendall(bytes(size))
    got = 0
    for _ in range(100_000):
        with contextlib.suppress(BlockingIOError):
            got += len(c.recv(1 << 20, socket.MSG_DONTWAIT))
        if got >= size:
            break
        w.run(0.0005)
    assert got == size, got
    assert len(lost) == tail, lost
    counters = srv.counters.snapshot()
    return w.clock - t0, time.perf_counter() - wall0, counters


def main() -> None:
    print("| response, tail lost | congestion control | lossless: ms (wall s) | RTO only: ms "
          "(TCPTimeouts) | TLP: ms (TCPLossProbes, TCPTimeouts) | RTO only / TLP |")
    print("|---|---|---|---|---|---|")
    for segments, tail in ((10, 1), (10, 3), (40, 3), (40, 8)):
        for cc in ("reno", "cubic"):
            clean, wall, _ = response_time(segments, 3, cc, tail=0)
            rto, _, a = response_time(segments, 0, cc, tail)
            tlp, _, b = response_time(segments, 3, cc, tail)
            print(f"| {segments} segments, last {tail} | {cc} | {clean * 1000:.1f} "
                  f"({wall:.3f}) | {rto * 1000:.1f} ({a['TcpExt.TCPTimeouts']}) "
                  f"| {tlp * 1000:.1f} ({b['TcpExt.TCPLossProbes']}, "
                  f"{b['TcpExt.TCPTimeouts']}) | {rto / tlp:.1f}x |")


if __name__ == "__main__":
    main()
