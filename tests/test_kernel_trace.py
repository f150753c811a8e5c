"""A kernel run's own account from tracefs (simulate/kernel_trace.py): the SYN-ACKs the server
resent to each client and the instant each client's socket became established, per client,
and the same count in the simulation; the last test runs one case on both and compares them
client by client."""

from __future__ import annotations

from typing import Any

import pytest

from tuxtcp.net import trace as t
from tuxtcp.net.tcp_states import CLOSE, CLOSE_WAIT, ESTABLISHED, LAST_ACK
from tuxtcp.net.trace import Tracer, format_trace_line
from tuxtcp.sim.scenario import (
    CLIENT_ADDR,
    PORT,
    SERVER_ADDR,
    ClientResult,
    ClientTrace,
    ScenarioSpec,
    run_scenario,
)
from tuxtcp.simulate.kernel_trace import KernelTrace, TracedRun, apply_trace, traced_uptime0
from tuxtcp.wire.ipv4 import ip_to_int

CLI, SRV, FLOOD = ip_to_int(CLIENT_ADDR), ip_to_int(SERVER_ADDR), ip_to_int("198.19.128.5")
T0 = 1000.0  # the run's origin on CLOCK_MONOTONIC


def _tr(c: ClientResult) -> ClientTrace:
    assert c.traced is not None
    return c.traced


def _lines(*events: t.TraceEvent) -> list[str]:
    return [format_trace_line(ev, task="ksoftirqd/0", flags="..s2.") for ev in events]


def test_the_trace_keeps_the_runs_clients_and_window() -> None:
    kt = KernelTrace(T0, T0 + 10.0, CLIENT_ADDR, PORT)
    run = TracedRun()
    for line in _lines(
            t.tcp_retransmit_synack(T0 + 1.0, 1, 2, PORT, 40000, SRV, CLI),  # kept
            t.tcp_retransmit_synack(T0 + 1.0, 1, 3, PORT, 5555, SRV, FLOOD),  # a flood source
            t.tcp_retransmit_synack(T0 + 11.0, 1, 2, PORT, 40000, SRV, CLI),  # after the run
            # the client's socket leaves SYN_SENT (kept); the server's child does too (not)
            t.inet_sock_set_state(T0 + 0.5, 4, 2, 1, 40000, PORT, CLI, SRV),
            t.inet_sock_set_state(T0 + 0.5, 5, 3, 1, PORT, 40000, SRV, CLI),
            # the server's FIN, its arrival, the client's close (kept); the server's LAST_ACK
            # of another connection (not)
            t.inet_sock_set_state(T0 + 0.7, 5, 1, 4, PORT, 40000, SRV, CLI),
            t.inet_sock_set_state(T0 + 0.70001, 4, 1, 8, 40000, PORT, CLI, SRV),
            t.inet_sock_set_state(T0 + 0.7002, 4, 8, 9, 40000, PORT, CLI, SRV),
            t.inet_sock_set_state(T0 + 0.8, 6, 8, 9, PORT, 40004, SRV, CLI),
            # a client's SYN resent (kept); data resent by an established one (not)
            t.tcp_retransmit_skb(T0 + 1.5, 9, 4, 2, 40000, PORT, CLI, SRV),
            t.tcp_retransmit_skb(T0 + 1.6, 9, 4, 1, 40000, PORT, CLI, SRV),
            # a RST of the run (not counted) and one of other TCP traffic on the machine
            t.tcp_send_reset(T0 + 1.7, 10, 0, 0, "NO_SOCKET", PORT, 40006, SRV, CLI),
            t.tcp_send_reset(T0 + 1.8, 11, 0, 0, "NO_SOCKET", 5000, 40006,
                             ip_to_int("127.0.0.1"), ip_to_int("127.0.0.1")),
            t.kfree_skb(T0 + 2.0, 6, "tcp_v4_rcv+0x1/0x2", 0x0800, "TCP_LISTEN_OVERFLOW"),
            t.kfree_skb(T0 + 2.0, 7, "ip6_rcv_core+0x1/0x2", 0x86DD, "OTHERHOST"),  # IPv6
            # a destroyed socket's receive queue (kept); a UDP datagram to a closed port
            # somewhere on the machine (not: the same reason, UDP's code)
            t.kfree_skb(T0 + 2.1, 9, "sk_stream_kill_queues+0x5/0x90", 0x0800, "QUEUE_PURGE"),
            t.kfree_skb(T0 + 2.2, 10, "__udp4_lib_rcv+0x4bc/0xd00", 0x0800, "NO_SOCKET"),
            # a cookie ACK that met a full accept queue (kept: TCP's, named by the caller of
            # sk_skb_reason_drop)
            t.kfree_skb(T0 + 2.3, 11, "cookie_v4_check+0x2a/0x6c0", 0x0800, "NO_SOCKET"),
            t.kfree_skb(T0 - 1.0, 8, "tcp_v4_rcv+0x1/0x2", 0x0800, "NO_SOCKET")):  # before
        kt.take(run, line)
    kt.take(run, "# tracer: nop")
    assert run.synacks == [(T0 + 1.0, 40000)]
    assert run.established == [(T0 + 0.5, 40000)]
    assert run.syns == [(T0 + 1.5, 40000)]
    assert run.server_fins == [(T0 + 0.7, 40000)]
    assert run.client_fins == [(T0 + 0.70001, 40000)]
    assert run.client_closes == [(T0 + 0.7002, 40000)]
    assert dict(run.drops) == {"TCP_LISTEN_OVERFLOW": 1, "QUEUE_PURGE": 1, "NO_SOCKET": 1}
    assert run.other_drops == 2
    assert run.first_drops == {"TCP_LISTEN_OVERFLOW": [2.0], "QUEUE_PURGE": [2.1],
                               "NO_SOCKET": [2.3]}
    assert dict(run.drop_sites) == {("TCP_LISTEN_OVERFLOW", "tcp_v4_rcv"): 1,
                                    ("QUEUE_PURGE", "sk_stream_kill_queues"): 1,
                                    ("NO_SOCKET", "cookie_v4_check"): 1}
    assert run.foreign_resets == 1  # run_on_kernel refuses such a run: counts are machine-wide


def test_a_reset_for_a_connection_the_client_had_closed_is_told_apart() -> None:
    # the server's TIME_WAIT socket answers a client's late ACK (overtaken by its FIN on the
    # other CPU) after the client's socket is gone: the client's host resets it (NO_SOCKET)
    kt = KernelTrace(T0, T0 + 10.0, CLIENT_ADDR, PORT)
    run = TracedRun()
    for line in _lines(
            t.inet_sock_set_state(T0 + 0.5, 4, 2, 1, 40000, PORT, CLI, SRV),
            t.inet_sock_set_state(T0 + 0.7, 4, 8, 9, 40000, PORT, CLI, SRV),  # LAST_ACK
            t.tcp_send_reset(T0 + 0.71, 10, 0, 0, "NO_SOCKET", 40000, PORT, CLI, SRV),
            # a port never closed, and a reset of another reason: not after a close
            t.tcp_send_reset(T0 + 0.72, 11, 0, 0, "NO_SOCKET", 40002, PORT, CLI, SRV),
            t.tcp_send_reset(T0 + 0.73, 12, 0, 0, "TCP_CLOSE", 40000, PORT, CLI, SRV),
            # the port taken again by a new connection: its own resets are not
            t.inet_sock_set_state(T0 + 2.0, 4, 2, 1, 40000, PORT, CLI, SRV),
            t.tcp_send_reset(T0 + 2.1, 13, 0, 0, "NO_SOCKET", 40000, PORT, CLI, SRV)):
        kt.take(run, line)
    assert run.after_close == 1
    assert [r[0] for r in run.resets] == [0.71, 0.72, 0.73, 2.1]
    assert run.resets[0][1:] == (f"{CLIENT_ADDR}:40000", f"{SERVER_ADDR}:{PORT}", "0",
                                 "NO_SOCKET")


def test_each_client_gets_its_own_synacks_and_kernel_instant_even_on_a_reused_port() -> None:
    # client 0 has port 40000 from 0.0 s and closes; client 2 takes the port again at 5.0 s
    clients = [ClientResult(0, 0.0, port=40000, established=0.0009),
               ClientResult(1, 0.1, port=40002, established=None, error=110),
               ClientResult(2, 5.0, port=40000, established=5.0012, synack_retrans=9)]
    run = TracedRun(synacks=[(T0 + 3.0, 40000), (T0 + 1.0, 40000), (T0 + 6.0, 40000),
                             (T0 + 1.1, 40002)],
                    syns=[(T0 + 1.0, 40002), (T0 + 5.9, 40000)],
                    established=[(T0 + 0.0004, 40000), (T0 + 5.0003, 40000),
                                 (T0 + 1.2, 40002)],
                    server_fins=[(T0 + 0.5, 40000), (T0 + 5.5, 40000)],
                    client_fins=[(T0 + 0.50001, 40000)],
                    client_closes=[(T0 + 0.5003, 40000)],
                    fin_timers=[(T0 + 0.50034, 40000)])
    apply_trace(clients, run, T0)
    assert [c.synack_retrans for c in clients] == [2, 1, 1]
    assert [[round(x, 6) for x in _tr(c).synack_resent_at] for c in clients] == [[1.0, 3.0], [1.1],
                                                                            [6.0]]
    assert [[round(x, 6) for x in _tr(c).syn_resent_at] for c in clients] == [[], [1.0], [5.9]]
    # the server's FIN to each, its arrival and the close that answered it
    assert [_tr(c).served_until for c in clients] == pytest.approx([0.5, None, 5.5])
    assert [_tr(c).fin_seen for c in clients] == pytest.approx([0.50001, None, None])
    assert clients[0].closed == pytest.approx(0.5003)
    from tuxtcp.simulate.kernel import _close_after
    assert _close_after(clients[0], False) == pytest.approx(0.00029)
    # over the relay, to when that close() armed its FIN's timer
    assert _tr(clients[0]).fin_timer_at == pytest.approx(0.50034)
    assert _close_after(clients[0], True) == pytest.approx(0.00033)
    # the kernel's instants, before the agent's poll() woke up; a failed connect keeps none
    assert [c.established for c in clients] == pytest.approx([0.0004, None, 5.0003])
    # the replay's service ends: each FIN's sending; over a veth (5 us), its arrival less the
    # veth's delay where the client's kernel took it later (client 0: 10 us after, so 5 us
    # later than sent); client 2's FIN has no traced arrival, and an accept the trace does
    # not name keeps the agent's record of the close
    from tuxtcp.simulate.kernel import _server_log
    clients[0].accepted, clients[2].accepted = 0.001, 5.0013
    server = {"accepted": [[0.001, 40000, 0], [5.0013, 40000, 0], [7.0, 40004, 0]],
              "closed": [[0.5, 40000], [5.5, 40000], [7.2, 40004]]}
    flat = lambda log: [x for pair in log for x in pair]  # noqa: E731
    assert flat(_server_log(server, clients)) == pytest.approx([0.001, 0.5, 5.0013, 5.5,
                                                                7.0, 7.2])
    assert flat(_server_log(server, clients, 0.000005)) == pytest.approx(
        [0.001, 0.500005, 5.0013, 5.5, 7.0, 7.2])


