"""Giving up on a silent peer (issue 10: dead peers; tcp_timer.c: tcp_write_timeout,
retransmits_timed_out, tcp_clamp_rto_to_user_timeout, tcp_probe_timer, tcp_out_of_resources,
tcp_orphan_retries; tcp.c: __tcp_close's tcp_check_oom).

The limit is time, not a count: a connection is given up once tcp_retries2's model time (the
time that many backoffs take from TCP_RTO_MIN) has passed since the first retransmission
(retrans_stamp), or TCP_USER_TIMEOUT has. With a 200 ms RTO and tcp_retries2 = 3 (3.0 s) the
kernel retransmits at 0.2, 0.6, 1.4 and 3.0 s (2.8 s after the first: not yet) and gives up at
6.2 s; the root test runs the same case on the host kernel. Both run with tail loss probes off
(tcp_early_retrans=0), so that every retransmission here is an RTO: with TLP the first one
is a probe, which neither counts as a retransmission nor backs the RTO off
(tests/packetdrill/tlp-single-segment.pkt pins that on both targets)."""

from __future__ import annotations

import errno
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import states as S
from tuxtcp.host.netns import veth_pair
from tuxtcp.net.tcp_states import TcpState
from tuxtcp.wire.tcp import ACK, PSH, RST

TCP = socket.IPPROTO_TCP


def sender(data: bytes = b"", retries2: int | None = 3) -> S.Conn:
    """An established connection (active open, 200 ms RTO) with `tcp_retries2` set (None: the
    default) that has just sent `data` (if any)."""
    c = S.established_active()
    c.h.sysctl["net.ipv4.tcp_early_retrans"] = 0  # RTOs only, as the root test runs
    c.take()
    if retries2 is not None:
        c.h.sysctl["net.ipv4.tcp_retries2"] = retries2
    if data:
        c.sock.send(data)
        c.take()
    return c


def silent(c: S.Conn, to: float) -> list[tuple[float, int, int]]:
    """Advance to `to` with the peer silent: (time, flags, payload length) of what we sent."""
    return [(round(t, 6), p.seg.flags, len(p.seg.payload)) for t, p in c.advance(to)]


def etimedout(c: S.Conn) -> None:
    assert c.state == "CLOSE"
    with pytest.raises(OSError) as e:
        c.sock.recv(10)
    assert e.value.errno == errno.ETIMEDOUT


def test_retries2_is_a_time_limit_from_the_first_retransmission() -> None:
    c = sender()
    before = c.h.counters()
    c.sock.send(b"x" * 100)
    c.take()
    data = ACK | PSH
    assert silent(c, 6.19) == [(0.2, data, 100), (0.6, data, 100), (1.4, data, 100),
                               (3.0, data, 100)]
    assert c.state == "ESTABLISHED"
    assert silent(c, 6.2) == []  # given up at 6.2 s: no RST (tcp_write_err sends none)
    etimedout(c)
    after = c.h.counters()
    d = {k: after[k] - before.get(k, 0) for k in ("TcpExt.TCPTimeouts", "TcpExt.TcpTimeoutRehash",
                                                   "TcpExt.TCPAbortOnTimeout", "Tcp.RetransSegs")}
    # what the host kernel counted in the same case (the root test below checks it live)
    assert d == {"TcpExt.TCPTimeouts": 5, "TcpExt.TcpTimeoutRehash": 4,
                 "TcpExt.TCPAbortOnTimeout": 1, "Tcp.RetransSegs": 4}


def test_a_longer_rto_gives_fewer_retransmissions_in_the_same_time() -> None:
    # an RTT sample of 0.19 s: RTO 0.19 + 4 * 0.095 = 0.57 s. Retransmissions at +0.57 and
    # +1.71 s; the timeout at +3.99 s is 3.42 s after the first: given up after two (with a
    # 200 ms RTO it took four; a retransmission count would have allowed three either way)
    c = sender(b"a" * 10)
    c.h.advance(c.h.now + 0.19)
    c.send(ACK, ack=c.nxt)
    assert c.sock.sk.rto == pytest.approx(0.57)
    t0 = c.h.now
    c.sock.send(b"b" * 10)
    c.take()
    out = silent(c, t0 + 10)
    assert [round(t - t0, 6) for t, _, _ in out] == [0.57, 1.71]
    assert c.h.now >= t0 + 3.99
    etimedout(c)


