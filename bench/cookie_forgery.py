"""SYN-cookie forgery (issue 10): random ACKs against a listener in cookie mode. How many does
the cookie check take for a connection?

    python bench/cookie_forgery.py [GUESSES] [SEED]

The listener (tcp_syncookies = 2) answers one SYN with a cookie first, so the check is on
(tcp_synq_no_recent_overflow). Then GUESSES bare ACKs arrive from random addresses in
198.19.0.0/16 and random ports, with random sequence and acknowledgment numbers, all within one
cookie minute. cookie_v4_check takes an ACK when ack - 1, less the first hash and the sequence
number, has a top byte within 2 of the current minute counter (2 of 256) and, less the second
hash, an MSS index below 4 (4 of 2**24): 8 / 2**32 per guess, one in 537 million. Prints one
JSON line: guesses, accepted, the expectation, SyncookiesFailed, the time taken, and a control
(genuine cookies for the same listener, all of which must be accepted)."""

from __future__ import annotations

import json
import random
import sys
import time

import tuxtcp
from tuxtcp.wire.ipv4 import Packet, ip_to_int
from tuxtcp.wire.tcp import ACK, SYN, TcpSegment

M32 = 0xFFFFFFFF


def forge(guesses: int, seed: int = 1, control: int = 1000) -> dict[str, object]:
    w = tuxtcp.World(seed=seed)
    srv = w.host("srv", "198.18.0.1")
    srv.sysctl["net.ipv4.tcp_syncookies"] = 2
    srv.sysctl["net.core.somaxconn"] = 65535
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(65535)
    ns = srv.ns
    dst = ip_to_int("198.18.0.1")
    now = 1.0
    # one SYN answered with a cookie: the listener has "overflowed" recently
    ns.deliver(Packet(ip_to_int("198.19.0.1"), dst,
                      TcpSegment(1024, 80, 1000, 0, SYN, 64240, mss=1460)), now)
    ns.outbox.clear()
    rng = random.Random(seed)
    before = ns.mib.tcp_ext.SyncookiesFailed
    accepted = 0
    t0 = time.perf_counter()
    base = ip_to_int("198.19.0.0")
    for i in range(guesses):
        src = base | rng.getrandbits(16)
        seg = TcpSegment(1024 + rng.getrandbits(15), 80, rng.getrandbits(32),
                         rng.getrandbits(32), ACK, 502)
        recv = ns.mib.tcp_ext.SyncookiesRecv
        ns.deliver(Packet(src, dst, seg), now + i * 1e-7)  # 1 s of virtual time per 10M
        if ns.mib.tcp_ext.SyncookiesRecv != recv:
            accepted += 1
        if len(ns.outbox) > 4096:
            ns.outbox.clear()  # the RSTs the guesses draw
    elapsed = time.perf_counter() - t0
    failed = ns.mib.tcp_ext.SyncookiesFailed - before
    ns.outbox.clear()
    # control: real cookies (a SYN each, then the ACK of its SYN-ACK) are all taken
    good = 0
    t = now + guesses * 1e-7
    for i in range(control):
        src = ip_to_int("198.19.255.1") + (i >> 14)
        sport = 1024 + (i & 0x3FFF)
        ns.deliver(Packet(src, dst, TcpSegment(sport, 80, 5000, 0, SYN, 64240, mss=1460)), t)
        synack = ns.outbox[-1].seg
        ns.outbox.clear()
        recv = ns.mib.tcp_ext.SyncookiesRecv
        ns.deliver(Packet(src, dst, TcpSegment(sport, 80, 5001, (synack.seq + 1) & M32, ACK,
                                               502)), t)
        ns.outbox.clear()
        good += ns.mib.tcp_ext.SyncookiesRecv - recv
    return {
        "guesses": guesses, "accepted": accepted, "expected": guesses * 8 / 2**32,
        "one_in": 2**32 // 8, "SyncookiesFailed": failed, "seconds": round(elapsed, 1),
        "guesses_per_s": round(guesses / elapsed), "control_genuine_cookies": control,
        "control_accepted": good,
    }


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    s = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    print(json.dumps(forge(n, s)))