def test_a_subscriber_to_one_event_turns_on_only_its_call_sites() -> None:
    tr = Tracer()
    flags = ("on_set_state", "on_retransmit_skb", "on_retransmit_synack", "on_send_reset",
             "on_receive_reset", "on_destroy_sock", "on_kfree_skb")
    assert not any(getattr(tr, f) for f in flags)
    off = tr.subscribe(lambda ev: None, ("tcp:tcp_retransmit_synack",))
    assert [f for f in flags if getattr(tr, f)] == ["on_retransmit_synack"]
    every = tr.subscribe(lambda ev: None)
    assert all(getattr(tr, f) for f in flags)
    every()
    off()
    assert not any(getattr(tr, f) for f in flags) and not tr.enabled


# Three clients 1 ms apart fill a listen(4) accept queue to 3; at 0.1 s four SYNs come at once:
# the SYN queue takes all four (a request queue of 4 is not full below 4), two final ACKs
# join the accept queue (full once it holds more than 4) and two meet it full
# (tcp_v4_syn_recv_sock: TCP_LISTEN_OVERFLOW). Their requests stay, marked acked, and the
# server resends their SYN-ACKs 1 s and 3 s later (the request timer, 1 s doubling); each
# reaches an established client (TCP_INVALID_SYN) whose ACK meets the full queue again.
# Nobody accepts. (Not a kernel case: the kernel agent's four connects go one after another,
# and on a veth each handshake is over within its connect() call.)
OVERFLOW_CASE = ScenarioSpec(clients=7, replay_starts=[0.0, 0.001, 0.002, 0.1, 0.1, 0.1, 0.1],
                             backlog=4, accept_start=100.0, duration=4.5, delay=0.00003)


def test_the_simulation_counts_synacks_resent_to_clients_never_accepted() -> None:
    res = run_scenario(OVERFLOW_CASE)
    assert [c.synack_retrans for c in res.clients] == [0, 0, 0, 0, 0, 2, 2]
    assert [c.syn_retrans for c in res.clients] == [0] * 7
    assert all(c.accepted is None for c in res.clients)
    assert res.server_drops == {"TCP_LISTEN_OVERFLOW": 6}
    assert res.client_drops == {"TCP_INVALID_SYN": 4}


# Seven clients 1 ms apart, nobody accepting a listen(4): five fill the accept queue, the SYNs
# of the last two meet it full (tcp_conn_request: ListenOverflows, ListenDrops; the SYN is
# consumed, no drop reason) and are resent 1 s apart (tcp_syn_linear_timeouts 4): four times
# each by 4.5 s, when they are still connecting.
FULL_QUEUE_CASE = ScenarioSpec(clients=7, replay_starts=[k * 0.001 for k in range(7)],
                               backlog=4, accept_start=100.0, duration=4.5, delay=0.00003)


def test_the_simulation_counts_the_syns_of_clients_still_connecting() -> None:
    res = run_scenario(FULL_QUEUE_CASE)
    assert [c.syn_retrans for c in res.clients] == [0, 0, 0, 0, 0, 4, 4]
    assert [c.established is None for c in res.clients] == [False] * 5 + [True] * 2
    assert res.server_counters["TcpExt.ListenOverflows"] == 10


@pytest.mark.root
def _timer_start(ts: float, pid: int, flags: str, jiffies: int) -> str:
    """A timer:timer_start line as this kernel prints it (6.18, tcp_write_timer)."""
    return (f"{'python3':>16}-{pid:<7d} [001] {flags} {ts:.6f}: timer_start: "
            f"timer=000000007653be5e function=tcp_write_timer expires={jiffies + 250} "
            f"[timeout=250] bucket_expiry={jiffies + 256} cpu=1 idx=102 flags=")


def _veth_line(ts: float, event: str, dev: str, skb: str, length: int, cpu: int = 1,
               task: str = "<idle>-0", flags: str = "b.s2.") -> str:
    """A net:net_dev_queue or net:netif_receive_skb line as this kernel prints it (6.18; the
    skb's address hashed, the same at both ends of a veth)."""
    return (f"{task:>24} [{cpu:03d}] {flags} {ts:.6f}: {event}: dev={dev} "
            f"skbaddr={skb} len={length}")


def _queued(ts: float, dev: str, skb: str, length: int, pid: int = 0) -> str:
    """A packet queued on `dev` in process `pid`, else (0) in a softirq."""
    if pid:
        return _veth_line(ts, "net_dev_queue", dev, skb, length, task=f"python3-{pid}",
                          flags="b....")
    return _veth_line(ts, "net_dev_queue", dev, skb, length, flags="b.s2.")


def test_each_connect_gets_the_instant_its_syn_went_out() -> None:
    # Two connects of the client agent (pid 77): SYN_SENT in the process (its port not chosen
    # yet: 0), then, in the same process, the first tcp_write_timer armed is the SYN's
    # (tcp_connect, once the SYN is out). A timer armed in a softirq meanwhile (another
    # socket's, in the interrupted process's name) and one of another process are not; nor is
    # what a process arms long after a connect() that failed (a FIN's timer in a close()).
    kt = KernelTrace(T0, T0 + 10.0, CLIENT_ADDR, PORT)
    run = TracedRun()
    syn_sent = [format_trace_line(t.inet_sock_set_state(T0 + at, 1, 7, 2, 0, PORT, CLI, SRV),
                                  task="python3", pid=77) for at in (0.1, 0.2, 0.3)]
    for line in (syn_sent[0],
                 _timer_start(T0 + 0.10002, 77, "d.s1.", 5000),  # softirq: not the SYN's
                 _timer_start(T0 + 0.10003, 78, "d..1.", 5000),  # another process
                 _timer_start(T0 + 0.10005, 77, "d..1.", 5000),  # the SYN's
                 _timer_start(T0 + 0.15, 77, "d..1.", 5012),  # a close()'s FIN: no connect
                 syn_sent[1],
                 # its SYN queued on the client's end of the veth, in the process; a resend
                 # queued there in a softirq meanwhile is not its
                 _queued(T0 + 0.20001, "v1", "00000000c0ffee03", 74),
                 _queued(T0 + 0.20002, "v1", "00000000c0ffee04", 74, pid=77),
                 _queued(T0 + 0.20003, "v1", "00000000c0ffee05", 66, pid=77),
                 _timer_start(T0 + 0.20009, 77, "d..1.", 5025),
                 syn_sent[2],  # failed after SYN_SENT: arms nothing
                 _timer_start(T0 + 0.5, 77, "d..1.", 5100)):
        kt.take(run, line)
    assert run.connects == pytest.approx([T0 + 0.1, T0 + 0.2, T0 + 0.3])
    assert run.syn_out == {0: (pytest.approx(T0 + 0.10005), 5000),
                           1: (pytest.approx(T0 + 0.20009), 5025)}
    assert run.syn_queued == {1: pytest.approx(T0 + 0.20002)}
    # the agent connects its clients in index order: the n-th connect is client n; its SYN
    # went out when it was queued, or (not traced) when its timer was armed
    clients = [ClientResult(i, 0.1 * (i + 1) - 0.00003) for i in range(3)]
    apply_trace(clients, run, T0)
    assert [_tr(c).syn_out_at for c in clients] == pytest.approx([0.10005, 0.20002, None])
    # the replay starts each client when its SYN went out, else at the agent's instant
    from tuxtcp.simulate.kernel import replay_starts
    assert replay_starts(clients) == pytest.approx([0.10005, 0.20002, 0.29997])
    # a connect missing from the trace (a full ring buffer): no client gets an instant
    short = TracedRun(connects=run.connects[:2], syn_out=dict(run.syn_out))
    apply_trace(clients, short, T0)
    assert [_tr(c).syn_out_at for c in clients] == [None, None, None]


def _accept4(ts: float, pid: int, ret: int | None = None, cpu: int = 1) -> str:
    body = ("sys_accept4(fd: 0x00000003, upeer_sockaddr: 0x7ffed6dc69c0, upeer_addrlen: "
            "0x7ffed6dc69b4, flags: 0x00080000)" if ret is None else f"sys_accept4 -> {ret:#x}")
    return f"         python3-{pid}    [{cpu:03d}] ..... {ts:.6f}: {body}"


def test_a_connects_syn_queued_on_the_relays_client_device_is_its_instant() -> None:
    # over the relay as over the veth: the first packet a connect() queues in its process on
    # the client's device (tuxc...) is its SYN, microseconds before the SYN's timer is armed;
    # one queued there in a softirq, or on the server's device, is not
    kt = KernelTrace(T0, T0 + 10.0, CLIENT_ADDR, PORT)
    run = TracedRun()
    for line in (format_trace_line(t.inet_sock_set_state(T0 + 0.1, 1, 7, 2, 0, PORT, CLI, SRV),
                                   task="python3", pid=77),
                 _queued(T0 + 0.100004, "tuxc1234", "00000000c0ffee01", 60),
                 _queued(T0 + 0.100005, "tuxs1234", "00000000c0ffee02", 60, pid=77),
                 _queued(T0 + 0.100008, "tuxc1234", "00000000c0ffee03", 60, pid=77),
                 _timer_start(T0 + 0.10002, 77, "d..1.", 5000)):
        kt.take(run, line)
    assert run.syn_queued == {0: pytest.approx(T0 + 0.100008)}
    assert run.syn_out == {0: (pytest.approx(T0 + 0.10002), 5000)}
    assert [len(q) for q in run.dev_queue.values()] == [2, 1]  # (the relay's lags read all)


