"""Hostile segments in every state, aimed at the connection's own sequence space (issue 10).

Random 32-bit sequence numbers almost never land in a window, so test_fuzz.py rarely gets past
the first checks. Here each case brings a connection into one of the states by real packets
(tests/states.py) and then sends segments built relative to it: sequence numbers at, around and
just outside the receive window, ACKs around snd_una and snd_nxt, SACK blocks inside and around
what was sent, timestamps around the peer's, every flag combination, payloads from 0 to 60,000
bytes. The peer's bytes are a function of their stream position, so whatever the application
reads can be checked. After every segment:

- no exception escapes;
- no MIB counter is negative;
- the receive queue plus the out-of-order queue stay within rcvbuf (plus the one segment the
  kernel forces in when the queue is empty);
- snd_una <= snd_nxt;
- the namespace's TCP memory (tcp_memory_allocated) is the sum of its sockets' pages, and its
  orphan count is the number of orphans alive;
- what the application has read is a prefix of the peer's stream.

SYN_RECV and LISTEN are fuzzed through a request sock (RequestFuzzer). 22,000 segments in all
(2,000 per case, a fixed seed each, so a failure replays)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

import states as S
from tuxtcp.net.tcp_states import SYN_SENT as SYN_SENT_STATE
from tuxtcp.tcp.mem import skb_truesize
from tuxtcp.tcp.receive import receive_window, rmem_alloc
from tuxtcp.wire.seq import after
from tuxtcp.wire.tcp import ACK, SYN, TcpSegment

M32 = 0xFFFFFFFF
PER_STATE = 2000
STATES: dict[str, Callable[[], S.Conn]] = {
    "syn_sent": lambda: S.syn_sent(),
    "established_active": lambda: S.established(active=True),
    "established_passive": lambda: S.established(active=False),
    "fin_wait1": lambda: S.fin_wait1(),
    "fin_wait2": lambda: S.fin_wait2(),
    "closing": lambda: S.closing(),
    "time_wait": lambda: S.time_wait(),
    "close_wait": lambda: S.close_wait(),
    "last_ack": lambda: S.last_ack(),
    "fin_wait2_orphan": lambda: S.fin_wait2(orphan=True),
}


def _stream_table() -> bytes:
    """The peer's stream for offsets 0 .. 2**24 + 2**16: byte i is (131 * i + (i >> 8)) & 0xFF.
    Within a block of 256 the second term is constant, so each block is the first one with its
    values rotated."""
    base = bytes((131 * j) & 0xFF for j in range(256))
    blocks = [base.translate(bytes((v + k) & 0xFF for v in range(256))) for k in range(256)]
    return b"".join(blocks[k & 0xFF] for k in range((1 << 16) + (1 << 8)))


STREAM = _stream_table()


def stream_bytes(start: int, n: int) -> bytes:
    """The peer's bytes at stream offsets start .. start+n (offset 0 = first byte after its
    SYN): the same position always carries the same byte."""
    if start + n <= len(STREAM):
        return STREAM[start:start + n]
    return bytes((i * 131 + (i >> 8)) & 0xFF for i in range(start, start + n))


def peer_bytes(offset: int, n: int) -> bytes:
    """What the peer sends at stream offset `offset` (mod 2**32) for `n` bytes: the stream's
    bytes; before the stream's start (the offset's top bit set) bytes that never count (zeros),
    then the stream from its first byte; far beyond anything in a window, any bytes."""
    if offset & 0x80000000:
        offset -= 1 << 32
    if offset + n > 1 << 24:
        return bytes(n)
    head = bytes(max(0, min(n, -offset)))
    return head + stream_bytes(max(offset, 0), n - len(head))


class Fuzzer:
    def __init__(self, c: S.Conn, seed: int) -> None:
        self.c = c
        self.rng = random.Random(seed)
        self.read = bytearray()
        sk = c.sock.sk
        self.sk = sk
        self.our_isn = sk.iss

    def seq(self) -> int:
        r = self.rng
        nxt = self.sk.rcv_nxt
        win = receive_window(self.sk) if self.sk.state != SYN_SENT_STATE else 65535
        return r.choice([
            nxt, nxt, (nxt - 1) & M32, (nxt + 1) & M32, (nxt + r.randrange(1, 70000)) & M32,
            (nxt + win - 1) & M32, (nxt + win) & M32, (nxt + win + 1) & M32,
            (nxt - r.randrange(1, 70000)) & M32, r.getrandbits(32),
        ])

    def ack(self) -> int:
        r = self.rng
        una, nxt = self.sk.snd_una, self.sk.snd_nxt
        return r.choice([
            una, nxt, nxt, (una - 1) & M32, (nxt + 1) & M32,
            (una + r.randrange(0, max(1, (nxt - una) & M32) + 1)) & M32,
            (una - r.randrange(1, 1 << 20)) & M32, r.getrandbits(32),
        ])

    def sack(self) -> tuple[tuple[int, int], ...]:
        r = self.rng
        una, nxt = self.sk.snd_una, self.sk.snd_nxt
        span = max(1, (nxt - una) & M32)
        blocks = []
        for _ in range(r.choice([0, 0, 1, 2, 3, 4])):
            a = (una + r.randrange(-2000, span + 2000)) & M32
            b = (a + r.choice([1, 100, 1448, r.randrange(1, 5000), -5])) & M32
            blocks.append((a, b))
        return tuple(blocks)

    def payload(self, seq: int, flags: int) -> bytes:
        n = self.rng.choice([0, 0, 1, 10, 100, 1448, 1448, 5000, 60000])
        if flags & SYN:
            return stream_bytes(0, n)  # data on a SYN starts the stream, if this SYN does
        return peer_bytes((seq - self.sk.irs - 1) & M32, n)

    def segment(self) -> TcpSegment:
        r, c = self.rng, self.c
        seq = self.seq()
        flags = r.choice([ACK, ACK, ACK | 0x08, r.randrange(0, 256)])
        tsval = c.tsval
        if tsval is not None:
            tsval = r.choice([tsval, tsval, (tsval + r.randrange(-5, 5)) & M32,
                              r.getrandbits(32), None])
        return c.seg(flags, self.payload(seq, flags), seq=seq, ack=self.ack(),
                     window=r.choice([0, 1, 502, 65535]), tsval=tsval,
                     sack=self.sack() if r.random() < 0.5 else ())

    def check(self) -> None:
        sk, h = self.sk, self.c.h
        for name, value in h.counters().items():
            assert value >= 0 or name == "Tcp.MaxConn", name  # (MaxConn is -1: "dynamic")
        # over rcvbuf by one forced segment at most (into an empty receive queue)
        assert rmem_alloc(sk) <= sk.rcvbuf + skb_truesize(65535)
        held = sum(truesize for _, _, truesize in sk.ooo.values())
        assert sk.ooo_bytes == held  # the running charges match the queues
        assert sk.rcvq_truesize == sum(truesize for _, truesize in sk.rcvq_skbs)
        assert not after(sk.snd_una, sk.snd_nxt)
        ns = sk.ns
        # the namespace's TCP memory is what its sockets hold; orphans are counted once
        assert ns.tcp_memory_allocated == sum(s.mem_pages for s in ns.sockets) >= 0
        assert ns.tcp_orphan_count == sum(1 for s in ns.sockets if s.orphan and not s.dead)
        try:
            got = self.c.sock.recv(1 << 20, 0x40)  # MSG_DONTWAIT
        except OSError:
            got = b""
        if got:
            start = len(self.read)
            assert got == stream_bytes(start, len(got)), "read bytes the peer never sent"
            self.read += got

    def run(self, n: int) -> None:
        h = self.c.h
        for i in range(n):
            self.c.h.send(self.segment())
            if i % 50 == 49:
                h.advance(h.now + self.rng.choice([0.001, 0.05, 0.3, 2.0]))
            self.check()
        h.advance(h.now + 200)
        self.check()


@pytest.mark.parametrize("state", list(STATES))
def test_hostile_segments_in_every_state(state: str) -> None:
    c = STATES[state]()
    c.take()
    Fuzzer(c, seed=sum(map(ord, state))).run(PER_STATE)


class RequestFuzzer:
    """The same segments against a request sock (SYN_RECV, and with it the listener: LISTEN):
    numbers around the request's rcv_nxt and our SYN-ACK; at the end every child the
    listener has queued is accepted and its bytes checked against the stream."""

    def __init__(self, r: S.Request, seed: int) -> None:
        self.r = r
        self.rng = random.Random(seed)
        self.isn = (r.seq - 1) & M32
        r.listener.setblocking(False)

    def segment(self) -> TcpSegment:
        r, rq = self.rng, self.r
        nxt, ours = rq.seq, rq.nxt
        seq = r.choice([nxt, nxt, (nxt - 1) & M32, (nxt + 1) & M32, (nxt + 65535) & M32,
                        (nxt + r.randrange(1, 70000)) & M32, r.getrandbits(32)])
        ack = r.choice([ours, ours, (ours - 1) & M32, (ours + 1) & M32, r.getrandbits(32)])
        flags = r.choice([ACK, ACK, ACK | 0x08, SYN, r.randrange(0, 256)])
        n = r.choice([0, 0, 1, 100, 1448, 60000])
        data = peer_bytes((seq - self.isn - 1) & M32, n)
        if flags & SYN:
            data = b""  # (a SYN to a request: no stream position to check)
        tsval = rq.tsval
        return rq.seg(flags, data, seq=seq, ack=ack, window=r.choice([0, 502, 65535]),
                      tsval=r.choice([tsval, tsval, None, r.getrandbits(32)]))

    def run(self, n: int) -> None:
        h = self.r.h
        for i in range(n):
            h.send(self.segment())
            if i % 50 == 49:
                h.advance(h.now + self.rng.choice([0.001, 0.3, 2.0]))
            for name, value in h.counters().items():
                assert value >= 0 or name == "Tcp.MaxConn", name
        h.advance(h.now + 200)
        for _ in range(100):
            try:
                child, _ = self.r.listener.accept()
            except OSError:
                break
            sk = child.sk
            assert not after(sk.snd_una, sk.snd_nxt)
            try:
                got = child.recv(1 << 20, 0x40)
            except OSError:
                got = b""
            if got and sk.irs == self.isn:
                assert got == stream_bytes(0, len(got)), "read bytes the peer never sent"


def test_hostile_segments_to_a_request_sock_and_its_listener() -> None:
    r = S.syn_recv()
    RequestFuzzer(r, seed=11).run(PER_STATE)
