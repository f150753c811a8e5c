"""The engine's tracepoints: the kernel's events, fields and trace_pipe lines for a handshake, a
SYN-ACK retransmission, a reset and a close through TIME_WAIT. The orders asserted are the ones
the 6.18 kernel printed on this machine (tests/data/kernel_trace_sample.txt): no TIME_WAIT line
(FIN_WAIT2 -> CLOSE), a CLOSE -> SYN_SENT line with sport=0 (the port is chosen after the state
change), LISTEN -> SYN_RECV for the child, tcp_send_reset before kfree_skb NO_SOCKET."""

from __future__ import annotations

import io
import socket

import tuxtcp
from helpers import Harness, syn
from tuxtcp.net.trace import TraceEvent, format_trace_line, parse_trace_line
from tuxtcp.wire.tcp import ACK, FIN

SRV, CLI = "198.18.0.1", "198.18.0.2"


def world(timer_model: str = "exact",
          ) -> tuple[tuxtcp.World, tuxtcp.Host, tuxtcp.Host, list[tuple[str, TraceEvent]]]:
    w = tuxtcp.World(seed=3, timer_model=timer_model)
    srv, cli = w.host("srv", SRV), w.host("cli", CLI)
    w.link(srv, cli, delay=0.001)
    events: list[tuple[str, TraceEvent]] = []
    srv.trace(lambda e: events.append(("srv", e)))
    cli.trace(lambda e: events.append(("cli", e)))
    return w, srv, cli, events


def connect(srv: tuxtcp.Host, cli: tuxtcp.Host) -> tuple[tuxtcp.Socket, tuxtcp.Socket]:
    """A listener on srv:8080 and a client connection to it, accepted."""
    ls = srv.socket()
    ls.bind(("0.0.0.0", 8080))
    ls.listen(5)
    c = cli.socket()
    c.connect((SRV, 8080))
    conn, _ = ls.accept()
    _keep.append(ls)
    return c, conn


_keep: list[tuxtcp.Socket] = []  # listeners stay open for the test


def states(events: list[tuple[str, TraceEvent]], host: str) -> list[tuple[str, str]]:
    names = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
             6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
             11: "CLOSING"}
    return [(names[int(e.fields["oldstate"])], names[int(e.fields["newstate"])])
            for h, e in events if h == host and e.name == "inet_sock_set_state"]


def test_handshake_state_changes_on_both_sides() -> None:
    w, srv, cli, events = world()
    c, conn = connect(srv, cli)
    assert states(events, "cli") == [("CLOSE", "SYN_SENT"), ("SYN_SENT", "ESTABLISHED")]
    # listen() first: inet_csk_listen_start traces CLOSE->LISTEN (as 6.18 does)
    assert states(events, "srv") == [("CLOSE", "LISTEN"), ("LISTEN", "SYN_RECV"),
                                     ("SYN_RECV", "ESTABLISHED")]
    first = next(e for h, e in events if h == "cli")
    assert first.fields["sport"] == 0 and first.fields["dport"] == 8080
    assert first.ts == cli.ns.clock.uptime(0.0)  # the connect() at virtual time 0
    child = [e for h, e in events if h == "srv"][1:]
    assert child[0].fields["sport"] == 8080 and child[0].fields["dport"] == c.getsockname()[1]
    assert child[1].ts == srv.ns.clock.uptime(0.003)  # SYN, SYN-ACK, ACK: 3 x 1 ms


def test_synack_retransmission_is_traced_at_the_timer() -> None:
    h = Harness()
    h.listener()
    seen: list[TraceEvent] = []
    h.ns.trace.subscribe(seen.append)
    h.send(syn(40000))  # no third ACK: the request sock's timer resends the SYN-ACK
    assert seen == []  # the first SYN-ACK is not a retransmission
    h.advance(1.0)
    assert [e.name for e in seen] == ["tcp_retransmit_synack"]
    e = seen[0]
    assert e.ts == h.ns.clock.uptime(1.0)
    assert (e.fields["sport"], e.fields["dport"]) == (8080, 40000)
    assert e.fields["saddr"] == h.addr and e.fields["daddr"] == h.peer
    h.advance(3.0)  # the second after 2 s more (exponential backoff)
    assert [x.ts for x in seen] == [h.ns.clock.uptime(1.0), h.ns.clock.uptime(3.0)]