def test_each_close_gets_the_instant_it_armed_its_fins_timer() -> None:
    # The client agent (pid 77) closes port 40000 after the server's FIN (LAST_ACK): the
    # first tcp_write_timer it arms next in the process is its FIN's, 40 us on, past a tick
    # (its jiffies). A timer armed in a softirq meanwhile, or by another process, is not; a
    # close whose next arming comes 2 ms later has none; a connect() after a close arms its
    # SYN's timer, not a FIN's.
    kt = KernelTrace(T0, T0 + 10.0, CLIENT_ADDR, PORT)
    run = TracedRun()

    def state(at: float, port: int, old: int, new: int) -> str:
        return format_trace_line(t.inet_sock_set_state(T0 + at, 1, old, new, port, PORT,
                                                       CLI, SRV), task="python3", pid=77)

    for line in (state(0.1, 40000, CLOSE_WAIT, LAST_ACK),
                 _timer_start(T0 + 0.10001, 77, "d.s1.", 5000),  # softirq: not the FIN's
                 _timer_start(T0 + 0.10002, 78, "d..1.", 5000),  # another process
                 _timer_start(T0 + 0.10004, 77, "d..1.", 5001),  # the FIN's
                 state(0.2, 40002, CLOSE_WAIT, LAST_ACK),
                 _timer_start(T0 + 0.202, 77, "d..1.", 5026),  # 2 ms on: not the FIN's
                 state(0.3, 40004, CLOSE_WAIT, LAST_ACK),
                 format_trace_line(t.inet_sock_set_state(T0 + 0.30002, 1, 7, 2, 0, PORT,
                                                         CLI, SRV), task="python3", pid=77),
                 _timer_start(T0 + 0.30005, 77, "d..1.", 5050)):  # the connect()'s SYN's
        kt.take(run, line)
    assert run.fin_timers == [(pytest.approx(T0 + 0.10004), 40000)]
    assert [port for _, port in run.client_closes] == [40000, 40002, 40004]
    assert run.syn_out == {0: (pytest.approx(T0 + 0.30005), 5050)}


def test_each_accept_gets_the_instant_the_kernel_saw_the_call() -> None:
    # The server agent (pid 90) reads its clock, then calls accept(): the kernel's entry
    # into each accept4() that returned a connection replaces the reading (a preempted
    # agent read it 20 ms early here). A call that found the queue empty returned -EAGAIN,
    # which the kernel's filter (ret >= 0) leaves out: its entry is forgotten at the next.
    # Another process's accepts are not the agent's.
    kt = KernelTrace(T0, T0 + 10.0, CLIENT_ADDR, PORT)
    run = TracedRun()
    for line in (_accept4(T0 + 1.00012, 90), _accept4(T0 + 1.00020, 90, 5),
                 _accept4(T0 + 1.5, 91, cpu=0), _accept4(T0 + 1.50001, 91, 7, cpu=0),
                 _accept4(T0 + 2.0, 90),  # -EAGAIN: no exit line passes the filter
                 _accept4(T0 + 2.02011, 90), _accept4(T0 + 2.0202, 90, 6),
                 _accept4(T0 + 12.0, 90), _accept4(T0 + 12.0001, 90, 8)):  # after the run
        kt.take(run, line)
    assert run.accepts == {90: [(pytest.approx(T0 + 1.00012), pytest.approx(T0 + 1.0002), 1,
                                 None),
                                (pytest.approx(T0 + 2.02011), pytest.approx(T0 + 2.0202), 1,
                                 None)],
                           91: [(pytest.approx(T0 + 1.5), pytest.approx(T0 + 1.50001), 0, None)]}
    from tuxtcp.simulate.kernel import traced_accepts
    server = {"pid": 90, "accepted": [[1.0, 40001, 0], [2.0001, 40002, 1]]}
    assert traced_accepts(server, run.accepts, T0)
    assert server["accepted"] == [[pytest.approx(1.00012), 40001, 0],
                                  [pytest.approx(2.02011), 40002, 1]]
    # one missing from the trace, or one that cannot be the agent's: the readings stay
    for pid, accepted in ((90, [[1.0, 40001, 0]]), (91, [[1.9, 40001, 0]])):
        server = {"pid": pid, "accepted": accepted}
        assert not traced_accepts(server, run.accepts, T0)
        assert server["accepted"][0][0] in (1.0, 1.9)


def test_an_accept_a_ticks_softirq_interrupted_takes_its_connection_on_return() -> None:
    # A tick's timer softirq resent a SYN-ACK on CPU 1 (the agents' CPU) 40 us into the
    # server agent's second accept4() (entered at 2.02011 s, returned at 2.0202 s): the
    # interrupt came inside the call, which took its connection off the queue after the
    # softirq and the packets it set off, so the replay's accept is the call's return. The
    # first accept had none inside; a resend on CPU 0 during it ran beside it, and the
    # trace's own CPU column says which.
    kt = KernelTrace(T0, T0 + 10.0, CLIENT_ADDR, PORT)
    run = TracedRun()
    resends = [t.tcp_retransmit_synack(T0 + 1.00015, 0, 0, PORT, 40009, SRV, CLI),
               t.tcp_retransmit_synack(T0 + 2.02015, 0, 0, PORT, 40010, SRV, CLI)]
    for line in (_accept4(T0 + 1.00012, 90), format_trace_line(resends[0], cpu=0),
                 _accept4(T0 + 1.0002, 90, 5),
                 _accept4(T0 + 2.02011, 90), format_trace_line(resends[1], cpu=1),
                 _accept4(T0 + 2.0202, 90, 6)):
        kt.take(run, line)
    assert run.resent_on == [(pytest.approx(T0 + 1.00015), 0), (pytest.approx(T0 + 2.02015), 1)]
    from tuxtcp.simulate.kernel import traced_accepts
    server = {"pid": 90, "accepted": [[1.0, 40001, 0], [2.0001, 40002, 1]]}
    assert traced_accepts(server, run.accepts, T0, run.resent_on)
    assert server["accepted"] == [[pytest.approx(1.00012), 40001, 0],
                                  [pytest.approx(2.0202), 40002, 1]]


def _kmem(ts: float, pid: int, flags: str = ".....", cpu: int = 1, op: str = "free") -> str:
    what = ("call_site=inet_csk_accept+0x304/0x3b0 ptr=000000009113140d name=request_sock_TCP"
            if op == "free" else
            "call_site=alloc_empty_file+0x5b/0x110 ptr=00000000a1b2c3d4 bytes_req=256 "
            "bytes_alloc=256 gfp_flags=GFP_KERNEL|__GFP_ZERO node=-1 accounted=true name=filp")
    return f"         python3-{pid}    [{cpu:03d}] {flags} {ts:.6f}: kmem_cache_{op}: {what}"


def _us(x: float) -> Any:
    """An instant to the microsecond (pytest.approx's relative default is a millisecond at
    T0)."""
    return pytest.approx(x, abs=5e-7)


def test_an_accept_takes_its_connection_when_the_call_freed_its_request() -> None:
    # Each accept4() of the server agent (pid 90) allocates the new socket's file
    # (do_accept: sock_alloc_file), takes the connection off the queue a microsecond later,
    # and frees its request after release_sock (inet_csk_accept: reqsk_put): the replay's
    # accept is the free, wherever a tick's softirq came, but where the softirq ran as
    # release_sock enabled bottom halves (its last packet event within 2 us of the free) it
    # came after the dequeue, which is the file's instant (else the entry's).
    # - 1 s: file at 4 us, free at 6 us.
    # - 2 s: free at 20 us, a softirq resending a SYN-ACK at 48 us, after it.
    # - 3 s: a softirq at 30-40 us (a resent SYN, taken in inline), then the file and the
    #   free at 55-60 us: the call still had its work to do, the softirq came before.
    # - 4 s: file at 10 us, a softirq at 33-148 us, free at 150 us: the file.
    # - 5 s: the same without a file event: the entry.
    # - 6 s: a softirq at 5-8 us, before the file at 12 us, and another at 40-148 us, in
    #   release_sock: the file still (the first softirq does not move it to the entry).
    # - 7 s: a tick's softirq resends a SYN-ACK at 5 us, the file at 12 us, then a NET_RX
    #   softirq takes packets in at 13-30 us, 1 us before the free at 31 us: left pending
    #   by the first, it ran in lock_sock, before the dequeue: the free.
    # A request freed or a file allocated inside the softirq ("s"), by another process, or
    # by this one outside a call, is not the call's; nor is another process's softirq.
    kt = KernelTrace(T0, T0 + 10.0, CLIENT_ADDR, PORT)
    run = TracedRun()

    def resend(at: float, port: int, pid: int = 90) -> str:
        return format_trace_line(t.tcp_retransmit_synack(at, 0, 0, PORT, port, SRV, CLI),
                                 task="python3", pid=pid, cpu=1, flags="..s2.")

    def rx(at: float, pid: int = 90) -> str:
        return _veth_line(at, "netif_receive_skb", "v0", "00000000c0ffee07", 60,
                          task=f"python3-{pid}", flags="..s2.")
    lines = [_kmem(T0 + 0.9, 90), _accept4(T0 + 1.0, 90), _kmem(T0 + 1.000004, 90, op="alloc"),
             _kmem(T0 + 1.000006, 90), _kmem(T0 + 1.000007, 91), _accept4(T0 + 1.00001, 90, 5),
             _accept4(T0 + 2.0, 90), _kmem(T0 + 2.000018, 90, op="alloc"),
             _kmem(T0 + 2.00002, 90), resend(T0 + 2.000048, 40009),
             _accept4(T0 + 2.00015, 90, 6),
             _accept4(T0 + 3.0, 90), resend(T0 + 3.00003, 40010), rx(T0 + 3.00004),
             _kmem(T0 + 3.000041, 90, flags="..s2.", op="alloc"),
             _kmem(T0 + 3.000042, 90, flags="..s2."), _kmem(T0 + 3.000055, 90, op="alloc"),
             _kmem(T0 + 3.00006, 90), _accept4(T0 + 3.00007, 90, 7)]
    for sec, filed in ((4, True), (5, False)):
        lines += [_accept4(T0 + sec, 90),
                  *([_kmem(T0 + sec + 0.00001, 90, op="alloc")] if filed else []),
                  resend(T0 + sec + 0.000033, 40011), rx(T0 + sec + 0.00006),
                  rx(T0 + sec + 0.000080, pid=91), rx(T0 + sec + 0.000148),
                  _kmem(T0 + sec + 0.00015, 90), _accept4(T0 + sec + 0.000152, 90, 8)]
    lines += [_accept4(T0 + 6, 90), resend(T0 + 6.000005, 40012), rx(T0 + 6.000008),
              _kmem(T0 + 6.000012, 90, op="alloc"), resend(T0 + 6.00004, 40013),
              rx(T0 + 6.000148), _kmem(T0 + 6.00015, 90), _accept4(T0 + 6.000152, 90, 9)]
    lines += [_accept4(T0 + 7, 90), resend(T0 + 7.000005, 40014),
              _kmem(T0 + 7.000012, 90, op="alloc"), rx(T0 + 7.000013), rx(T0 + 7.00003),
              _kmem(T0 + 7.000031, 90), _accept4(T0 + 7.000033, 90, 10)]
    for line in lines:
        kt.take(run, line)
    assert [a[3] for a in run.accepts[90]] == [
        _us(T0 + 1.000006), _us(T0 + 2.00002), _us(T0 + 3.00006),
        _us(T0 + 4.00001), _us(T0 + 5.0), _us(T0 + 6.000012), _us(T0 + 7.000031)]
    from tuxtcp.simulate.kernel import traced_accepts

    def accepted() -> dict[str, Any]:
        return {"pid": 90, "accepted": [[float(k), 40000 + k, 0] for k in range(1, 8)]}
    server = accepted()
    assert traced_accepts(server, run.accepts, T0, run.resent_on)
    assert [a[0] for a in server["accepted"]] == [
        _us(1.000006), _us(2.00002), _us(3.00006),
        _us(4.00001), _us(5.0), _us(6.000012), _us(7.000031)]
    # without the dequeues (an older trace): the entry, or the return where a tick's softirq
    # came inside
    bare = {90: [(e, r, c, None) for e, r, c, _ in run.accepts[90]]}
    server = accepted()
    assert traced_accepts(server, bare, T0, run.resent_on)
    assert [a[0] for a in server["accepted"]] == [
        _us(1.0), _us(2.00015), _us(3.00007),
        _us(4.000152), _us(5.000152), _us(6.000152), _us(7.000033)]


