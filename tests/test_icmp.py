"""ICMP errors for TCP (issue 12: icmp_rcv's checks and counters, tcp_v4_err, tcp_req_err).
Raw datagrams go in through the checked receive path (Namespace.receive_bytes), as from a
real wire. The kernel's own answers for the same cases are tests/packetdrill/icmp-errors.pkt
(both targets)."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

import states as S
from helpers import Harness
from tuxtcp.tcp.ehash import entries
from tuxtcp.wire.checksum import internet_checksum
from tuxtcp.wire.errors import ParseError
from tuxtcp.wire.icmp import IcmpError, parse_icmp

M32 = 0xFFFFFFFF


def icmp(h: Harness, type_: int, code: int, sport: int, dport: int, seq: int,
         bad_checksum: bool = False, mtu: int = 0) -> bytes:
    """An ICMP error from the peer quoting a segment we sent (our address, `sport`) to it;
    `mtu`: the next-hop MTU of "fragmentation needed"."""
    ours, peer = h.addr.to_bytes(4, "big"), h.peer.to_bytes(4, "big")
    inner = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0, ours, peer)
    body = struct.pack("!BBHHH", type_, code, 0, 0, mtu) + inner + struct.pack(
        "!HHI", sport, dport, seq)
    csum = internet_checksum(body) ^ (1 if bad_checksum else 0)
    body = body[:2] + csum.to_bytes(2, "big") + body[4:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0, 64, 1, 0, peer, ours)
    hdr = hdr[:10] + internet_checksum(hdr).to_bytes(2, "big") + hdr[12:]
    return hdr + body


def test_port_unreachable_about_our_syn_fails_the_connect() -> None:
    c = S.syn_sent()
    syn = c.sent[0].seg
    c.h.ns.receive_bytes(icmp(c.h, 3, 3, syn.sport, syn.dport, syn.seq), c.h.now)
    assert c.sock.sk.state == 7  # CLOSE
    assert c.sock.connect_ex((S.PEER, S.PEER_PORT)) == 111  # ECONNREFUSED
    counters = c.h.counters()
    assert counters["Icmp.InMsgs"] == counters["Icmp.InDestUnreachs"] == 1
    assert counters["Tcp.AttemptFails"] == 1
    assert c.h.advance(c.h.now + 10) == []  # no SYN retransmission


def test_an_error_outside_the_window_is_counted_and_ignored() -> None:
    c = S.syn_sent()
    syn = c.sent[0].seg
    c.h.ns.receive_bytes(icmp(c.h, 3, 3, syn.sport, syn.dport, (syn.seq + 5000) & M32),
                         c.h.now)
    assert c.sock.sk.state == 2  # still SYN_SENT
    assert c.h.counters()["TcpExt.OutOfWindowIcmps"] == 1


def test_host_unreachable_on_an_established_connection_is_a_soft_error() -> None:
    c = S.established_active()
    c.take()
    c.sock.send(b"x" * 100)
    data = c.take()[0].seg
    c.h.ns.receive_bytes(icmp(c.h, 3, 1, data.sport, data.dport, data.seq), c.h.now)
    assert c.sock.sk.state == 1  # ESTABLISHED
    assert c.sock.getsockopt(1, 4) == 113  # SO_ERROR: EHOSTUNREACH, once
    assert c.sock.getsockopt(1, 4) == 0


def test_no_socket_for_it_counts_icmp_in_errors() -> None:
    h = Harness()
    h.ns.receive_bytes(icmp(h, 3, 3, 40000, 80, 1), 0.0)
    assert h.counters()["Icmp.InErrors"] == 1


def test_a_bad_checksum_is_counted_and_dropped() -> None:
    c = S.syn_sent()
    syn = c.sent[0].seg
    c.h.ns.receive_bytes(icmp(c.h, 3, 3, syn.sport, syn.dport, syn.seq, bad_checksum=True),
                         c.h.now)
    counters = c.h.counters()
    assert (counters["Icmp.InMsgs"], counters["Icmp.InCsumErrors"],
            counters["Icmp.InErrors"]) == (1, 1, 1)
    assert c.sock.sk.state == 2
    assert c.h.ns.drops["ICMP_CSUM"] == 1


def test_host_unreachable_about_our_synack_drops_the_request() -> None:
    # tcp_req_err: net or host unreachable (and parameter problems, time exceeded) about the
    # SYN-ACK end the request silently (ListenDrops); port unreachable does not
    r = S.syn_recv()
    sa = r.synack
    h = r.h
    h.ns.receive_bytes(icmp(h, 3, 3, sa.sport, sa.dport, sa.seq), h.now)
    assert len(entries(h.ns)) == 1 and h.counters()["TcpExt.ListenDrops"] == 0
    h.ns.receive_bytes(icmp(h, 3, 1, sa.sport, sa.dport, (sa.seq + 1) & M32), h.now)
    assert h.counters()["TcpExt.OutOfWindowIcmps"] == 1  # not our SYN-ACK's sequence
    h.ns.receive_bytes(icmp(h, 3, 1, sa.sport, sa.dport, sa.seq), h.now)
    assert len(entries(h.ns)) == 0 and h.counters()["TcpExt.ListenDrops"] == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_any_bytes_parse_or_fail_cleanly(body: bytes) -> None:
    try:
        msg = parse_icmp(1, body)
    except ParseError:
        return
    assert msg is None or isinstance(msg, IcmpError)
