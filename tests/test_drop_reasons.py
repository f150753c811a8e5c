"""Drop reasons, packet by packet: which segment goes in, what (if anything) comes out, and the
`enum skb_drop_reason` name the kernel (6.18) frees it with, counted in ns.drops.

The kernel's answers were read from tcp_v4_rcv, tcp_check_req, cookie_v4_check and
tcp_rcv_state_process and, for the cases marked "live", seen on this machine's kernel through
skb:kfree_skb (tests/test_trace_kernel.py repeats some of them against the kernel itself).
"""

from __future__ import annotations

import socket

from helpers import SRV, Harness, is_rst, is_synack, syn, third_ack
from tuxtcp.wire.ipv4 import Packet, ip_to_int
from tuxtcp.wire.tcp import ACK, FIN, PSH, RST, SYN, TcpSegment

PEER_ISN = 5000


def drops(h: Harness) -> dict[str, int]:
    return h.ns.drops.snapshot()


def established(h: Harness) -> tuple[socket.socket, TcpSegment]:
    """An active-open socket in ESTABLISHED (peer ISN 5000, peer TSval 1000); returns it and
    our SYN."""
    s = h.socket()
    s.setblocking(False)
    s.connect_ex(("198.18.0.2", 80))
    syn_seg = h.take()[0].seg
    h.send(TcpSegment(80, syn_seg.sport, PEER_ISN, syn_seg.seq + 1, SYN | ACK, 65160, mss=1460,
                      wscale=7, sack_perm=True, tsval=1000, tsecr=syn_seg.tsval))
    h.take()
    assert s.connect_ex(("198.18.0.2", 80)) == 0
    return s, syn_seg


def peer(me: TcpSegment, seq: int, flags: int = ACK, data: bytes = b"", ts: int = 1001,
         ack: int | None = None, sack: tuple[tuple[int, int], ...] = ()) -> TcpSegment:
    """The peer's segment to the socket whose SYN was `me`."""
    a = me.seq + 1 if ack is None else ack
    return TcpSegment(80, me.sport, seq, a, flags, 502, data, tsval=ts, tsecr=0, sack=sack)


# --- tcp_v4_rcv and LISTEN ------------------------------------------------------------------
def test_syn_to_a_closed_port_is_reset_and_dropped_no_socket() -> None:  # live
    h = Harness()
    out = h.send(syn(40000, dport=9))
    assert len(out) == 1 and is_rst(out[0])
    assert drops(h) == {"NO_SOCKET": 1}


def test_rst_to_a_closed_port_is_dropped_no_socket_without_reply() -> None:  # live
    h = Harness()
    assert h.send(TcpSegment(40000, 9, 1, 0, RST, 0)) == []
    assert drops(h) == {"NO_SOCKET": 1}


def test_ack_to_a_listener_is_reset_and_dropped_tcp_flags() -> None:  # live
    h = Harness()
    h.listener()
    out = h.send(TcpSegment(40000, 8080, 1, 77, ACK, 502))
    assert len(out) == 1 and is_rst(out[0]) and out[0].seg.seq == 77
    assert drops(h) == {"TCP_FLAGS": 1}


def test_rst_and_synfin_and_no_flags_to_a_listener() -> None:
    h = Harness()
    h.listener()
    assert h.send(TcpSegment(40000, 8080, 1, 0, RST, 0)) == []
    assert h.send(TcpSegment(40001, 8080, 1, 0, SYN | FIN, 502)) == []
    assert h.send(TcpSegment(40002, 8080, 1, 0, FIN, 502)) == []
    assert drops(h) == {"TCP_RESET": 1, "TCP_FLAGS": 2}


def test_syn_meeting_a_full_accept_queue_is_consumed_not_dropped() -> None:  # live
    # tcp_rcv_state_process(LISTEN) calls consume_skb whatever conn_request decided
    h = Harness()
    h.listener(backlog=0)
    sa = h.send(syn(40000))[0].seg
    h.send(third_ack(sa))  # the accept queue holds backlog+1 = 1
    assert h.send(syn(40001)) == []
    assert h.counters()["TcpExt.ListenOverflows"] == 1
    assert drops(h) == {}