def test_default_retries2_gives_up_after_the_model_time() -> None:
    # tcp_retries2 = 15 from TCP_RTO_MIN: 924.6 s. Retransmissions at 0.2 * (2**k - 1) up to
    # the 120 s cap, then every 120 s; the one at 924.6 s is 924.4 s after the first
    c = S.established_active()
    c.h.sysctl["net.ipv4.tcp_early_retrans"] = 0  # RTOs only, as the root test runs
    c.take()
    c.sock.send(b"x")
    c.take()
    times = [t for t, _, _ in silent(c, 2000)]
    assert times == [0.2, 0.6, 1.4, 3.0, 6.2, 12.6, 25.4, 51.0, 102.2, 204.6, 324.6, 444.6,
                     564.6, 684.6, 804.6, 924.6]
    assert c.sock.sk.state == TcpState.CLOSE
    etimedout(c)


def test_user_timeout_clamps_the_last_rto_and_gives_up_on_time() -> None:
    # TCP_USER_TIMEOUT 1000 ms: retransmissions at 0.2 and 0.6 s; the next RTO (0.8 s) is cut
    # to what is left of 1.0 s after the first retransmission: given up at 1.2 s
    c = S.established_active()
    c.h.sysctl["net.ipv4.tcp_early_retrans"] = 0  # RTOs only, as the root test runs
    c.take()
    c.sock.setsockopt(TCP, socket.TCP_USER_TIMEOUT, 1000)
    c.sock.send(b"x" * 100)
    c.take()
    assert silent(c, 1.19) == [(0.2, ACK | PSH, 100), (0.6, ACK | PSH, 100)]
    assert c.state == "ESTABLISHED"
    silent(c, 1.2)
    etimedout(c)


def test_user_timeout_is_inherited_by_accepted_children() -> None:
    lst = S.listen()
    lst.sock.setsockopt(TCP, socket.TCP_USER_TIMEOUT, 777)
    c = S.established_passive(listener=lst)
    assert c.sock.getsockopt(TCP, socket.TCP_USER_TIMEOUT) == 777


def test_orphan_gives_up_after_tcp_orphan_retries_model_time() -> None:
    # tcp_orphan_retries = 0 means 8 while the RTO is under TCP_RTO_MAX: 0.2 * 511 = 102.2 s
    # after the first retransmission. Data and FIN go again together until then.
    c = S.established_active()
    c.h.sysctl["net.ipv4.tcp_early_retrans"] = 0  # RTOs only, as the root test runs
    c.take()
    c.sock.send(b"x" * 10)
    c.sock.close()
    c.take()
    times = [t for t, _, _ in silent(c, 400)]
    assert times == [0.2, 0.6, 1.4, 3.0, 6.2, 12.6, 25.4, 51.0, 102.2]
    assert not c.in_table()
    assert c.h.counter("TCPAbortOnTimeout") == 1


def test_too_many_orphans_reset_at_close() -> None:
    # tcp_max_orphans = 1: the first orphan closes politely, the second is one too many
    # (tcp_check_oom in __tcp_close, after tcp_send_fin): its FIN, then a RST, TCPAbortOnMemory
    h = S.Harness()
    h.sysctl["net.ipv4.tcp_early_retrans"] = 0  # RTOs only
    h.sysctl["net.ipv4.tcp_max_orphans"] = 1
    a = S.established_active(h, dport=80)
    b = S.established_active(h, dport=81)
    for c in (a, b):
        c.sock.send(b"x" * 10)
    h.take()
    a.sock.close()
    out_a = a.take()
    assert [p.seg.flags & (RST | 0x01) for p in out_a] == [0x01]  # a FIN
    b.sock.close()
    out_b = b.take()
    assert [p.seg.flags for p in out_b] == [0x01 | ACK, RST | ACK]
    assert not b.in_table() and a.in_table()
    assert h.counter("TCPAbortOnMemory") == 1


def test_orphan_count_returns_to_zero() -> None:
    c = S.established_active()
    c.h.sysctl["net.ipv4.tcp_early_retrans"] = 0  # RTOs only, as the root test runs
    ns = c.sock.sk.ns
    c.sock.close()
    assert ns.tcp_orphan_count == 1
    c.take()
    c.send(ACK | 0x01, ack=c.nxt)  # the peer ACKs our FIN with its own: TIME_WAIT
    assert ns.tcp_orphan_count == 0


def zero_window(c: S.Conn) -> None:
    c.send(ACK, window=0)
    c.sock.send(b"z" * 100)
    c.take()


