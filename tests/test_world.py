"""Whole scenarios on the simulated network: queues, retries, floods, data, /proc format."""

import errno
import hashlib
import socket

import pytest

import tuxtcp
from states import accept_queue_len, connected, pair, syn_queue_len
from tuxtcp.link.memory import Link, LinkParams
from tuxtcp.socket.api import Socket
from tuxtcp.socket.driver import as_driver
from tuxtcp.wire.ipv4 import Packet, ip_to_int
from tuxtcp.wire.tcp import SYN, TcpSegment


def test_issue_example_script() -> None:
    w, srv, cli = pair()
    srv.sysctl["net.core.somaxconn"] = 16
    ls = srv.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("0.0.0.0", 8080))
    ls.listen(5)
    c = cli.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setblocking(False)
    assert c.connect_ex(("198.18.0.1", 8080)) == errno.EINPROGRESS
    w.run(0.1)
    conn, peer = ls.accept()
    assert peer == ("198.18.0.2", c.getsockname()[1])
    assert "0A" in srv.proc("net/tcp") and "ActiveOpens" in cli.proc("net/snmp")
    assert srv.counters["PassiveOpens"] == 1 and cli.counters["ActiveOpens"] == 1


def test_burst_against_backlog_retries_at_linux_times() -> None:
    w, srv, cli = pair()
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(2)
    socks = []
    w.trace = []
    for i in range(8):  # one client every 10 ms, as exp1_backlog.py does
        c = cli.socket()
        c.setblocking(False)
        socks.append(c)
        w.call_at(i * 0.01, lambda now, c=c: c.connect_ex(("198.18.0.1", 80)))
    w.run(6.5)
    est = [c for c in socks if c.state == "ESTABLISHED"]
    assert len(est) == 3 and accept_queue_len(ls) == 3
    waiting = [c for c in socks if c.state == "SYN_SENT"]
    assert len(waiting) == 5
    for c in waiting:
        port = c.getsockname()[1]
        times = [t for t, who, p in w.trace if who == "cli" and p.seg.sport == port]
        assert [round(t - times[0], 6) for t in times] == [0, 1, 2, 3, 4, 5]
    # 5 clients x 6 SYNs, each dropped: ListenOverflows = ListenDrops = 30 (exp1 A)
    assert srv.counters["ListenOverflows"] == srv.counters["ListenDrops"] == 30


def test_slow_accept_completes_everyone_eventually() -> None:
    w, srv, cli = pair()
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(1)
    socks = []
    for i in range(6):
        c = cli.socket()
        c.setblocking(False)
        socks.append(c)
        w.call_at(i * 0.01, lambda now, c=c: c.connect_ex(("198.18.0.1", 80)))
    accepted = []
    for _ in range(6):
        conn, _ = ls.accept()  # blocking: advances virtual time
        accepted.append(conn)
        w.run(0.5)
    w.run(2)
    assert all(c.state == "ESTABLISHED" for c in socks)


@pytest.mark.parametrize("cookies,expect_ok", [(1, True), (2, True), (0, False)])
def test_flood_with_and_without_cookies(cookies: int, expect_ok: bool) -> None:
    w, srv, cli = pair()
    srv.sysctl["net.ipv4.tcp_syncookies"] = cookies
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(16)
    w.syn_flood(("198.18.0.1", 80), rate=2000, duration=30.0)
    w.run(2.0)
    ok = 0
    for _ in range(5):
        c = cli.socket()
        c.settimeout(10.0)
        if c.connect_ex(("198.18.0.1", 80)) == 0:
            ok += 1
            ls.accept()[0].close()
        c.close()
    assert (ok == 5) == expect_ok
    if cookies == 1:
        assert syn_queue_len(srv, 80) <= 17
        assert srv.counters["SyncookiesRecv"] == 5
        assert "Sending cookies" in srv.dmesg()
    if cookies == 0:
        assert ok < 5 and srv.counters["TCPReqQFullDrop"] > 1000