def test_the_jiffies_phase_follows_the_kernels_own_jiffies() -> None:
    # /proc/timer_list gave an uptime0 one jiffy ahead of the kernel's (a tick between the
    # clock and the jiffies it prints): the SYN timers' jiffies move it back by one jiffy
    from tuxtcp.net.clock import Clock

    good = Clock(1000.0021, 0)
    run = TracedRun(syn_out={k: (T0 + 0.0137 * k, good.jiffies(0.0137 * k))
                             for k in range(50)})
    # one armed within microseconds after a tick, still reading the jiffy before
    run.syn_out[50] = (T0 + 0.0019 + 1e-6, good.jiffies(0.0019 + 1e-6) - 1)
    assert traced_uptime0(1000.0021 + 0.004, run, T0) == pytest.approx(1000.0021)
    assert traced_uptime0(1000.0021, run, T0) == pytest.approx(1000.0021)
    assert traced_uptime0(1000.0021, TracedRun(), T0) == pytest.approx(1000.0021)


def test_the_kernel_agrees_client_by_client_from_its_own_trace(netns_ok: None) -> None:
    from tuxtcp.host.tracefs import available
    from tuxtcp.simulate.kernel import (
        KernelRunError,
        client_differences,
        replay_spec,
        run_on_kernel,
    )

    if available() is not None:
        pytest.fail(f"tracefs: {available()}")
    # A kernel run this shared 2-CPU machine disturbed (an agent's connect more than 5 ms
    # late: the harness refuses it) or whose replay differs is measured again, three runs in
    # all, as the full-size replays are: on a noisy day (2026-12-03) one run in three was
    # refused and a CI run's replay had 6 of 7 clients after a slow kernel run; the replay
    # itself is deterministic, what moves is the kernel's timing of the run it follows.
    for attempt in range(3):
        try:
            kres = run_on_kernel(FULL_QUEUE_CASE)
        except KernelRunError as exc:
            if not exc.disturbed or attempt == 2:
                raise
            continue
        replayed = run_scenario(replay_spec(FULL_QUEUE_CASE, kres))
        if client_differences(replayed.clients, kres.clients)[0] == 7:
            break
    sres = run_scenario(FULL_QUEUE_CASE)
    assert [c.syn_retrans for c in kres.clients] == [0, 0, 0, 0, 0, 4, 4]
    assert [c.synack_retrans for c in kres.clients] == [0] * 7
    assert kres.server_counters["TcpExt.ListenOverflows"] == 10
    assert kres.traced_drops == {}
    # the established instants are the kernel's: a veth round trip, well under a jiffy
    assert all(c.latency is not None and c.latency < 0.004 for c in kres.clients[:5])
    # each client's SYN went out after the agent read its clock, and before the first five
    # were established
    assert all(c.start < _tr(c).syn_out_at < c.start + 0.005
               for c in kres.clients), [(c.start, _tr(c).syn_out_at) for c in kres.clients]
    assert all(_tr(c).syn_out_at <= c.established
               for c in kres.clients[:5])
    agree, diffs = client_differences(sres.clients, kres.clients)
    assert agree == 7, diffs
    # the SYNs the last two resent, as the kernel sent them: 1 s apart (on the wheel's 32 ms
    # buckets), in the same bucket for both clients or the next one (started 1 ms apart, they
    # straddle a bucket's edge now and then) and now and then a jiffy late (each CPU expires
    # its own timer base); the replay of the run agrees too
    resent = [_tr(c).syn_resent_at for c in kres.clients]
    assert [len(r) for r in resent] == [0] * 5 + [4, 4]
    for r, c in zip(resent[5:], kres.clients[5:], strict=True):
        gaps = [b - a for a, b in zip([c.start, *r], r, strict=False)]
        assert all(0.99 < g < 1.04 for g in gaps), gaps
    assert all(abs(a - b) < 0.001 + 9 / 250 for a, b in zip(*resent[5:], strict=True)), resent
    assert client_differences(replayed.clients, kres.clients)[0] == 7


def _resent_order(spec: ScenarioSpec) -> list[tuple[float, int]]:
    """(virtual instant, client index) of each SYN the clients resent, in sending order."""
    import dataclasses

    from tuxtcp.sim.scenario import ScenarioRun

    run = ScenarioRun(dataclasses.replace(spec))
    port_of: dict[int, int] = {}
    seen: list[tuple[float, int]] = []

    def on_rtx(ev: t.TraceEvent) -> None:
        if not port_of:
            port_of.update({c.port: c.index for c in run.results})
        seen.append((round(run.world.clock, 6), port_of[int(ev.fields["sport"])]))

    run.client.trace(on_rtx, ("tcp_retransmit_skb",))
    run.run()
    return seen


def test_a_replay_resends_one_ticks_syns_in_the_kernels_order() -> None:
    """Clients 5 and 6 of FULL_QUEUE_CASE arm their SYN timers 1 ms apart and the wheel puts
    both on one tick: the engine fires the last armed first (client 6), as one CPU's timer
    base does. A kernel run whose other CPU expired client 5's timer first is replayed in its
    order, on the same ticks; where the kernel recorded nothing the engine's order stays."""
    import dataclasses

    own = _resent_order(FULL_QUEUE_CASE)
    assert [i for _, i in own[:2]] == [6, 5] and own[0][0] == own[1][0]
    ticks = sorted({at for at, _ in own})
    assert len(ticks) == 4  # the four retransmissions, each pair on one tick
    # the kernel sent client 5's SYNs 10 us before client 6's every time
    resent: list[tuple[list[float], list[float]]] = [([], []) for _ in range(7)]
    resent[5] = (list(ticks), [])
    resent[6] = ([at + 0.00001 for at in ticks], [])
    replayed = _resent_order(dataclasses.replace(FULL_QUEUE_CASE, replay_resent=resent))
    assert [i for _, i in replayed] == [5, 6] * 4
    assert [at for at, _ in replayed] == [at for at, _ in own]  # the ticks are the engine's
    # only client 6 recorded: nothing to order it against, the engine's order stays
    resent[5] = ([], [])
    assert _resent_order(dataclasses.replace(FULL_QUEUE_CASE, replay_resent=resent)) == own


def test_a_replayed_client_closes_as_long_after_the_fin_as_the_kernels_did() -> None:
    """One client, served for 10 ms; the kernel's client closed 3 ms after the server's FIN
    reached it. The replay sends the client's FIN 3 ms after the server's FIN arrived, and the
    client's delayed ACK, due on the next tick before that, goes out on its own first."""
    import dataclasses

    from tuxtcp.sim.scenario import ScenarioRun

    spec = ScenarioSpec(clients=1, replay_starts=[0.0], replay_accepts=[(0.001, 0.011)],
                        replay_close_after=[0.003], duration=0.1, delay=0.00003,
                        uptime0=1000.0005)
    for after, own_ack in ((0.003, True), (None, False)):
        run = ScenarioRun(dataclasses.replace(spec, replay_close_after=[after]))
        run.world.trace = []
        run.run()
        cli = [(round(at, 6), p.seg.flags) for at, src, p in run.world.trace if src == "cli"]
        fin = next(at for at, src, p in run.world.trace if src == "srv" and p.seg.flags & 1)
        arrived = round(fin + 0.00003, 6)
        closes = [at for at, fl in cli if fl & 1]
        assert closes == [round(arrived + (after or 0.0), 6)]
        acks = [at for at, fl in cli if at > fin and fl == 0x10 and at < closes[0]]
        assert bool(acks) == own_ack  # a tick (11.5 ms) falls inside the 3 ms


def test_a_replayed_fins_delayed_ack_fires_a_tick_late_where_the_kernels_did() -> None:
    """The same client, closing 3 ms after the server's FIN: its delayed ACK is due on the
    tick at 11.5 ms. Where the kernel's fired on that tick (40 us into it) the replay sends
    it alone before the FIN, as above; where the kernel's fired a tick late (15.5 ms, after
    the close at 14.03 ms) the replay's fires then too, and the client's FIN carries the
    ACK (seen on lossy-link: 2 of 8 such timers a tick late; the server then frees the
    client's FIN as QUEUE_PURGE, not NOT_SPECIFIED)."""
    import dataclasses

    from tuxtcp.sim.scenario import ScenarioRun

    spec = ScenarioSpec(clients=1, replay_starts=[0.0], replay_accepts=[(0.001, 0.011)],
                        replay_close_after=[0.003], duration=0.1, delay=0.00003,
                        uptime0=1000.0005, replay_resent=[([], [])])
    for fired, own_ack in ((None, True), (0.01154, True), (0.01554, False)):
        run = ScenarioRun(dataclasses.replace(spec, replay_fin_ack=[fired]))
        run.world.trace = []
        run.run()
        cli = [(round(at, 6), p.seg.flags) for at, src, p in run.world.trace if src == "cli"]
        fin = next(at for at, src, p in run.world.trace if src == "srv" and p.seg.flags & 1)
        close = next(at for at, fl in cli if fl & 1)
        assert close == pytest.approx(fin + 0.00003 + 0.003)
        acks = [at for at, fl in cli if at > fin and fl == 0x10 and at < close]
        assert bool(acks) == own_ack, (fired, cli)
        assert not own_ack or acks == [pytest.approx(0.0115)]