def test_zero_window_probes_to_a_silent_peer_give_up_after_retries2() -> None:
    c = sender()
    t0 = c.h.now
    zero_window(c)
    out = [(round(t - t0, 6), p.seg.flags, p.seg.seq) for t, p in c.advance(t0 + 100)]
    probe = (c.nxt - 1) & 0xFFFFFFFF
    assert out == [(0.2, ACK, probe), (0.6, ACK, probe), (1.4, ACK, probe)]
    etimedout(c)
    assert c.h.counter("TCPWinProbe") == 3


def next_probe(c: S.Conn) -> float | None:
    """Advance to the zero-window probe timer's deadline; the time a probe left, if one did."""
    t = c.sock.sk.probe_timer
    if t is None or not t.pending:
        return None
    out = c.advance(t.when)
    assert len(out) <= 1
    return out[0][0] if out else None


def test_zero_window_probes_answered_keep_the_connection() -> None:
    # RFC 1122 4.2.2.17: as long as the peer answers, probing goes on (probes_out is reset by
    # every ACK); the interval (from the answer) backs off, the backoff exponent capped at
    # tcp_retries2 (tcp_send_probe0), here 3: 1.6 s from then on
    c = sender()
    t0 = c.h.now
    zero_window(c)
    gaps = []
    last = t0
    for _ in range(14):
        t = next_probe(c)
        assert t is not None
        gaps.append(round(t - last, 6))
        last = t
        c.send(ACK, window=0)
    assert gaps == [0.2, 0.4, 0.8] + [1.6] * 11
    assert c.state == "ESTABLISHED"
    assert c.sock.sk.probes_out == 0


def test_user_timeout_ends_zero_window_probing_even_when_answered() -> None:
    # probing began at the first probe (0.2 s); each answer re-arms the timer, clamped to what
    # is left of TCP_USER_TIMEOUT: probes at 0.2 and 0.6 s, given up at 1.2 s although every
    # probe was answered
    c = S.established_active()
    c.h.sysctl["net.ipv4.tcp_early_retrans"] = 0  # RTOs only, as the root test runs
    c.take()
    c.sock.setsockopt(TCP, socket.TCP_USER_TIMEOUT, 1000)
    t0 = c.h.now
    zero_window(c)
    times = []
    for _ in range(5):
        t = next_probe(c)
        if t is None:
            break
        times.append(round(t - t0, 6))
        c.send(ACK, window=0)
    assert times == [0.2, 0.6]
    assert round(c.h.now - t0, 6) == 1.2
    etimedout(c)


def test_keepalive_with_user_timeout_gives_up_at_the_first_check_past_it() -> None:
    # tcp_keepalive_timer: with TCP_USER_TIMEOUT the probe count is not used; the connection
    # is reset once idle for longer than the user timeout with a probe out
    c = S.established_active()
    c.h.sysctl["net.ipv4.tcp_early_retrans"] = 0  # RTOs only, as the root test runs
    c.take()
    c.sock.setsockopt(TCP, socket.TCP_USER_TIMEOUT, 5000)
    c.sock.setsockopt(TCP, socket.TCP_KEEPIDLE, 10)
    c.sock.setsockopt(TCP, socket.TCP_KEEPINTVL, 2)
    t0 = c.h.now
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    out = [(round(t - t0, 6), p.seg.flags) for t, p in c.advance(t0 + 100)]
    assert out == [(10.0, ACK), (12.0, RST | ACK)]
    etimedout(c)


def test_retries1_changes_nothing_visible() -> None:
    # black-hole detection: a route re-lookup and (tcp_mtu_probing, off) MTU probing
    for retries1 in (0, 3, 255):
        c = S.established_active()
        c.h.sysctl["net.ipv4.tcp_early_retrans"] = 0  # RTOs only, as the root test runs
        c.take()
        c.h.sysctl["net.ipv4.tcp_retries1"] = retries1
        c.h.sysctl["net.ipv4.tcp_retries2"] = 3
        c.sock.send(b"x")
        c.take()
        assert [t for t, _, _ in silent(c, 10)] == [0.2, 0.6, 1.4, 3.0]


