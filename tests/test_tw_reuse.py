"""TIME_WAIT/FIN_WAIT2 sockets and ports: bind conflicts and connect() recycling (exp5, exp5b)."""

import errno
import socket

import tuxtcp
from states import connected, table
from tuxtcp.wire.tcp import ACK, RST, SYN


def loopback_host() -> tuple[tuxtcp.World, tuxtcp.Host]:
    w = tuxtcp.World(seed=3)
    return w, w.host("h", "198.18.0.1")


def active_close(h: tuxtcp.Host, w: tuxtcp.World, reuse: bool, peer_closes: bool,
                 port: int = 8100, srv_port: int = 8500) -> tuple[socket.socket, int]:
    _, c, conn = connected(h, h, listen_on=("127.0.0.1", srv_port),
                           to=("127.0.0.1", srv_port), bind=("127.0.0.1", port), reuse=reuse)
    old_nxt = c.tcp_info().snd_nxt
    c.close()
    w.run(0.01)
    if peer_closes:
        conn.close()
        w.run(0.01)
    return conn, (old_nxt + 1) & 0xFFFFFFFF  # our FIN took one sequence number


def err(fn, *a) -> int:  # type: ignore[no-untyped-def]
    try:
        fn(*a)
    except OSError as e:
        return e.errno or 0
    return 0


def test_bind_over_fin_wait2_and_time_wait() -> None:
    for reuse, peer_closes in [(False, False), (False, True), (True, False), (True, True)]:
        w, h = loopback_host()
        active_close(h, w, reuse, peer_closes)
        states = {(e.kind, e.state) for e in table(h) if e.kind != "listen"}
        assert ("timewait", "TIME_WAIT" if peer_closes else "FIN_WAIT2") in states
        plain = h.socket()
        assert err(plain.bind, ("127.0.0.1", 8100)) == errno.EADDRINUSE
        with_opt = h.socket()
        with_opt.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # OK only when the old socket had SO_REUSEADDR too (exp5 D rows)
        assert err(with_opt.bind, ("127.0.0.1", 8100)) == (0 if reuse else errno.EADDRINUSE)


def test_connect_recycles_fin_wait2_tuple_like_exp5b() -> None:
    w, h = loopback_host()
    conn, old_snd_nxt = active_close(h, w, reuse=True, peer_closes=False)
    assert conn.state == "CLOSE_WAIT"
    before = h.counters.snapshot()
    w.trace = []
    c2 = h.socket()
    c2.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c2.bind(("127.0.0.1", 8100))
    c2.connect(("127.0.0.1", 8500))  # blocking: runs the exchange below
    w.run(0.001)  # the third ACK reaches the listener
    flags = [(p.seg.sport, p.seg.flags) for _, _, p in w.trace]
    syn = w.trace[0][2].seg
    assert syn.flags == SYN and syn.seq == (old_snd_nxt + 65535 + 2) & 0xFFFFFFFF
    # the old peer (CLOSE_WAIT) answers the in-window SYN with a challenge ACK, we reset it,
    # and our SYN goes again 2 jiffies (+1 bucket) later
    assert flags[:3] == [(8100, SYN), (8500, ACK), (8100, RST)]
    assert flags[3:6] == [(8100, SYN), (8500, SYN | ACK), (8100, ACK)]
    gap = w.trace[3][0] - w.trace[2][0]
    assert 0.008 <= gap <= 0.012 + 1e-9
    d = h.counters.delta(before)
    for k in ("TcpExt.TWRecycled", "TcpExt.TCPSYNChallenge", "TcpExt.TCPChallengeACK",
              "Tcp.EstabResets", "Tcp.OutRsts", "Tcp.ActiveOpens", "Tcp.PassiveOpens"):
        assert d.get(k) == 1, k
    assert c2.state == "ESTABLISHED"