def test_third_ack_meeting_a_full_accept_queue_is_dropped_listen_overflow() -> None:
    h = Harness()
    h.listener(backlog=1)  # each queue holds 2
    h.send(third_ack(h.send(syn(40000))[0].seg))  # one connection waits in the accept queue
    sa2 = h.send(syn(40001))[0].seg
    sa3 = h.send(syn(40002))[0].seg
    h.send(third_ack(sa2))  # the accept queue is full now
    assert h.send(third_ack(sa3)) == []  # tcp_abort_on_overflow=0: silently
    assert drops(h) == {"TCP_LISTEN_OVERFLOW": 1}


def test_retransmitted_syn_to_a_request_sock_draws_a_synack_and_is_dropped() -> None:
    h = Harness()
    h.listener()
    h.send(syn(40000))
    out = h.send(syn(40000))
    assert len(out) == 1 and is_synack(out[0])
    assert drops(h) == {"NOT_SPECIFIED": 1}  # tcp_check_req returns NULL, no reason set


def test_out_of_window_segment_to_a_request_sock_is_acked_and_dropped_overwindow() -> None:
    h = Harness()
    h.listener()
    sa = h.send(syn(40000))[0].seg
    bad = TcpSegment(40000, 8080, 1001 + 100000, sa.seq + 1, ACK, 502, tsval=101,
                     tsecr=sa.tsval or 0)
    out = h.send(bad)
    assert len(out) == 1 and out[0].seg.flags == ACK and out[0].seg.ack == 1001
    assert drops(h) == {"TCP_OVERWINDOW": 1}


def test_paws_rejected_ack_to_a_request_sock_is_dropped_rfc7323_paws() -> None:
    h = Harness()
    h.listener()
    sa = h.send(syn(40000, ts=5000))[0].seg
    out = h.send(third_ack(sa, ts=4000))  # TSval older than the SYN's
    assert len(out) == 1 and out[0].seg.flags == ACK
    assert drops(h) == {"TCP_RFC7323_PAWS": 1}
    assert h.counters()["TcpExt.PAWSEstab"] == 1


def test_cookie_ack_with_no_room_in_the_accept_queue_is_dropped_no_socket() -> None:
    h = Harness()
    h.ns.sysctl["net.ipv4.tcp_syncookies"] = 2  # always cookies
    h.listener(backlog=0)
    sa1 = h.send(syn(40000))[0].seg
    sa2 = h.send(syn(40001))[0].seg
    h.send(third_ack(sa1))  # fills the accept queue
    assert h.send(third_ack(sa2)) == []
    assert drops(h) == {"NO_SOCKET": 1}  # cookie_v4_check: tcp_get_cookie_sock failed


# --- SYN_SENT -------------------------------------------------------------------------------
def test_syn_sent_unacceptable_ack_is_reset_and_dropped_invalid_ack_sequence() -> None:
    h = Harness()
    s = h.socket()
    s.setblocking(False)
    s.connect_ex(("198.18.0.2", 80))
    me = h.take()[0].seg
    out = h.send(TcpSegment(80, me.sport, PEER_ISN, me.seq + 99, SYN | ACK, 65160, mss=1460))
    assert len(out) == 1 and is_rst(out[0]) and out[0].seg.seq == me.seq + 99
    assert drops(h) == {"TCP_INVALID_ACK_SEQUENCE": 1}


def test_syn_sent_ack_without_syn_and_rst_without_ack() -> None:
    h = Harness()
    s = h.socket()
    s.setblocking(False)
    s.connect_ex(("198.18.0.2", 80))
    me = h.take()[0].seg
    assert h.send(TcpSegment(80, me.sport, PEER_ISN, me.seq + 1, ACK, 502)) == []
    assert h.send(TcpSegment(80, me.sport, PEER_ISN, 0, RST, 0)) == []
    assert drops(h) == {"TCP_FLAGS": 1, "TCP_RESET": 1}
    assert s.state == "SYN_SENT"


# --- synchronized states (tcp_validate_incoming, tcp_ack, tcp_data_queue) -------------------
def test_paws_rejected_data_is_dupacked_and_dropped_rfc7323_paws() -> None:
    h = Harness()
    s, me = established(h)
    out = h.send(peer(me, PEER_ISN + 1, ACK | PSH, b"x", ts=999))  # older than 1000
    assert len(out) == 1 and out[0].seg.flags == ACK and out[0].seg.ack == PEER_ISN + 1
    assert drops(h) == {"TCP_RFC7323_PAWS": 1}
    assert h.counters()["TcpExt.PAWSEstab"] == 1