def test_a_replayed_fins_delayed_ack_the_kernel_never_sent_alone_rides_on_the_fin() -> None:
    """The same client, closing 3 ms after the server's FIN (at 14.03 ms): its delayed ACK is
    due on the tick at 11.5 ms. Where the kernel's client closed without that ACK going out
    alone (its timer softirq had not run that tick's bucket yet, or ran inside the close(),
    which held the socket: seen on slow-accept, 0-12 clients a run) the replay holds the
    timer past the close: the client sends no pure ACK, its FIN (14.03 ms) carries the ACK,
    and the server, still a full FIN_WAIT1 socket, frees that FIN with the socket
    (QUEUE_PURGE). Where the kernel's went out alone, the replay's does too (11.5 ms), the
    server becomes a timewait sock and frees the FIN as NOT_SPECIFIED; unless the kernel's
    server close() still held its socket when that ACK came and took it as release_sock
    gave the socket up (`replay_ack_in_release`): tcp_rcv_state_process's
    sock_owned_by_user keeps a full FIN_WAIT2 socket, which frees the FIN as QUEUE_PURGE
    (0-2 clients a slow-accept run)."""
    import dataclasses

    from tuxtcp.sim.scenario import ScenarioRun

    spec = ScenarioSpec(clients=1, replay_starts=[0.0], replay_accepts=[(0.001, 0.011)],
                        replay_close_after=[0.003], duration=0.1, delay=0.00003,
                        uptime0=1000.0005, replay_resent=[([], [])])
    for held, alone, in_release, freed in ((True, [], False, "QUEUE_PURGE"),
                                           (False, [0.0115], False, "NOT_SPECIFIED"),
                                           (False, [0.0115], True, "QUEUE_PURGE")):
        run = ScenarioRun(dataclasses.replace(spec, replay_fin_ack_held=[held],
                                              replay_ack_in_release=[in_release]))
        run.world.trace = []
        drops: list[str] = []
        run.server.trace(lambda e, into=drops: into.append(str(e.fields["reason"])),
                         ("kfree_skb",))
        closed: list[float] = []  # when the server's full socket went (CLOSE)
        run.server.trace(lambda e, into=closed: into.append(round(e.ts - 1000.0005, 6))
                         if e.fields["newstate"] == CLOSE and e.fields["sport"] == 8080
                         else None, ("inet_sock_set_state",))
        run.run()
        cli = [(round(at, 6), p.seg.flags) for at, src, p in run.world.trace if src == "cli"]
        fin = next(at for at, src, p in run.world.trace if src == "srv" and p.seg.flags & 1)
        assert fin == pytest.approx(0.011)
        close = next(at for at, fl in cli if fl & 1)
        assert close == pytest.approx(0.011 + 0.00003 + 0.003)
        assert [at for at, fl in cli if fin < at < close and fl == 0x10] == \
            [pytest.approx(a) for a in alone], (held, cli)
        assert drops == [freed]
        # the lone ACK made a timewait sock at once (tcp_time_wait), or the full socket
        # lasted until the FIN
        gone = alone[0] + 0.00003 if alone and not in_release else close + 0.00003
        assert closed == [pytest.approx(gone)], (held, in_release, closed)


def _delack(ts: float, cpu: int, timer: str, expire: bool = False) -> str:
    """A tcp_delack_timer armed (due on the next tick: timeout 0) or firing, in softirq on
    `cpu` as the client agent (pid 77) was interrupted."""
    head = f"{'python3':>16}-{77:<7d} [00{cpu}] d.s3. {ts:.6f}: "
    if expire:
        return (head + f"timer_expire_entry: timer={timer} function=tcp_delack_timer "
                f"now=5001 baseclk=5001")
    return (head + f"timer_start: timer={timer} function=tcp_delack_timer "
            f"expires=5000 [timeout=0] bucket_expiry=5001 cpu={cpu} idx=1 flags=")


def test_the_trace_follows_each_fins_delayed_ack_until_it_fires() -> None:
    # A client takes the server's FIN (CLOSE_WAIT, in softirq on CPU 1) and arms its delayed
    # ACK there at once; the timer fires 4 ms later. Another delayed ACK, armed on CPU 0 or
    # long after a FIN, is not a FIN's; a FIN's timer that never fires (the socket went
    # first) names nothing.
    kt = KernelTrace(T0, T0 + 10.0, CLIENT_ADDR, PORT)
    run = TracedRun()

    delack = _delack
    close_wait = [format_trace_line(t.inet_sock_set_state(T0 + at, 1, ESTABLISHED,
                                                          CLOSE_WAIT, port, PORT, CLI, SRV),
                                    task="python3", pid=77, cpu=1)
                  for at, port in ((1.0, 40000), (2.0, 40002))]
    for line in (close_wait[0], delack(T0 + 1.000005, 1, "aaaa"),
                 delack(T0 + 1.000007, 1, "bbbb"),  # a second one: not the FIN's
                 delack(T0 + 1.004, 1, "bbbb", expire=True),
                 delack(T0 + 1.00404, 1, "aaaa", expire=True),
                 close_wait[1], delack(T0 + 2.000005, 0, "cccc"),  # another CPU
                 delack(T0 + 2.003, 1, "dddd"),  # 3 ms after: not the FIN's
                 delack(T0 + 2.004, 0, "cccc", expire=True)):
        kt.take(run, line)
    assert run.fin_acks == [(pytest.approx(T0 + 1.00404), 40000)]
    clients = [ClientResult(0, 0.5, port=40000, established=0.6),
               ClientResult(1, 1.5, port=40002, established=1.6)]
    run.established = [(T0 + 0.6, 40000), (T0 + 1.6, 40002)]
    apply_trace(clients, run, T0)
    assert [_tr(c).fin_ack_at for c in clients] == [pytest.approx(1.00404), None]


def test_the_trace_tells_a_fins_delayed_ack_that_went_out_alone() -> None:
    # Four clients take the server's FIN on CPU 1 and arm its delayed ACK there; each timer
    # fires 4 ms later. Client 40000's softirq then queues the ACK on its end of the veth
    # (tcp_delack_timer_handler: tcp_send_ack): it went out alone, as did 40004's over the
    # relay (its TUN device). 40002's timer fired as its close() held the socket: the next
    # events on that CPU are the close's, in the process (LAST_ACK, the FIN queued), and the
    # FIN carried the ACK. After 40006's, another delayed ACK fired before a packet was
    # queued: that packet is the other's. Each replay holds a client's delayed ACK past its
    # close where the kernel's did not go out alone (kernel._fin_ack_held); one whose close
    # was not traced is left to the engine.
    from tuxtcp.simulate.kernel import _fin_ack_held

    kt = KernelTrace(T0, T0 + 10.0, CLIENT_ADDR, PORT)
    run = TracedRun()

    def delack(ts: float, timer: str, expire: bool = False) -> str:
        return _delack(ts, 1, timer, expire)

    def state(at: float, port: int, old: int, new: int, flags: str = "..s2.") -> str:
        return format_trace_line(t.inet_sock_set_state(T0 + at, 1, old, new, port, PORT, CLI,
                                                       SRV),
                                 task="python3", pid=77, cpu=1, flags=flags)
    lines = []
    for k, port in enumerate((40000, 40002, 40004, 40006)):
        at = 1.0 + k
        lines += [state(at, port, ESTABLISHED, CLOSE_WAIT), delack(T0 + at + 0.000005, f"t{k}"),
                  delack(T0 + at + 0.004, f"t{k}", expire=True)]
        if port == 40000:
            lines.append(_veth_line(T0 + at + 0.004016, "net_dev_queue", "v1", "00aa", 66))
        elif port == 40002:
            lines += [state(at + 0.004001, port, CLOSE_WAIT, LAST_ACK, flags="....."),
                      _veth_line(T0 + at + 0.004003, "net_dev_queue", "v1", "00ab", 66,
                                 flags="b....")]
        elif port == 40004:
            lines.append(_veth_line(T0 + at + 0.00403, "net_dev_queue", "tuxc7", "00ac", 66))
        else:
            lines += [delack(T0 + at + 0.004002, "other", expire=True),
                      _veth_line(T0 + at + 0.00401, "net_dev_queue", "v1", "00ad", 66)]
    for line in lines:
        kt.take(run, line)
    clients = [ClientResult(k, 0.5 + k, port=40000 + 2 * k, established=0.6 + k)
               for k in range(4)]
    run.established = [(T0 + 0.6 + k, 40000 + 2 * k) for k in range(4)]
    apply_trace(clients, run, T0)
    assert [_tr(c).fin_ack_armed for c in clients] == [
        pytest.approx(1.000005 + k, abs=1e-7) for k in range(4)]
    assert [_tr(c).fin_ack_alone for c in clients] == [True, False, True, False]
    for k, c in enumerate(clients):
        c.closed = 1.0 + k + 0.0045
    clients[3].closed = None
    assert [_fin_ack_held(c) for c in clients] == [False, True, False, False]


def test_the_trace_tells_an_ack_the_servers_close_took_as_it_gave_the_socket_up() -> None:
    # The server agent (pid 90) closes three connections. The client's ACK of the FIN comes
    # while each close() holds the socket (FIN_WAIT2 in the process: from the backlog). For
    # 40000 the same close() then closes the socket for a timewait sock 6 us on (__tcp_close's
    # own FIN_WAIT2 check came after the ACK); 40002's full socket lasts until the client's
    # FIN 300 us later, in a softirq: its ACK came as release_sock gave the socket up, after
    # that check. 40004's ACK came in a softirq, the close() over: not counted; nor is
    # 40006's, taken in another process (a relay's, writing what it relays).
    from tuxtcp.net.tcp_states import FIN_WAIT1, FIN_WAIT2

    kt = KernelTrace(T0, T0 + 10.0, CLIENT_ADDR, PORT)
    run = TracedRun()

    def state(at: float, port: int, old: int, new: int, flags: str = ".....") -> str:
        return format_trace_line(t.inet_sock_set_state(T0 + at, 1, old, new, PORT, port, SRV,
                                                       CLI),
                                 task="python3", pid=90, cpu=1, flags=flags)
    for line in (_accept4(T0 + 0.5, 90), _accept4(T0 + 0.50001, 90, 5),
                 state(1.0, 40000, ESTABLISHED, FIN_WAIT1),
                 state(1.00005, 40000, FIN_WAIT1, FIN_WAIT2),
                 state(1.000056, 40000, FIN_WAIT2, CLOSE),
                 state(2.0, 40002, ESTABLISHED, FIN_WAIT1),
                 state(2.00005, 40002, FIN_WAIT1, FIN_WAIT2),
                 state(2.00035, 40002, FIN_WAIT2, CLOSE, flags="..s2."),
                 state(3.0, 40004, ESTABLISHED, FIN_WAIT1),
                 state(3.0005, 40004, FIN_WAIT1, FIN_WAIT2, flags="..s2."),
                 state(3.0006, 40004, FIN_WAIT2, CLOSE, flags="..s2."),
                 state(4.0, 40006, ESTABLISHED, FIN_WAIT1),
                 format_trace_line(t.inet_sock_set_state(T0 + 4.0005, 1, FIN_WAIT1, FIN_WAIT2,
                                                         PORT, 40006, SRV, CLI),
                                   task="relay", pid=91, cpu=0, flags="....."),
                 state(4.0006, 40006, FIN_WAIT2, CLOSE, flags="..s2.")):
        kt.take(run, line)
    assert run.acks_in_close == 2
    assert run.acks_in_release == [(pytest.approx(T0 + 2.00005), 40002)]
    clients = [ClientResult(k, 0.5 + k, port=40000 + 2 * k, established=0.6 + k)
               for k in range(4)]
    run.established = [(T0 + 0.6 + k, 40000 + 2 * k) for k in range(4)]
    apply_trace(clients, run, T0)
    assert [_tr(c).ack_in_release for c in clients] == [False, True, False, False]