def test_proc_net_tcp_format() -> None:
    w, srv, cli = pair()
    ls = srv.socket()
    ls.bind(("198.18.0.1", 9600))
    ls.listen(5)
    c = cli.socket()
    c.connect(("198.18.0.1", 9600))
    w.run(0.01)  # the third ACK reaches the server
    text = srv.proc("net/tcp")
    lines = text.split("\n")[:-1]
    assert all(len(line) == 149 for line in lines)
    assert lines[0].startswith("  sl  local_address rem_address   st tx_queue rx_queue tr")
    f = lines[1].split()
    assert f[1] == "010012C6:2580" and f[3] == "0A" and f[4] == "00000000:00000001"
    child = lines[2].split()
    assert child[3] == "01" and child[9] == "0"  # still in the accept queue: inode 0
    # a request sock line
    srv.sysctl["net.ipv4.tcp_abort_on_overflow"] = 0
    w.inject(tuxtcp.Packet(tuxtcp.wire.ipv4.ip_to_int("198.19.200.1"),
                           tuxtcp.wire.ipv4.ip_to_int("198.18.0.1"),
                           tuxtcp.TcpSegment(40001, 9600, 1, 0, 2, 64240, mss=1460)))
    w.run(1.5)
    req = [ln for ln in srv.proc("net/tcp").splitlines() if " 03 " in ln][0].split()
    assert req[5].startswith("01:") and req[6] == "00000001" and req[9:11] == ["0", "0"]
    assert int(req[5][3:], 16) == 150  # 1.5 s to the next SYN-ACK timer, in USER_HZ


def test_time_wait_line_and_counters() -> None:
    w, srv, cli = pair()
    ls, c, conn = connected(srv, cli)
    c.close()
    w.run(0.01)
    conn.close()
    w.run(0.01)
    tw = [ln.split() for ln in cli.proc("net/tcp").splitlines()[1:]]
    assert tw[0][3] == "06" and tw[0][5].startswith("03:")
    assert cli.counters["TW"] == 1
    w.run(61)
    assert len(cli.proc("net/tcp").splitlines()) == 1


@pytest.mark.parametrize("loss", [0.0, 0.05])
def test_bytes_arrive_intact(loss: float) -> None:
    w, srv, cli = pair(loss=loss, reorder=0.02, duplicate=0.01)
    ls, c, conn = connected(srv, cli, timeout=300)
    conn.settimeout(300)
    data = bytes(range(256)) * 800
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    got = bytearray()
    for _ in range(10000):
        chunk = conn.recv(65536)
        if not chunk:
            break
        got += chunk
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


def test_bad_checksum_counted_and_dropped() -> None:
    w, srv, cli = pair()
    pkt = tuxtcp.Packet(tuxtcp.wire.ipv4.ip_to_int("198.18.0.2"),
                        tuxtcp.wire.ipv4.ip_to_int("198.18.0.1"),
                        tuxtcp.TcpSegment(1, 80, 1, 0, 2, 100)).to_bytes()
    bad = bytearray(pkt)
    bad[-1] ^= 0xFF
    srv.ns.receive_bytes(bytes(bad), 0.0)
    assert srv.counters["Tcp.InCsumErrors"] == 1 and srv.counters["Tcp.InErrs"] == 1
    srv.ns.receive_bytes(b"\x45\x00", 0.0)
    assert srv.counters["InHdrErrors"] == 1
    assert not srv.ns.outbox