def test_reset_to_a_closed_port_and_the_reset_received() -> None:
    w, srv, cli, events = world()
    c = cli.socket()
    assert c.connect_ex((SRV, 9)) == 111  # ECONNREFUSED
    names = [(h, e.name) for h, e in events]
    assert names == [
        ("cli", "inet_sock_set_state"),  # CLOSE -> SYN_SENT
        ("srv", "tcp_send_reset"),  # answered by tcp_v4_send_reset, no socket
        ("srv", "kfree_skb"),  # then the SYN is freed: NO_SOCKET
        ("cli", "tcp_receive_reset"),
        ("cli", "inet_sock_set_state"),  # SYN_SENT -> CLOSE
    ]
    rst = events[1][1]
    assert rst.fields["reason"] == "NO_SOCKET" and rst.fields["state"] == 0
    assert rst.fields["saddr"] == f"{SRV}:9"
    drop = events[2][1]
    assert drop.fields["reason"] == "NO_SOCKET" and drop.fields["location"] == "tcp_v4_rcv"
    assert srv.drops["NO_SOCKET"] == 1


def test_active_close_through_time_wait() -> None:
    w, srv, cli, events = world()
    c, conn = connect(srv, cli)
    events.clear()
    c.close()  # the client closes first: FIN_WAIT1, FIN_WAIT2, then TIME_WAIT
    w.run(0.1)
    conn.close()
    w.run(0.1)
    assert states(events, "cli") == [("ESTABLISHED", "FIN_WAIT1"), ("FIN_WAIT1", "FIN_WAIT2"),
                                     ("FIN_WAIT2", "CLOSE")]
    assert states(events, "srv") == [("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                                     ("LAST_ACK", "CLOSE")]
    destroyed = [h for h, e in events if e.name == "tcp_destroy_sock"]
    assert sorted(destroyed) == ["cli", "srv"]
    assert "TIME-WAIT" in cli.ss("-tan")
    # the timewait sock's own end is not traced (the kernel traces full sockets only)
    n = len(events)
    w.run(61.0)
    assert "TIME-WAIT" not in cli.ss("-tan") and len(events) == n


def test_a_fin_queued_on_a_closed_socket_is_freed_with_it() -> None:
    # the client closes; the server closes on reading the FIN, so its FIN rides on the ACK of
    # the client's (one FIN|ACK). The client, an orphan in FIN_WAIT1, queues that FIN
    # (tcp_data_queue) and goes to TIME_WAIT (tcp_fin -> tcp_time_wait): the full socket is
    # destroyed with the FIN's skb still queued, and sk_stream_kill_queues frees it right
    # after tcp_destroy_sock (6.18 prints this pair: tests/data/kernel_trace_sample.txt)
    w, srv, cli, events = world("wheel")  # a delayed ACK waits for the next tick
    c, conn = connect(srv, cli)
    events.clear()
    w.trace = []
    t0 = w.clock
    c.close()
    w.run(0.00101)  # the FIN is in at the server, its ACK not yet out
    conn.close()
    w.run(0.1)
    assert [(round(t - t0, 5), src, p.seg.flags) for t, src, p in w.trace] == [
        (0.0, "cli", FIN | ACK), (0.00101, "srv", FIN | ACK), (0.00201, "cli", ACK)]
    cli_events = [e for h, e in events if h == "cli"]
    i = next(k for k, e in enumerate(cli_events) if e.name == "tcp_destroy_sock")
    freed = cli_events[i + 1]
    assert freed.name == "kfree_skb" and freed.fields["reason"] == "QUEUE_PURGE"
    assert str(freed.fields["location"]).startswith("sk_stream_kill_queues")
    assert int(freed.fields["rx_sk"]) == 0
    assert freed.ts == cli_events[i].ts == cli.ns.clock.uptime(t0 + 0.00201)
    assert cli.drops["QUEUE_PURGE"] == 1 and srv.drops["QUEUE_PURGE"] == 0


def test_a_fin_after_shutdown_is_no_queue_purge() -> None:
    # not an orphan: shutdown(SHUT_WR) keeps the socket, whose owner may still read the FIN
    # (its close() frees the receive queue without a trace: __tcp_close's __kfree_skb)
    w, srv, cli, events = world()
    c, conn = connect(srv, cli)
    c.shutdown(socket.SHUT_WR)
    w.run(0.1)
    conn.close()
    w.run(0.1)
    assert c.recv(10) == b""
    c.close()
    w.run(0.1)
    assert cli.drops["QUEUE_PURGE"] == 0
    assert not [e for h, e in events if e.name == "kfree_skb" and h == "cli"]


def test_active_reset_carries_the_kernel_reason() -> None:
    w, srv, cli, events = world()
    c, conn = connect(srv, cli)
    c.sendall(b"unread")
    w.run(0.1)
    events.clear()
    conn.close()  # unread data: RST (TCPAbortOnClose)
    w.run(0.1)
    rst = [e for h, e in events if e.name == "tcp_send_reset"]
    assert len(rst) == 1 and rst[0].fields["reason"] == "TCP_ABORT_ON_CLOSE"
    assert rst[0].fields["skbaddr"] == 0  # an active reset answers no segment
    assert [h for h, e in events if e.name == "tcp_receive_reset"] == ["cli"]


def test_trace_lines_are_the_kernels_trace_pipe_form_and_parse_back() -> None:
    w, srv, cli, events = world()
    out = io.StringIO()
    w.trace_to(out)
    c = cli.socket()
    c.connect_ex((SRV, 9))
    lines = out.getvalue().splitlines()
    assert len(lines) == 5
    assert lines[1].startswith("             srv-0       [000] ..... ")
    assert ": tcp_send_reset: skbaddr=" in lines[1]
    assert lines[1].endswith(" state=UNKNOWN reason=NO_SOCKET")
    assert f" src={SRV}:9 dest={CLI}:" in lines[1]
    assert lines[2].endswith("location=tcp_v4_rcv reason: NO_SOCKET")
    for line in lines:
        ev = parse_trace_line(line)
        assert ev is not None
        assert format_trace_line(ev, task=line.split("-", 1)[0].strip()) == line


def test_no_subscriber_no_events_and_unsubscribe_stops_them() -> None:
    h = Harness()
    assert not h.ns.trace.enabled
    seen: list[TraceEvent] = []
    stop = h.ns.trace.subscribe(seen.append, ["tcp_send_reset"])
    assert h.ns.trace.enabled
    h.send(syn(40000, dport=9))
    assert [e.name for e in seen] == ["tcp_send_reset"]  # kfree_skb was not asked for
    stop()
    assert not h.ns.trace.enabled
    h.send(syn(40001, dport=9))
    assert len(seen) == 1
    assert h.ns.drops["NO_SOCKET"] == 2  # drops are counted either way


def test_a_cookie_ack_meeting_a_full_accept_queue_is_freed_by_cookie_v4_check() -> None:
    """cookie_v4_check frees it itself (sk_skb_reason_drop with the listener): kfree_skb names
    cookie_v4_check and the listener as rx_sk (seen on 6.18 in a slow-accept kernel run: 138
    NO_SOCKET drops, every one at cookie_v4_check); no RST."""
    w, srv, cli, events = world()
    srv.sysctl["net.ipv4.tcp_syncookies"] = 2  # always cookies
    ls = srv.socket()
    ls.bind(("0.0.0.0", 8080))
    ls.listen(0)  # the accept queue holds one connection
    socks = [cli.socket() for _ in range(2)]
    for s in socks:
        s.setblocking(False)
        s.connect_ex((SRV, 8080))
    w.run(0.01)
    drops = [e for h, e in events if h == "srv" and e.name == "kfree_skb"]
    assert [(d.fields["reason"], d.fields["location"]) for d in drops] == [
        ("NO_SOCKET", "cookie_v4_check")]
    assert drops[0].fields["rx_sk"] != 0
    assert not [e for h, e in events if h == "srv" and e.name == "tcp_send_reset"]
    assert srv.drops["NO_SOCKET"] == 1