def test_a_replay_moves_a_timer_the_kernel_fired_a_tick_later() -> None:
    """On a 2-CPU machine the kernel fires about one timer in five a jiffy after the wheel's
    tick (its timer base expired remotely, or after the tick). A kernel run whose client 5
    resent each SYN 4 ms after the engine's tick (stamped 40 us into it) is replayed on those
    ticks; client 6, on time, stays where the engine put it."""
    import dataclasses

    own = _resent_order(FULL_QUEUE_CASE)
    mine = {i: [at for at, j in own if j == i] for i in (5, 6)}
    resent: list[tuple[list[float], list[float]]] = [([], []) for _ in range(7)]
    resent[5] = ([at + 0.004 + 0.00004 for at in mine[5]], [])
    resent[6] = ([at + 0.00004 for at in mine[6]], [])
    replayed = _resent_order(dataclasses.replace(FULL_QUEUE_CASE, replay_resent=resent))
    assert [at for at, j in replayed if j == 5] == [round(at + 0.004, 6) for at in mine[5]]
    assert [at for at, j in replayed if j == 6] == mine[6]


@pytest.mark.root
def test_a_kernel_run_with_other_tcp_traffic_is_refused(netns_ok: None) -> None:
    """The drops by reason are counted machine-wide (kfree_skb names no namespace): a RST on
    loopback in the middle of the run is someone else's traffic, and the run says so, as
    one line that tells to run it again."""
    import socket
    import threading
    import time

    from tuxtcp.simulate.kernel import KernelRunError, run_on_kernel

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening: a SYN to it is answered by a RST

    def other_traffic() -> None:
        time.sleep(3.0)  # the run starts 2 s after run_on_kernel is called, for 4.5 s
        with socket.socket() as s:
            s.settimeout(2.0)
            s.connect_ex(closed.getsockname())

    th = threading.Thread(target=other_traffic)
    th.start()
    try:
        with pytest.raises(KernelRunError) as e:
            run_on_kernel(FULL_QUEUE_CASE)
    finally:
        th.join()
        closed.close()
    assert e.value.disturbed and "other TCP traffic" in str(e.value)


def test_a_replayed_client_takes_its_synack_when_the_kernels_connect_did() -> None:
    """A listen(1), whose accept queue holds two children, nobody accepting: one client at
    0, then two 10 us apart at 200 us, racing for the last place. Each SYN-ACK reaches its
    client 60 us after its SYN left, so the first of the two takes the place and the other's
    ACK meets the queue full (TCP_LISTEN_OVERFLOW). Where the kernel's first one took its
    SYN-ACK only at 400 us (its connect() held the socket, lock_sock, while a tick's softirq
    ran), the replay holds that SYN-ACK until then: the other's ACK takes the place, and the
    held client's ACK leaves at 400 us into the full queue. A hold longer than HOLD_MAX_S is
    another SYN-ACK's instant and holds nothing."""
    import dataclasses

    from tuxtcp.sim.scenario import HOLD_MAX_S, ScenarioRun

    spec = ScenarioSpec(clients=3, replay_starts=[0.0, 0.0002, 0.00021], backlog=1,
                        accept_start=100.0, duration=0.01, delay=0.00003,
                        uptime0=1000.0005)
    arrives = 0.0002 + 0.00006
    for took, held in ((None, False), (0.0004, True), (arrives + 2 * HOLD_MAX_S, False)):
        run = ScenarioRun(dataclasses.replace(spec, replay_established=[None, took, None]))
        run.world.trace = []
        res = run.run()
        ports = [c.port for c in res.clients]
        lq = run.listener.sk.lq
        assert lq is not None
        assert [child.rport for child in lq.accept_queue] == [ports[0], ports[2 if held else 1]]
        assert res.server_drops == {"TCP_LISTEN_OVERFLOW": 1}
        acks = [round(at, 6) for at, src, p in run.world.trace
                if src == "cli" and p.seg.flags == 0x10 and p.seg.sport == ports[1]]
        assert acks[0] == (0.0004 if held else round(arrives, 6))
        assert res.clients[1].established == pytest.approx(acks[0])


def _client_2_resent_on_a_tick() -> tuple[ScenarioSpec, float]:
    """listen(1) (two places) filled by clients 0 and 1, an accept at 0.5 s, and client 2's
    SYN, which met the queue full, resent on a tick about a second later: the scenario and
    that tick (the instant of client 2's second SYN)."""
    from tuxtcp.sim.scenario import ScenarioRun

    base = ScenarioSpec(clients=4, replay_starts=[0.0, 0.001, 0.002, 1.5], backlog=1,
                        replay_accepts=[(0.5, 5.0)], duration=2.0, delay=0.00003,
                        uptime0=1000.0005, replay_resent=[([], [])] * 4)
    first = ScenarioRun(base)
    first.world.trace = []
    port2 = first.run().clients[2].port
    return base, [at for at, src, p in first.world.trace
                  if src == "cli" and p.seg.sport == port2 and p.seg.flags == 0x02][1]


def test_a_replayed_ticks_resends_wait_for_a_connect_the_kernel_made_first() -> None:
    """A listen(1) (two places) filled by clients 0 and 1; client 2's SYN meets it full and
    is resent on a tick T about a second later, after an accept at 0.5 s freed a place.
    Client 3 connects 20 us after T. Where the kernel run's timer softirq resent client 2's
    SYN only 40 us after T (after client 3's connect() on the same CPU), the replay resends
    it just after client 3's SYN, whose handshake then takes the place; client 2's ACK meets
    the queue full. Without that trace, the tick's resend goes first and takes it."""
    import dataclasses

    from tuxtcp.sim.scenario import USER_EPS_S, ScenarioRun

    base, tick = _client_2_resent_on_a_tick()
    starts = [0.0, 0.001, 0.002, tick + 20e-6]
    for traced, place in ((tick + 40e-6, 3), (None, 2)):
        resent = [([], []), ([], []), ([traced] if traced else [], []), ([], [])]
        run = ScenarioRun(dataclasses.replace(base, replay_starts=starts,
                                              replay_resent=resent))
        run.world.trace = []
        res = run.run()
        ports = [c.port for c in res.clients]
        syns = [round(at, 7) for at, src, p in run.world.trace
                if src == "cli" and p.seg.sport == ports[2] and p.seg.flags == 0x02]
        assert syns[1] == round(tick + 20e-6 + USER_EPS_S if traced else tick, 7)
        lq = run.listener.sk.lq
        assert lq is not None
        assert [child.rport for child in lq.accept_queue] == [ports[1], ports[place]]
        assert res.server_drops == {"TCP_LISTEN_OVERFLOW": 1}


def test_a_replayed_client_takes_a_resent_syns_synack_when_the_kernels_did() -> None:
    """As above, client 2's SYN resent on a tick T, client 3 connecting 20 us after T, with no
    trace of the softirq's own instant. The engine answers the resent SYN at once, and client
    2's handshake takes the last place. Where the kernel's client 2 took that SYN-ACK only
    200 us after T (behind the tick's packets in NET_RX's backlog), the replay holds it until
    then: client 3's handshake takes the place, and client 2's ACK leaves at T + 200 us into
    the full queue."""
    import dataclasses

    from tuxtcp.sim.scenario import ScenarioRun

    base, tick = _client_2_resent_on_a_tick()
    starts = [0.0, 0.001, 0.002, tick + 20e-6]
    for took, place in ((tick + 200e-6, 3), (None, 2)):
        run = ScenarioRun(dataclasses.replace(base, replay_starts=starts,
                                              replay_established=[None, None, took, None]))
        run.world.trace = []
        res = run.run()
        ports = [c.port for c in res.clients]
        acks = [round(at, 7) for at, src, p in run.world.trace
                if src == "cli" and p.seg.sport == ports[2] and p.seg.flags == 0x10]
        assert acks[0] == round(took if took else tick + 0.00006, 7)
        lq = run.listener.sk.lq
        assert lq is not None
        assert [child.rport for child in lq.accept_queue] == [ports[1], ports[place]]
        assert res.server_drops == {"TCP_LISTEN_OVERFLOW": 1}


def test_a_connect_that_took_its_synack_ahead_of_a_ticks_packets_is_found() -> None:
    """A tick's softirq resent client 1's SYN and client 2's SYN-ACK at 5.0 s + 10 us, after
    client 0's connect() had sent its SYN (5.0 s + 5 us) and before client 0 took the SYN-ACK
    (+ 40 us). Client 1, whose resent SYN was answered, was established at + 70 us, after
    client 0: client 0 went first, so the replay's tick resends after it. Where client 1 was
    established first (+ 30 us), the softirq's packets went first, as the replay has them
    already; with no resent SYN answered on that tick, nothing says which, and nothing
    changes. A connect with no softirq between its SYN and its SYN-ACK is none of these."""
    from tuxtcp.simulate.kernel import connects_first

    def clients(est1: float | None) -> list[ClientResult]:
        out = [ClientResult(0, 5.0, established=5.00004),
               ClientResult(1, 4.0, established=est1),
               ClientResult(2, 3.0, established=3.0001),
               ClientResult(3, 6.0, established=6.000012)]
        traces = [ClientTrace(syn_out_at=5.000005),
                  ClientTrace(syn_out_at=4.000003, syn_resent_at=[5.00001]),
                  ClientTrace(syn_out_at=3.000004, synack_resent_at=[5.000011]),
                  ClientTrace(syn_out_at=6.000003)]
        for c, tr in zip(out, traces, strict=True):
            c.traced = tr
        return out

    assert connects_first(clients(5.00007)) == [(pytest.approx(5.00001), pytest.approx(5.00004))]
    assert connects_first(clients(5.00003)) == []
    assert connects_first(clients(None)) == []


