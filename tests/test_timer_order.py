"""Timers that fire on the same tick fire in the kernel's order: the last armed first.

enqueue_timer puts a timer at the head of its timer-wheel slot and expire_timers empties the
slot from its head, so eight SYNs sent 1 ms apart (their 1 s retransmission timers share one
level-1 slot of 8 jiffies) are retransmitted newest first, and the second retransmissions,
armed in that reversed order, come out oldest first (6.18's first SYN retransmissions are a
second apart: tcp_syn_linear_timeouts). Which SYN of a retransmitted batch meets
a full accept queue decides which client waits another second (tuxtcp simulate's replay of a
kernel run showed the two orders apart).
"""

from __future__ import annotations

import json
import sys

import pytest

import tuxtcp
from tuxtcp.host.netns import silent_peer_pair
from tuxtcp.wire.tcp import SYN

PORTS = [40000 + i for i in range(8)]

KERNEL_SIDE = r"""
import json, os, socket, struct, time
os.sched_setaffinity(0, {0})  # one CPU: one timer base
cap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003))  # ETH_P_ALL:
# only taps for every protocol see outgoing packets
cap.bind(("v0", 0))
cap.settimeout(0.1)
socks = []
t0 = time.monotonic()
for port in range(40000, 40008):
    s = socket.socket()
    s.setblocking(False)
    s.bind(("198.18.1.1", port))
    s.connect_ex(("198.18.1.2", 80))
    socks.append(s)
    time.sleep(0.001)
seen = []
for _ in range(1000):
    if time.monotonic() - t0 > 3.6:
        break
    try:
        p = cap.recv(2048)
    except socket.timeout:
        continue
    if len(p) >= 34 and p[0] >> 4 == 4 and p[9] == 6 and p[33] & 0x02:
        seen.append((time.monotonic() - t0, struct.unpack("!H", p[20:22])[0]))
print(json.dumps(seen))
"""


Syn = tuple[float, int]  # (when it left, source port)


def rounds(syns: list[Syn]) -> list[list[Syn]]:
    """The original sends, then each retransmission round (rounds are a second apart)."""
    out: list[list[Syn]] = []
    for t, port in sorted(syns, key=lambda x: x[0]):  # stable: one tick keeps its order
        if not out or t - out[-1][-1][0] > 0.5:
            out.append([])
        out[-1].append((t, port))
    return out


def ticks(round_: list[Syn]) -> list[list[int]]:
    """A retransmission round's ports by tick: one tick, or two 8 jiffies (32 ms) apart when
    the sends straddled a slot boundary of the wheel."""
    out: list[list[int]] = []
    last = None
    for t, port in round_:
        if last is None or t - last > 0.005:
            out.append([])
        out[-1].append(port)
        last = t
    return out


def last_armed_first(syns: list[Syn]) -> list[list[int]]:
    """Each round's ports in the order they left, after checking that every tick sent its
    SYNs in the reverse of the order their timers were armed (the order they left before)."""
    rs = rounds(syns)
    for before, now in zip(rs, rs[1:], strict=False):
        armed = [p for _, p in before]
        for tick in ticks(now):
            assert tick == sorted(tick, key=armed.index, reverse=True), (armed, tick)
    return [[p for _, p in r] for r in rs]


def tuxtcp_syns() -> tuple[list[Syn], list[float]]:
    w = tuxtcp.World(seed=1)
    cli = w.host("cli", "198.18.1.1")  # 198.18.1.2 belongs to nobody: it never answers
    w.trace = []
    socks = []
    for port in PORTS:
        s = cli.socket()
        s.setblocking(False)
        s.bind(("198.18.1.1", port))
        s.connect_ex(("198.18.1.2", 80))
        socks.append(s)
        w.run(0.001)
    w.run(3.6)
    syns = [(t, pkt.seg.sport) for t, _src, pkt in w.trace if pkt.seg.flags & SYN]
    for s in socks:
        s.close()
    return syns, sorted({t for t, _ in syns})


def test_a_retransmitted_batch_leaves_newest_first_then_oldest_first() -> None:
    syns, instants = tuxtcp_syns()
    assert last_armed_first(syns) == [PORTS, PORTS[::-1], PORTS, PORTS[::-1]]
    # the sends 1 ms apart, then each retransmission round on one tick of the wheel, the
    # first within a level-1 slot (8 jiffies) after the second
    retransmitted = instants[len(PORTS):]
    assert len(retransmitted) == 3
    assert 1.0 <= retransmitted[0] - syns[0][0] <= 1.0 + 0.036


@pytest.mark.root
def test_the_kernel_retransmits_in_the_same_order(netns_ok: None) -> None:
    with silent_peer_pair() as ns:
        out = ns.run(sys.executable, "-c", KERNEL_SIDE)
    # the order within each tick; the ticks themselves depend on the jiffies phase at the
    # first connect, which the kernel run does not choose
    kernel = last_armed_first([(t, p) for t, p in json.loads(out)])
    assert len(kernel) == 4 and all(sorted(r) == PORTS for r in kernel)