# --- the same cases on the host kernel -----------------------------------------------------
CLIENT = r'''
import json, socket, sys, time
def counters():
    out = {}
    for f in ("/proc/net/netstat", "/proc/net/snmp"):
        lines = open(f).read().splitlines()
        for a, b in zip(lines[::2], lines[1::2]):
            pre = a.split()[0].rstrip(":")
            for k, v in zip(a.split()[1:], b.split()[1:]):
                out[pre + "." + k] = int(v)
    return out
s = socket.create_connection(("198.18.0.2", 7000), timeout=5)
if int(sys.argv[1]):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(sys.argv[1]))
print("connected", flush=True)
sys.stdin.readline()
before = counters()
t0 = time.monotonic()
s.send(b"x" * 100)
s.settimeout(30)
try:
    s.recv(10)
    err = 0
except OSError as e:
    err = e.errno
t1 = time.monotonic()
after = counters()
print(json.dumps({"elapsed": t1 - t0, "errno": err,
                  "delta": {k: after[k] - before.get(k, 0) for k in after}}), flush=True)
'''
SERVER = ("import socket, time\n"
          "l = socket.socket(); l.bind(('198.18.0.2', 7000)); l.listen()\n"
          "c, _ = l.accept(); time.sleep(20)\n")


def kernel_write_timeout(tmp: Path, user_timeout: int) -> dict[str, object]:
    """Client in one namespace, server in another (veth, 198.18.0.0/24); once connected, the
    server's replies are blackholed, so the client's data meets a silent peer."""
    script = tmp / "client.py"
    script.write_text(CLIENT)
    procs: list[subprocess.Popen[str]] = []
    with veth_pair() as (a, b):
        try:
            a.sysctl("net.ipv4.tcp_retries2", 3)
            a.sysctl("net.ipv4.tcp_early_retrans", 0)
            procs.append(b.popen(sys.executable, "-c", SERVER))
            time.sleep(0.3)
            cli = subprocess.Popen(["ip", "netns", "exec", a.name, sys.executable, str(script),
                                    str(user_timeout)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
            procs.append(cli)
            assert cli.stdout is not None and cli.stdin is not None
            assert cli.stdout.readline().strip() == "connected"
            b.run("ip", "route", "add", "blackhole", "198.18.0.1/32")
            cli.stdin.write("go\n")
            cli.stdin.flush()
            result: dict[str, object] = json.loads(cli.stdout.readline())
            cli.wait(timeout=10)
            return result
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.wait(timeout=10)


@pytest.mark.root
@pytest.mark.parametrize("user_timeout,retrans,timeouts,elapsed", [
    (0, 4, 5, 6.2),  # tcp_retries2 = 3
    (1000, 2, 3, 1.2),  # TCP_USER_TIMEOUT
])
def test_the_host_kernel_gives_up_the_same_way(netns_ok: None, tmp_path: Path,
                                               user_timeout: int, retrans: int, timeouts: int,
                                               elapsed: float) -> None:
    r = kernel_write_timeout(tmp_path, user_timeout)
    assert r["errno"] == errno.ETIMEDOUT
    d = r["delta"]
    assert isinstance(d, dict)
    assert d["Tcp.RetransSegs"] == retrans and d["TcpExt.TCPTimeouts"] == timeouts
    assert d["TcpExt.TCPAbortOnTimeout"] == 1 and d["TcpExt.TcpTimeoutRehash"] == timeouts - 1
    # the kernel's RTO on veth is a little over 200 ms (its rttvar floor), tuxtcp's exactly 200
    kernel_elapsed = r["elapsed"]
    assert isinstance(kernel_elapsed, float)
    assert elapsed <= kernel_elapsed < elapsed * 1.15


def test_a_peer_that_shrinks_its_window_to_zero_and_answers_is_not_timed_out() -> None:
    # tcp_retransmit_timer: with snd_wnd 0 under data in flight the retransmissions are window
    # probes; as long as the peer answers (within 2 * TCP_RTO_MAX) there is no write timeout,
    # far past tcp_retries2's 3.0 s here. Silent from then on, it is given up once 240 s have
    # passed both since its last ACK and since the first retransmission.
    c = sender(b"x" * 100)
    c.send(ACK | PSH, b"p", window=0)  # the peer's own data, carrying a zero window
    assert c.sock.sk.snd_wnd == 0 and c.sock.recv(10) == b"p"
    for _ in range(8):
        t = c.sock.sk.rtx_timer
        assert t is not None and t.pending
        out = c.advance(t.when)
        assert [len(p.seg.payload) for _, p in out] == [100]  # the head again
        c.send(ACK, window=0)
    assert c.state == "ESTABLISHED" and c.h.now > 20
    assert c.h.counter("TCPTimeouts") == 0
    last_ack = c.h.now
    c.advance(last_ack + 1000)
    etimedout(c)
    assert c.h.now >= last_ack + 240