def test_a_replayed_tick_resends_after_a_connect_that_took_its_synack_first() -> None:
    """As above, client 2's SYN resent on a tick T after an accept freed the last place.
    Client 3 connects 5 us after T and, its connect() holding the socket while the tick's
    softirq ran, takes its SYN-ACK 100 us after T. The replay resends client 2's SYN just
    after client 3's connect (_user_before_softirq, the kernel's resend traced 10 us after T):
    client 2's handshake takes the place, and client 3's ACK meets the queue full. Where the
    kernel's client 3 took its SYN-ACK ahead of the packets of that softirq
    (`replay_connects_first`), the resend leaves so that it reaches the server just after
    client 3 took it, and client 3's ACK, ahead of client 2's, takes the place."""
    import dataclasses

    from tuxtcp.sim.scenario import USER_EPS_S, ScenarioRun

    base, tick = _client_2_resent_on_a_tick()
    starts = [0.0, 0.001, 0.002, tick + 5e-6]
    took = tick + 100e-6
    resent: list[tuple[list[float], list[float]]] = [([], []), ([], []), ([tick + 10e-6], []),
                                                     ([], [])]
    for first, place in ((None, 2), ([(tick + 10e-6, took)], 3)):
        run = ScenarioRun(dataclasses.replace(
            base, replay_starts=starts, replay_resent=resent,
            replay_established=[None, None, None, took], replay_connects_first=first))
        run.world.trace = []
        res = run.run()
        ports = [c.port for c in res.clients]
        syns = [round(at, 7) for at, src, p in run.world.trace
                if src == "cli" and p.seg.sport == ports[2] and p.seg.flags == 0x02]
        assert syns[1] == round(took - base.delay + USER_EPS_S if first
                                else tick + 5e-6 + USER_EPS_S, 7)
        assert res.clients[3].established == pytest.approx(took)
        lq = run.listener.sk.lq
        assert lq is not None
        assert [child.rport for child in lq.accept_queue] == [ports[1], ports[place]]
        assert res.server_drops == {"TCP_LISTEN_OVERFLOW": 1}


def test_a_replayed_syn_timer_fires_on_the_tick_the_kernels_did() -> None:
    """Client 2's SYN meets listen(1) full and its timer resends it on the tick of the timer
    wheel's bucket, about a second later (level 1: 8-jiffy buckets). Where the kernel run
    resent it 7 ticks before that bucket (its timer fired at its expiry, as a level-0 timer
    does), the replay resends it on that tick too, and 3 ticks after it (a tick's softirq
    ran inside the connect() before it armed the timer, which went to a later bucket) on
    that one; 9 ticks before is more than a bucket early, and not this timer's firing: the
    replay keeps the wheel's tick."""
    import dataclasses

    from tuxtcp.net.sysctl import HZ
    from tuxtcp.sim.scenario import ScenarioRun

    base, tick = _client_2_resent_on_a_tick()
    for early, resent_at in ((7, tick - 7 / HZ), (-3, tick + 3 / HZ), (9, tick)):
        resent: list[tuple[list[float], list[float]]] = [
            ([], []), ([], []), ([tick - early / HZ + 10e-6], []), ([], [])]
        run = ScenarioRun(dataclasses.replace(base, replay_resent=resent))
        run.world.trace = []
        res = run.run()
        port2 = res.clients[2].port
        syns = [round(at, 7) for at, src, p in run.world.trace
                if src == "cli" and p.seg.sport == port2 and p.seg.flags == 0x02]
        assert syns[1] == round(resent_at, 7)


def test_the_trace_follows_each_resend_and_handshake_ack_until_the_other_end_takes_it_in(
) -> None:
    # A tick's timer softirq on CPU 1 resends client 40000's SYN and then a SYN-ACK to
    # client 40001: each resend's tracepoint comes right after its packet was queued on the
    # sender's end of the veth (v1 the client's, v0 the server's). NET_RX takes them in
    # 1.2 ms later, in ksoftirqd. A resend traced on CPU 0, where nothing was queued just
    # before it, is not followed; nor is a packet queued in a process (a connect's SYN), nor
    # one queued on the relay's device, whose instant goes to the relay's list as before.
    kt = KernelTrace(T0, T0 + 10.0, CLIENT_ADDR, PORT)
    run = TracedRun()
    for line in (
            _veth_line(T0 + 1.000010, "net_dev_queue", "v1", "00000000b44de87d", 74),
            format_trace_line(t.tcp_retransmit_skb(T0 + 1.000014, 9, 4, 2, 40000, PORT,
                                                   CLI, SRV), task="<idle>", cpu=1, flags="..s2."),
            _veth_line(T0 + 1.000020, "net_dev_queue", "v0", "000000007d4cb88a", 74),
            format_trace_line(t.tcp_retransmit_synack(T0 + 1.000021, 1, 2, PORT, 40001, SRV,
                                                      CLI), task="<idle>", cpu=1, flags="..s2."),
            _veth_line(T0 + 1.000030, "net_dev_queue", "v1", "000000009188f805", 74, cpu=0),
            format_trace_line(t.tcp_retransmit_skb(T0 + 1.000032, 9, 4, 2, 40002, PORT,
                                                   CLI, SRV), task="<idle>", cpu=1, flags="..s2."),
            _veth_line(T0 + 1.000040, "net_dev_queue", "tuxa", "00000000aaaaaaaa", 74),
            # client 40003 established in its connect() (release_sock, in process 77) on CPU
            # 1 sends its ACK next in that process, after a tick's softirq that interrupted
            # it queued a packet there; client 40004's ESTABLISHED in a softirq on CPU 0 is
            # followed by nothing queued there, and process 77's next packet is not its
            format_trace_line(t.inet_sock_set_state(T0 + 1.000050, 4, 2, 1, 40003, PORT, CLI,
                                                    SRV), task="python3", pid=77, cpu=1),
            _veth_line(T0 + 1.000051, "net_dev_queue", "v1", "00000000deadbeef", 74),
            _veth_line(T0 + 1.000059, "net_dev_queue", "v1", "00000000c0ffee01", 66,
                       task="python3-77", flags="b...."),
            format_trace_line(t.inet_sock_set_state(T0 + 1.000060, 4, 2, 1, 40004, PORT, CLI,
                                                    SRV), task="<idle>", cpu=0, flags="..s2."),
            _veth_line(T0 + 1.000062, "net_dev_queue", "v1", "00000000c0ffee02", 66,
                       task="python3-77", flags="b...."),
            # NET_RX, in ksoftirqd, takes them in
            *(_veth_line(T0 + at, "netif_receive_skb", dev, skb, length,
                         task="ksoftirqd/1-22", flags="..s..")
              for at, dev, skb, length in ((1.001210, "v0", "00000000b44de87d", 60),
                                           (1.001220, "v1", "000000007d4cb88a", 60),
                                           (1.001230, "v0", "000000009188f805", 60),
                                           (1.001235, "v0", "00000000deadbeef", 60),
                                           (1.001240, "v0", "00000000c0ffee01", 52),
                                           (1.001250, "v0", "00000000c0ffee02", 52)))):
        kt.take(run, line)
    assert sorted((at, port, rx) for (at, port), rx in run.resent_rx.items()) == [
        (pytest.approx(T0 + 1.000014), 40000, pytest.approx(T0 + 1.00121)),
        (pytest.approx(T0 + 1.000021), 40001, pytest.approx(T0 + 1.00122))]
    assert run.dev_queue == {"tuxa": [(pytest.approx(T0 + 1.00004), 74)]}
    assert list(run.ack_rx.items()) == [((pytest.approx(T0 + 1.00005), 40003),
                                         (pytest.approx(T0 + 1.000059),
                                          pytest.approx(T0 + 1.00124)))]
    clients = [ClientResult(i, 0.1 * i, port=40000 + i) for i in range(5)]
    apply_trace(clients, run, T0)
    assert [(_tr(c).syn_resent_at, _tr(c).syn_resent_rx) for c in clients] == [
        ([pytest.approx(1.000014)], [pytest.approx(1.00121)]), ([], []),
        ([pytest.approx(1.000032)], [None]), ([], []), ([], [])]
    assert [(_tr(c).synack_resent_at, _tr(c).synack_resent_rx) for c in clients] == [
        ([], []), ([pytest.approx(1.000021)], [pytest.approx(1.00122)]), ([], []), ([], []),
        ([], [])]
    assert [c.established for c in clients][3:] == [pytest.approx(1.00005),
                                                    pytest.approx(1.00006)]
    assert [_tr(c).ack_rx for c in clients] == [
        None, None, None, (pytest.approx(1.000059), pytest.approx(1.00124)), None]


def test_a_replayed_resent_syn_reaches_the_server_when_the_kernels_did() -> None:
    """listen(1) (two places) filled by clients 0 and 1; client 2's SYN meets it full and is
    resent on a tick T about a second later. An accept() at T + 100 us takes client 0, and
    client 3 connects at T + 200 us. The kernel run's softirq resent client 2's SYN at
    T + 10 us, but NET_RX took it in only at T + 300 us (in ksoftirqd, after the agents'
    calls): there, the SYN finds the place the accept freed, and client 3's SYN, queued
    behind it in the same backlog, comes after it; client 2's handshake takes the place
    and client 3's ACK meets the queue full. Without that instant, the resent SYN meets the
    queue still full (an overflow: resent once more) and client 3 takes the place."""
    import dataclasses

    from tuxtcp.sim.scenario import ScenarioRun

    base, tick = _client_2_resent_on_a_tick()
    starts = [0.0, 0.001, 0.002, tick + 200e-6]
    resent: list[tuple[list[float], list[float]]] = [([], []), ([], []), ([tick + 10e-6], []),
                                                     ([], [])]
    cases: list[tuple[list[float | None], int]] = [([tick + 300e-6], 2), ([None], 3)]
    for rx, place in cases:
        run = ScenarioRun(dataclasses.replace(
            base, replay_starts=starts, replay_accepts=[(tick + 100e-6, 5.0)],
            replay_resent=resent,
            replay_resent_rx=[([], []), ([], []), (rx, []), ([], [])]))
        run.world.trace = []
        res = run.run()
        ports = [c.port for c in res.clients]
        synacks = [(round(at, 7), p.seg.dport) for at, src, p in run.world.trace
                   if src == "srv" and p.seg.flags == 0x12 and at > tick]
        lq = run.listener.sk.lq
        assert lq is not None
        if rx[0] is not None:
            # answered as NET_RX took the SYN in, and client 3's just behind it
            assert synacks[:2] == [(round(tick + 300e-6, 7), ports[2]),
                                   (round(tick + 300e-6, 7), ports[3])]
            assert res.clients[2].established is not None
            assert res.server_drops == {"TCP_LISTEN_OVERFLOW": 1}  # client 3's ACK
        else:
            # the resent SYN met the full queue: dropped (no reason), no answer
            assert synacks[0] == (round(tick + 200e-6 + base.delay, 7), ports[3])
            assert res.clients[2].established is None and not res.server_drops
        assert res.server_counters["TcpExt.ListenOverflows"] == 2
        assert [child.rport for child in lq.accept_queue] == [ports[1], ports[place]]