def test_pcap_tap(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import dpkt

    w, srv, cli = pair()
    path = str(tmp_path / "run.pcap")
    w.pcap(path)
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(1)
    cli.socket().connect(("198.18.0.1", 80))
    w.close()
    with open(path, "rb") as f:
        frames = list(dpkt.pcap.Reader(f))
    assert len(frames) == 3
    ip = dpkt.ip.IP(frames[1][1])
    assert ip.tcp.flags == dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK


def test_same_seed_same_bytes() -> None:
    def run() -> list[bytes]:
        w, srv, cli = pair(seed=5, loss=0.1)
        w.trace = []
        ls = srv.socket()
        ls.bind(("0.0.0.0", 80))
        ls.listen(1)
        c = cli.socket()
        c.setblocking(False)
        c.connect_ex(("198.18.0.1", 80))
        w.run(5)
        return [p.to_bytes() for _, _, p in w.trace]
    assert run() == run()


def test_ss_ltn_matches_iproute2_layout() -> None:
    # linux-observed.md: listen(7) on 127.0.0.1:9100 with two children queued
    w, srv, _ = pair()
    ls = srv.socket()
    ls.bind(("127.0.0.1", 9100))
    ls.listen(7)
    for _ in range(2):
        srv.socket().connect(("127.0.0.1", 9100))
    w.run(0.01)
    lines = [ln.rstrip() for ln in srv.ss("-ltn").splitlines()]
    assert lines == [
        "State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess",
        "LISTEN 2      7          127.0.0.1:9100      0.0.0.0:*",
    ]


@pytest.mark.parametrize(("early_retrans", "first_resend_ms"), [
    # RTO only: nothing left to send, no later segment delivered: the retransmission timer,
    # 200 ms (tcp_rto_min) + the 10 ms RTT's share after the head was last sent, resends the
    # first lost segment
    (0, 225.0),
    # TLP: two smoothed RTTs + 2 jiffies after the last ACK (at 10 ms: a new connection's
    # receiver quick-ACKs), on the timer wheel's tick, the last segment goes again as a probe
    (3, 41.0),
])
def test_a_chosen_tail_loss_is_repaired_by_rto_or_probe(early_retrans: int,
                                                        first_resend_ms: float) -> None:
    w, srv, cli = pair(timer_model="wheel", delay=0.005)
    srv.sysctl["net.ipv4.tcp_early_retrans"] = early_retrans
    _, c, conn = connected(srv, cli)
    w.run(0.1)
    seen: list[tuple[float, int]] = []  # (ms after the write, sequence offset) of data sent
    base: list[int] = []
    lost: set[int] = set()
    t0 = w.clock

    def lose(pkt: tuxtcp.Packet) -> bool:
        seg = pkt.seg
        if pkt.src != 0xC6120001 or not seg.payload:
            return False
        if not base:
            base.append(seg.seq)
        off = (seg.seq - base[0]) & 0xFFFFFFFF
        seen.append((round((w.clock - t0) * 1000, 3), off))
        if off >= 7 * 1448 and off not in lost:
            lost.add(off)  # the first transmissions of segments 8, 9 and 10
            return True
        return False

    w.drop_if(lose)
    data = (bytes(range(256)) * 57)[:14_480]  # ten segments of 1,448 bytes
    conn.sendall(data)
    got = b""
    c.settimeout(2.0)
    while len(got) < len(data):
        got += c.recv(1 << 16)
    assert got == data
    assert len(lost) == 3, sorted(lost)
    assert [t for t, _ in seen[:10]] == [0.0] * 10  # the initial window, at once
    assert seen[10][0] == first_resend_ms, seen[10:]
    # the RTO resends the head of the queue; the probe, the last segment
    assert seen[10][1] == (7 * 1448 if early_retrans == 0 else 9 * 1448)


@pytest.mark.parametrize("params", [{}, {"loss": 0.1}, {"jitter": 0.001}, {"reorder": 0.1},
                                    {"duplicate": 0.1}, {"rate": 1e6}])
def test_a_plain_link_is_one_arrival_after_its_delay(params: dict[str, float]) -> None:
    # the World skips arrivals() on a plain link: its answer there is one arrival `delay`
    # after the send, and nothing drawn from the link's random stream
    link = Link("a", "b", LinkParams(**params), seed=3)
    assert link.plain == (not params)
    if link.plain:
        state = link.rng.getstate()
        assert link.arrivals(1.25) == [1.25 + link.params.delay]
        assert link.rng.getstate() == state


def test_a_plain_link_delivers_each_packet_once_after_its_delay() -> None:
    w = tuxtcp.World(seed=1)
    a, b = w.host("a", "198.18.0.1"), w.host("b", "198.18.0.2")
    link = w.link(a, b, delay=0.01)
    ls = b.socket()
    ls.bind(("198.18.0.2", 80))
    ls.listen(8)
    c = a.socket()
    c.connect(("198.18.0.2", 80))  # the SYN there, the SYN-ACK back: established then
    assert w.clock == 0.0 + 0.01 + 0.01
    assert link.sent == 3  # and the ACK left
    w.run(0.01)
    assert ls.accept()[0].getpeername() == c.getsockname()


def test_an_address_added_after_the_host_was_made_is_routed_to() -> None:
    # the World asks each neighbour's namespace whether it owns the destination (it used to
    # look in a table of addresses filled when hosts were made: such a SYN was lost)
    w = tuxtcp.World(seed=1)
    a, b = w.host("a", "198.18.0.1"), w.host("b", "198.18.0.2")
    link = w.link(a, b, delay=0.01)
    b.ns.add_address("198.18.0.9")
    ls = b.socket()
    ls.bind(("198.18.0.9", 80))
    ls.listen(8)
    c = a.socket()
    c.connect(("198.18.0.9", 80))  # SYN out, SYN-ACK back over the link: 20 ms
    assert w.clock == 0.0 + 0.01 + 0.01 and link.sent == 3
    assert c.getpeername() == ("198.18.0.9", 80)
    # a packet put on the wire (inject) reaches it too: a SYN for the listener is taken in
    before = b.counters["InSegs"]
    w.inject(Packet(ip_to_int("198.18.1.1"), ip_to_int("198.18.0.9"),
                    TcpSegment(40000, 80, 1, 0, SYN, 1024)))
    w.run(0.001)
    assert b.counters["InSegs"] == before + 1


def test_timers_of_a_tick_fire_before_a_packet_that_arrives_at_it() -> None:
    """A link of whole jiffies (20 ms, five) brings a packet sent from a timer at a tick to
    the other host at a tick. There the kernel runs the tick's expired timers (the timer
    softirq) before the packet, which arrives microseconds after the tick; so does the World
    (seen on a relayed 20 ms link: the client's FIN resent by its own timer, then the ACK of
    the server's resent FIN). Here the client's FIN is lost: the server's probe of its FIN,
    61 jiffies after it, reaches the client at the tick of the client's own probe of its
    FIN (sent 5 jiffies after the server's)."""
    w, srv, cli = pair(timer_model="wheel", delay=0.02)
    _, c, conn = connected(srv, cli)
    w.run(0.5)
    fins: list[int] = []

    def lose(pkt: tuxtcp.Packet) -> bool:
        if pkt.src == 0xC6120002 and pkt.seg.flags & 0x01:
            fins.append(1)
            return len(fins) == 1  # the client's first FIN
        return False

    w.drop_if(lose)
    w.trace = []
    conn.close()
    w.run(0.021)  # the server's FIN has arrived
    c.close()
    w.run(1.0)
    sent = [(round(t, 6), pkt.seg.flags, pkt.seg.seq) for t, who, pkt in w.trace if who == "cli"]
    resend_fin = [(t, f) for t, f, _ in sent if f & 0x01][1]
    after = [(t, f) for t, f, _ in sent if t == resend_fin[0]]
    # the FIN (its own timer) first, then the ACK of the duplicate FIN (TCP_OLD_DATA)
    assert after == [(resend_fin[0], 0x11), (resend_fin[0], 0x10)], sent


def test_retime_moves_a_pcap_to_a_runs_clock(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A kernel run's link records CLOCK_MONOTONIC instants; retime puts them on the run's
    clock (0 at its start), the packets unchanged; one from before the start stays at 0."""
    import dpkt

    from tuxtcp.wire.pcap import PcapTap, retime

    path = str(tmp_path / "k.pcap")
    tap = PcapTap(path)
    syn = Packet(ip_to_int("198.18.0.2"), ip_to_int("198.18.0.1"),
                 TcpSegment(40000, 80, 1, 0, SYN, 64240)).to_bytes()
    for t in (12345.5, 12346.25, 12347.0):
        tap.write(t, syn)
    tap.close()
    retime(path, 12346.0)
    with open(path, "rb") as f:
        frames = list(dpkt.pcap.Reader(f))
    assert [round(float(ts), 6) for ts, _ in frames] == [0.0, 0.25, 1.0]
    assert all(data == syn for _, data in frames)


def test_accept_socket_is_accept_without_the_peer_address() -> None:
    """Socket.accept_socket() (what the scenarios use) takes the same connection off the
    accept queue as accept(), raises as accept() does, and only leaves out the address."""
    w, srv, cli = pair()
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(4)
    ls.setblocking(False)
    with pytest.raises(BlockingIOError):
        ls.accept_socket()
    cs = [cli.socket() for _ in range(2)]
    for c in cs:
        c.setblocking(False)
        assert c.connect_ex(("198.18.0.1", 80)) == errno.EINPROGRESS
    w.run(0.1)
    first = ls.accept_socket()
    second, peer = ls.accept()
    assert first.getpeername() == cs[0].getsockname() and peer == cs[1].getsockname()
    assert first.state == second.state == "ESTABLISHED" and first.gettimeout() is None


def test_a_driver_that_is_not_a_world_is_forwarded_to() -> None:
    """A socket takes any object with the driver's five methods (the TUN and packetdrill
    drivers are such objects): as_driver wraps it, a World passes as it is."""
    calls: list[str] = []

    class Plain:
        def now(self) -> float:
            calls.append("now")
            return 1.5

        def kick(self, ns: object) -> None:
            calls.append("kick")

        def wait(self, ready: object, timeout: float | None) -> bool:
            return False

        def resolve(self, name: str) -> int | None:
            calls.append(f"resolve {name}")
            return ip_to_int("198.18.0.9") if name == "peer" else None

        def alloc_fd(self) -> int:
            return 7

    w = tuxtcp.World()
    assert as_driver(w) is w
    ns = w.host("h", "198.18.0.2").ns
    s = Socket(ns, Plain())
    assert s.fileno() == 7
    s.setblocking(False)
    assert s.connect_ex(("peer", 80)) == errno.EINPROGRESS
    assert calls[:3] == ["resolve peer", "now", "kick"]
    with pytest.raises(socket.gaierror):
        s.bind(("nowhere", 0))