def test_segment_beyond_the_window_is_dropped_invalid_sequence() -> None:
    h = Harness()
    s, me = established(h)
    out = h.send(peer(me, PEER_ISN + 1 + 10_000_000, ACK | PSH, b"x"))
    assert len(out) == 1 and out[0].seg.ack == PEER_ISN + 1  # the dupack
    assert drops(h) == {"TCP_INVALID_SEQUENCE": 1}


def test_segment_entirely_before_the_window_is_dropped_old_sequence() -> None:
    h = Harness()
    s, me = established(h)
    out = h.send(peer(me, PEER_ISN - 100, ACK | PSH, b"old"))
    assert len(out) == 1 and out[0].seg.ack == PEER_ISN + 1
    assert drops(h) == {"TCP_OLD_SEQUENCE": 1}


def test_in_window_rst_not_at_rcv_nxt_draws_a_challenge_ack_and_is_dropped_tcp_reset() -> None:
    h = Harness()
    s, me = established(h)
    out = h.send(peer(me, PEER_ISN + 5, RST))
    assert len(out) == 1 and out[0].seg.flags == ACK
    assert drops(h) == {"TCP_RESET": 1}
    assert s.state == "ESTABLISHED"


def test_rst_at_rcv_nxt_is_consumed() -> None:
    h = Harness()
    s, me = established(h)
    assert h.send(peer(me, PEER_ISN + 1, RST)) == []
    assert drops(h) == {}  # tcp_validate_incoming reset: tcp_reset, __kfree_skb
    assert s.state == "CLOSE"


def test_syn_in_a_synchronized_state_draws_a_challenge_ack_and_is_dropped_invalid_syn() -> None:
    h = Harness()
    s, me = established(h)
    out = h.send(peer(me, PEER_ISN + 1, SYN))
    assert len(out) == 1 and out[0].seg.flags == ACK
    assert drops(h) == {"TCP_INVALID_SYN": 1}


def test_data_without_ack_is_dropped_tcp_flags() -> None:
    h = Harness()
    s, me = established(h)
    assert h.send(peer(me, PEER_ISN + 1, PSH, b"x")) == []
    assert drops(h) == {"TCP_FLAGS": 1}


def test_ack_of_unsent_data_is_dropped_ack_unsent_data() -> None:
    h = Harness()
    s, me = established(h)
    out = h.send(peer(me, PEER_ISN + 1, ack=me.seq + 1 + 5000))
    assert len(out) == 1 and out[0].seg.flags == ACK
    assert drops(h) == {"TCP_ACK_UNSENT_DATA": 1}


def test_retransmitted_data_is_acked_at_once_and_dropped_old_data() -> None:  # live
    h = Harness()
    s, me = established(h)
    h.send(peer(me, PEER_ISN + 1, ACK | PSH, b"hello"))
    h.advance(h.now + 0.2)  # the delayed ACK goes out
    out = h.send(peer(me, PEER_ISN + 1, ACK | PSH, b"hello"))
    assert len(out) == 1 and out[0].seg.ack == PEER_ISN + 6
    assert drops(h) == {"TCP_OLD_DATA": 1}
    assert h.counters()["TcpExt.DelayedACKLost"] == 1


def test_out_of_order_segment_already_held_is_dropped_ofomerge() -> None:
    h = Harness()
    s, me = established(h)
    h.send(peer(me, PEER_ISN + 11, ACK | PSH, b"later"))
    out = h.send(peer(me, PEER_ISN + 11, ACK | PSH, b"later"))
    assert len(out) == 1 and out[0].seg.ack == PEER_ISN + 1 and out[0].seg.sack
    assert drops(h) == {"TCP_OFOMERGE": 1}


def test_pure_ack_in_close_wait_is_dropped_not_specified() -> None:  # live
    h = Harness()
    s, me = established(h)
    h.send(peer(me, PEER_ISN + 1, FIN | ACK))
    assert s.state == "CLOSE_WAIT"
    assert h.send(peer(me, PEER_ISN + 2)) == []
    assert drops(h) == {"NOT_SPECIFIED": 1}