def test_a_replayed_handshakes_ack_reaches_the_server_when_the_kernels_did() -> None:
    """listen(2) (three places): clients 0 to 2 connect 1 ms apart and fill it; client 3's
    SYN 1 ms later meets it full, and an accept() at 4 ms frees a place. In the kernel run,
    NET_RX took client 2's ACK in only at 4.5 ms (left to ksoftirqd, which the agents kept
    waiting), after that accept, and client 3's SYN queued behind it: client 2's handshake
    takes a place then, and client 3's SYN, answered at once, the last one. Without that
    instant, client 3's SYN meets the queue full and is dropped (a ListenOverflows), to be
    resent a second later."""
    import dataclasses

    from tuxtcp.sim.scenario import ScenarioRun

    base = ScenarioSpec(clients=4, replay_starts=[0.0, 0.001, 0.002, 0.003], backlog=2,
                        replay_accepts=[(0.004, 5.0)], duration=0.5, delay=0.00003,
                        uptime0=1000.0005)
    for rx in (0.0045, None):
        traced = [None, None, None if rx is None else (0.00206, rx), None]
        run = ScenarioRun(dataclasses.replace(base, replay_ack_rx=traced))
        run.world.trace = []
        res = run.run()
        ports = [c.port for c in res.clients]
        lq = run.listener.sk.lq
        assert lq is not None
        acks = [round(at, 7) for at, src, p in run.world.trace
                if src == "cli" and p.seg.sport == ports[2] and p.seg.flags == 0x10]
        assert acks[0] == round(0.002 + 2 * base.delay, 7)  # it left at once either way
        if rx is not None:
            # client 3's SYN reached the server just behind the ACK, and was answered then
            synacks = [round(at, 7) for at, src, p in run.world.trace
                       if src == "srv" and p.seg.dport == ports[3] and p.seg.flags == 0x12]
            assert synacks == [round(rx, 7)]
            assert res.clients[3].established == pytest.approx(rx + base.delay, abs=1e-7)
            assert [child.rport for child in lq.accept_queue] == ports[1:]
            assert res.server_counters["TcpExt.ListenOverflows"] == 0
        else:
            assert res.clients[3].established is None and res.clients[3].syn_retrans == 0
            assert [child.rport for child in lq.accept_queue] == ports[1:3]
            assert res.server_counters["TcpExt.ListenOverflows"] == 1


def test_resends_whose_softirq_the_kernel_ran_late_in_their_jiffy_arrive_then() -> None:
    """listen(1) (two places) filled by clients 0 and 1; the SYNs of clients 2 and 3 meet it
    full, and both are resent on one tick T about a second later, after an accept() freed a
    place. The kernel run's timer softirq ran 2.98 ms into that jiffy and resent client 3's
    SYN first; NET_RX took it in at T + 3.00 ms and client 2's at T + 3.05 ms, so client 3
    took the place. The replay resends on the tick itself, 30 us from the server: each
    arrives at the kernel's instant (queued on the same jiffy, NET_RX 20-65 us after), and
    client 3 takes the place here too. (Bounded by its arrival here, as before, client 2's
    SYN, 3.02 ms late, came on time and took the place.)"""
    import dataclasses

    from tuxtcp.sim.scenario import ScenarioRun

    base = ScenarioSpec(clients=4, replay_starts=[0.0, 0.001, 0.002, 0.003], backlog=1,
                        replay_accepts=[(0.5, 5.0)], duration=2.0, delay=0.00003,
                        uptime0=1000.0005, replay_resent=[([], [])] * 4)
    first = ScenarioRun(base)
    first.world.trace = []
    ports = [c.port for c in first.run().clients]
    resent = [[at for at, src, p in first.world.trace
               if src == "cli" and p.seg.sport == ports[i] and p.seg.flags == 0x02][1]
              for i in (2, 3)]
    assert resent[0] == resent[1]  # one tick
    tick = resent[0]
    run = ScenarioRun(dataclasses.replace(
        base, replay_resent=[([], []), ([], []), ([tick + 2.985e-3], []),
                             ([tick + 2.98e-3], [])],
        replay_resent_rx=[([], []), ([], []), ([tick + 3.05e-3], []), ([tick + 3.0e-3], [])]))
    run.world.trace = []
    res = run.run()
    synacks = [(round(at, 7), p.seg.dport) for at, src, p in run.world.trace
               if src == "srv" and p.seg.flags == 0x12 and at > tick]
    assert synacks[0] == (round(tick + 3.0e-3, 7), ports[3])
    lq = run.listener.sk.lq
    assert lq is not None
    assert [child.rport for child in lq.accept_queue] == [ports[1], ports[3]]
    # client 2's SYN, 50 us behind, found the handshake not yet done, and its ACK the queue
    # full: an overflow besides the first SYNs'
    assert res.server_drops == {"TCP_LISTEN_OVERFLOW": 1}
    assert res.server_counters["TcpExt.ListenOverflows"] == 3


def test_a_handshakes_ack_the_kernel_took_in_sooner_than_the_link_arrives_then() -> None:
    """listen(2) (three places): clients 0 and 1 are in the queue; clients 2 and 3 connect
    10 us apart, both SYNs meet room, and client 2's ACK fills it. The kernel run's server
    took client 3's ACK in 25 us after its client queued it, before an accept() at 2.098
    ms: the queue was full, the ACK was dropped (TCP_LISTEN_OVERFLOW) and the request
    stays. The replay's link takes 30 us, which would bring it after the accept(), into
    the place the accept freed; with the kernel's instant it arrives at 2.095 ms."""
    import dataclasses

    from tuxtcp.sim.scenario import ScenarioRun

    base = ScenarioSpec(clients=4, replay_starts=[0.0, 0.001, 0.002, 0.00201], backlog=2,
                        replay_accepts=[(0.002098, 5.0)], duration=0.5, delay=0.00003,
                        uptime0=1000.0005)
    for rx in (0.002095, None):
        traced = [None, None, None, None if rx is None else (0.0020701, rx)]
        run = ScenarioRun(dataclasses.replace(base, replay_ack_rx=traced))
        res = run.run()
        ports = [c.port for c in res.clients]
        lq = run.listener.sk.lq
        assert lq is not None
        assert res.clients[3].established == pytest.approx(0.00207)
        if rx is not None:
            assert res.server_drops == {"TCP_LISTEN_OVERFLOW": 1}
            assert res.server_counters["TcpExt.ListenOverflows"] == 1
            assert [child.rport for child in lq.accept_queue] == ports[1:3]
            assert lq.qlen == 1  # client 3's request, to be answered again
        else:
            assert not res.server_drops
            assert [child.rport for child in lq.accept_queue] == ports[1:]


def test_a_replayed_packet_with_its_own_instant_is_not_held_behind_another() -> None:
    """As above, client 2's SYN resent on a tick T after an accept freed the last place.
    Client 3 connects 50 us before T and is established 10 us after it, but the tick's
    softirq interrupted its connect() before it queued its ACK: NET_RX took client 2's
    resent SYN in at T + 40 us and client 2's ACK at T + 110 us, and client 3's ACK only at
    T + 200 us. Each reaches the server at its own instant, client 2's handshake takes the
    place and client 3's ACK meets the queue full; client 2's SYN is not held back behind
    client 3's ACK, which was sent first here but queued only after the softirq there, and
    neither is client 2's SYN-ACK, sent before that."""
    import dataclasses

    from tuxtcp.sim.scenario import ScenarioRun

    base, tick = _client_2_resent_on_a_tick()
    run = ScenarioRun(dataclasses.replace(
        base, replay_starts=[0.0, 0.001, 0.002, tick - 50e-6],
        replay_resent=[([], []), ([], []), ([tick + 10e-6], []), ([], [])],
        replay_resent_rx=[([], []), ([], []), ([tick + 40e-6], []), ([], [])],
        replay_ack_rx=[None, None, (tick + 70e-6, tick + 110e-6),
                       (tick + 60e-6, tick + 200e-6)]))
    run.world.trace = []
    res = run.run()
    ports = [c.port for c in res.clients]
    synacks = [(round(at, 7), p.seg.dport) for at, src, p in run.world.trace
               if src == "srv" and p.seg.flags == 0x12 and at > tick - 1e-3]
    assert synacks[:2] == [(round(tick - 20e-6, 7), ports[3]), (round(tick + 40e-6, 7), ports[2])]
    assert res.clients[3].established == pytest.approx(tick + 10e-6)
    lq = run.listener.sk.lq
    assert lq is not None
    assert [child.rport for child in lq.accept_queue] == [ports[1], ports[2]]
    assert res.server_drops == {"TCP_LISTEN_OVERFLOW": 1}  # client 3's ACK, at T + 200 us


def test_packets_behind_a_held_one_keep_their_order() -> None:
    """NET_RX's backlog is one queue: a packet with no traced instant of its own, sent after
    the kernel queued one the replay holds back, arrives after it, and after every packet
    that waited behind it before, even where its own arrival would fall a few nanoseconds
    after the held one's (a client's ACK to a resent SYN-ACK the replay held until 6 ns
    before it: it went ahead of the ACKs sent before it, and took the last place). A packet
    with its own instant arrives then, ahead of those sent before it here if the kernel
    took it in first."""
    from tuxtcp.sim.rx_backlog import BACKLOG_EPS_S, RxBacklog

    delay = 30e-6
    backlog = RxBacklog(0.003, 0.004)
    # queued at 0 by the kernel, taken in at 1 ms
    assert backlog.arrival(0.0, delay, (0.0, 0.001)) == 0.001
    arrivals = [backlog.arrival(sent, sent + delay, None)
                for sent in (0.0002, 0.0004, 0.001 - delay + 6e-9)]
    assert arrivals == [pytest.approx(0.001 + k * BACKLOG_EPS_S, abs=1e-12) for k in (1, 2, 3)]
    # one the kernel took in at 0.8 ms, sent after them here: then, ahead of them
    assert backlog.arrival(0.0005, 0.0005 + delay, (0.0006, 0.0008)) == 0.0008
    # a packet queued (by the kernel) after the held one was sent, and once they are through:
    # after the delay
    fresh = RxBacklog(0.003, 0.004)
    assert fresh.arrival(0.0, delay, (0.0005, 0.001)) == 0.001
    assert fresh.arrival(0.0002, 0.0002 + delay, None) == 0.0002 + delay
    assert backlog.arrival(0.002, 0.002 + delay, None) == 0.002 + delay
