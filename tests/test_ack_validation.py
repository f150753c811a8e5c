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
    assert c.sock.tcp_info().tcpi_bytes_acked == n
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