def test_fin_again_in_close_wait_is_acked_at_once_and_dropped_old_data() -> None:
    # a segment starting below rcv_nxt goes on to tcp_data_queue as in FIN_WAIT1/2
    # (tests/packetdrill/close-wait-fin-again.pkt runs it on the kernel too)
    h = Harness()
    s, me = established(h)
    h.send(peer(me, PEER_ISN + 1, FIN | ACK))
    h.take()
    assert s.state == "CLOSE_WAIT"
    out = h.send(peer(me, PEER_ISN + 1, FIN | ACK))
    assert len(out) == 1 and out[0].seg.flags == ACK and out[0].seg.ack == PEER_ISN + 2
    assert drops(h) == {"TCP_OLD_DATA": 1}
    assert h.counters()["TcpExt.DelayedACKLost"] == 1


def test_data_after_close_in_fin_wait2_is_reset_and_dropped_abort_on_data() -> None:
    h = Harness()
    s, me = established(h)
    s.shutdown(socket.SHUT_RDWR)
    fin = h.take()[0].seg
    h.send(peer(me, PEER_ISN + 1, ack=fin.seq + 1))  # FIN_WAIT2, receive side shut
    out = h.send(peer(me, PEER_ISN + 1, ACK | PSH, b"late", ack=fin.seq + 1))
    assert len(out) == 1 and is_rst(out[0])
    assert drops(h) == {"TCP_ABORT_ON_DATA": 1}


# --- TIME_WAIT ------------------------------------------------------------------------------
def _time_wait(h: Harness) -> TcpSegment:
    s, me = established(h)
    s.close()
    fin = h.take()[0].seg
    h.send(peer(me, PEER_ISN + 1, ack=fin.seq + 1))
    h.send(peer(me, PEER_ISN + 1, FIN | ACK, ack=fin.seq + 1, ts=1002))
    h.take()
    h.ns.drops._counts.clear()  # the FIN itself ends at discard_it (NOT_SPECIFIED, live)
    return fin


def test_bare_ack_in_time_wait_is_dropped_not_specified() -> None:
    h = Harness()
    fin = _time_wait(h)
    me = TcpSegment(fin.sport, 80, fin.seq - 1, 0, SYN, 0)
    assert h.send(peer(me, PEER_ISN + 2, ack=fin.seq + 1, ts=1003)) == []
    assert drops(h) == {"NOT_SPECIFIED": 1}


def test_paws_rejected_segment_in_time_wait_is_dropped_tw_paws() -> None:
    h = Harness()
    fin = _time_wait(h)
    me = TcpSegment(fin.sport, 80, fin.seq - 1, 0, SYN, 0)
    out = h.send(peer(me, PEER_ISN + 2, ack=fin.seq + 1, ts=10))
    assert len(out) == 1 and out[0].seg.flags == ACK
    assert drops(h) == {"TCP_RFC7323_TW_PAWS": 1}
    assert h.counters()["TcpExt.PAWSTimewait"] == 1


# --- IP and parse errors --------------------------------------------------------------------
def test_packet_for_another_address_is_dropped_ip_inaddrerrors() -> None:
    h = Harness()
    h.ns.deliver(Packet(ip_to_int("198.18.0.2"), ip_to_int("198.18.9.9"), syn(40000)), 0.0)
    assert drops(h) == {"IP_INADDRERRORS": 1}
    assert h.counters()["Ip.InAddrErrors"] == 1


def test_bad_tcp_checksum_is_dropped_tcp_csum() -> None:
    h = Harness()
    raw = bytearray(Packet(ip_to_int("198.18.0.2"), ip_to_int(SRV), syn(40000)).to_bytes())
    raw[-1] ^= 0xFF  # corrupt the last option byte: the TCP checksum fails
    h.ns.receive_bytes(bytes(raw), 0.0)
    assert drops(h) == {"TCP_CSUM": 1}
    assert h.counters()["Tcp.InCsumErrors"] == 1


def test_truncated_ip_header_is_dropped_ip_inhdr() -> None:
    h = Harness()
    h.ns.receive_bytes(b"\x45\x00\x00", 0.0)
    assert drops(h) == {"IP_INHDR": 1}
