"""tcp_ack's first checks as 6.18 has them (issue 10): an ACK before snd_una by more than
min(max_window, bytes_acked) is too old (RFC 5961 5.2: TCP_TOO_OLD_ACK), an ACK of data never
sent is dropped (TCP_ACK_UNSENT_DATA); both get a challenge ACK, at most one per
tcp_invalid_ratelimit (TCPChallengeACK, TCPACKSkippedChallenge), and the segment's data is not
taken. An old ACK within that range is only a duplicate: its data is taken."""

from __future__ import annotations

import states as S
from tuxtcp.wire.tcp import ACK, PSH

M32 = 0xFFFFFFFF


def sent_and_acked(n: int) -> tuple[S.Conn, int]:
    """Established (active open), `n` bytes (whole segments, so Nagle holds nothing back)
    sent and acknowledged; returns snd_una."""
    c = S.established_active()
    c.sock.send(b"s" * n)
    out = c.take()
    end = max((p.seg.seq + len(p.seg.payload)) & M32 for p in out)
    c.send(ACK, ack=end)
    assert c.sock.tcp_info().tcpi_bytes_acked == n + 1  # the SYN counts (as on the kernel)
    return c, end


def test_too_old_ack_gets_a_challenge_ack_and_is_dropped() -> None:
    c, una = sent_and_acked(2896)
    h = c.h
    before = h.counters()
    # bytes_acked is 2897 (the SYN counts for an active opener): snd_una - 2898 is too old
    out = c.send(ACK | PSH, b"data", ack=(una - 2898) & M32)
    assert [(p.seg.flags, p.seg.seq, p.seg.ack) for p in out] == [(ACK, una, c.seq - 4)]
    assert dict(h.ns.drops) == {"TCP_TOO_OLD_ACK": 1}
    counters = h.counters()
    assert counters["TcpExt.TCPChallengeACK"] - before["TcpExt.TCPChallengeACK"] == 1
    # a second one within 500 ms: no ACK, counted as skipped
    out = c.send(ACK, ack=(una - 2898) & M32, seq=(c.seq - 4) & M32)
    assert out == []
    assert h.counters()["TcpExt.TCPACKSkippedChallenge"] == 1
    assert dict(h.ns.drops) == {"TCP_TOO_OLD_ACK": 2}


def test_old_ack_within_range_is_a_duplicate_and_its_data_is_taken() -> None:
    c, una = sent_and_acked(2896)
    out = c.send(ACK | PSH, b"data", ack=(una - 2897) & M32)
    assert [(p.seg.flags, p.seg.ack) for p in out] in ([], [(ACK, c.seq)])
    assert c.sock.recv(100) == b"data"
    assert dict(c.h.ns.drops) == {}


def test_ack_of_unsent_data_gets_a_challenge_ack_and_its_data_is_dropped() -> None:
    c, una = sent_and_acked(1448)
    seq = c.seq
    out = c.send(ACK | PSH, b"data", ack=(una + 1) & M32)
    assert [(p.seg.flags, p.seg.seq, p.seg.ack) for p in out] == [(ACK, una, seq)]
    assert dict(c.h.ns.drops) == {"TCP_ACK_UNSENT_DATA": 1}
    assert c.h.counters()["TcpExt.TCPChallengeACK"] == 1
    out = c.send(ACK | PSH, b"data", ack=(una + 1) & M32, seq=seq)
    assert out == [] and c.h.counters()["TcpExt.TCPACKSkippedChallenge"] == 1
    # after tcp_invalid_ratelimit the next one is answered again
    c.advance(c.h.now + 0.5)
    out = c.send(ACK | PSH, b"data", ack=(una + 1) & M32, seq=seq)
    assert [(p.seg.flags, p.seg.ack) for p in out] == [(ACK, seq)]
    assert c.h.counters()["TcpExt.TCPChallengeACK"] == 2


# --- SACK blocks (tcp_sacktag_write_queue's checks) ------------------------------------------
def four_segments_out() -> tuple[S.Conn, int]:
    """Established (active open) with four 1448-byte segments in flight; returns snd_una."""
    c = S.established_active()
    c.sock.send(b"s" * (4 * 1448))
    out = c.take()
    assert [len(p.seg.payload) for p in out] == [1448] * 4
    return c, out[0].seg.seq


def test_sack_block_beyond_snd_nxt_is_discarded() -> None:
    c, una = four_segments_out()
    nxt = (una + 4 * 1448) & M32
    c.send(ACK, ack=una, sack=((nxt, (nxt + 1448) & M32),))
    counters = c.h.counters()
    assert counters["TcpExt.TCPSACKDiscard"] == 1
    assert c.sock.tcp_info().tcpi_sacked == 0


def test_reversed_sack_block_is_discarded_and_a_good_one_after_it_counts() -> None:
    c, una = four_segments_out()
    good = ((una + 1448) & M32, (una + 2896) & M32)
    c.send(ACK, ack=una, sack=((good[1], good[0]), good))
    assert c.h.counters()["TcpExt.TCPSACKDiscard"] == 1
    assert c.sock.tcp_info().tcpi_sacked == 1


def test_dsack_of_data_never_retransmitted_is_dubious_then_discarded() -> None:
    """A first block below the ACK is a D-SACK (TCPDSACKRecv); with no retransmission to
    explain it, tcp_dsack_seen calls it dubious, and as an ordinary block it lies below
    snd_una: TCPSACKDiscard."""
    c, una = four_segments_out()
    ack = (una + 1448) & M32
    c.send(ACK, ack=ack, sack=((una, ack),))
    counters = c.h.counters()
    assert (counters["TcpExt.TCPDSACKRecv"], counters["TcpExt.TCPDSACKIgnoredDubious"],
            counters["TcpExt.TCPSACKDiscard"], counters["TcpExt.TCPDSACKRecvSegs"]) == (1, 1, 1, 0)


def test_dsack_inside_the_second_block_is_an_out_of_order_dsack() -> None:
    c, una = four_segments_out()
    second = ((una + 1448) & M32, (una + 4344) & M32)
    first = ((una + 1448) & M32, (una + 2896) & M32)
    c.send(ACK, ack=una, sack=(first, second))
    counters = c.h.counters()
    assert counters["TcpExt.TCPDSACKOfoRecv"] == 1
    assert counters["TcpExt.TCPDSACKIgnoredDubious"] == 1
    assert counters["TcpExt.TCPSACKDiscard"] == 0
    assert c.sock.tcp_info().tcpi_sacked == 2


def test_dsack_of_a_retransmitted_segment_counts_its_duplicates() -> None:
    """After an RTO retransmitted the head, the peer reports the duplicate: TCPDSACKRecv and
    TCPDSACKRecvSegs as tcp_check_dsack counts them. (What the kernel does next, undoing the
    RTO, is issue 15's; tuxtcp ignores the block, TCPDSACKIgnoredNoUndo.)"""
    c = S.established_active()
    c.sock.send(b"s" * 1448)
    una = c.take()[0].seg.seq
    out = c.advance(c.h.now + 1.5)
    assert [p.seg.seq for _, p in out][:1] == [una]  # the RTO retransmission
    ack = (una + 1448) & M32
    c.send(ACK, ack=ack, sack=((una, ack),))
    counters = c.h.counters()
    assert (counters["TcpExt.TCPDSACKRecv"], counters["TcpExt.TCPDSACKRecvSegs"]) == (1, 1)
    assert counters["TcpExt.TCPDSACKIgnoredDubious"] == 0
