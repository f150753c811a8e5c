"""bind/listen/accept/connect errno table and ephemeral port parity (linux-observed.md)."""

import errno
import socket
import struct

import pytest

from helpers import Harness
from states import backlog


def err(fn, *a) -> int:  # type: ignore[no-untyped-def]
    try:
        fn(*a)
    except OSError as e:
        return e.errno
    return 0


def two(h: Harness, o1: tuple[int, int] | None = None, o2: tuple[int, int] | None = None):  # type: ignore[no-untyped-def]
    a, b = h.socket(), h.socket()
    if o1:
        a.setsockopt(socket.SOL_SOCKET, o1[0], o1[1])
    if o2:
        b.setsockopt(socket.SOL_SOCKET, o2[0], o2[1])
    return a, b


R, P = (socket.SO_REUSEADDR, 1), (socket.SO_REUSEPORT, 1)


def test_same_addr_port_no_options() -> None:
    h = Harness()
    a, b = two(h)
    a.bind(("127.0.0.1", 8000))
    assert err(b.bind, ("127.0.0.1", 8000)) == errno.EADDRINUSE
    assert err(b.bind, ("0.0.0.0", 8000)) == errno.EADDRINUSE
    c = h.socket()
    assert err(c.bind, ("127.0.0.2", 8000)) == 0
    d, e = two(h)
    d.bind(("0.0.0.0", 8001))
    assert err(e.bind, ("127.0.0.1", 8001)) == errno.EADDRINUSE


def test_reuseaddr_both_then_listen() -> None:
    h = Harness()
    a, b = two(h, R, R)
    a.bind(("127.0.0.1", 8000))
    assert err(b.bind, ("127.0.0.1", 8000)) == 0
    assert err(a.listen, 5) == 0
    assert err(b.listen, 5) == errno.EADDRINUSE
    c = h.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    assert err(c.bind, ("127.0.0.1", 8000)) == errno.EADDRINUSE  # first is LISTEN
    assert err(c.bind, ("0.0.0.0", 8000)) == errno.EADDRINUSE


@pytest.mark.parametrize("o1,o2", [(None, R), (R, None)])
def test_reuseaddr_on_one_only(o1, o2) -> None:  # type: ignore[no-untyped-def]
    h = Harness()
    a, b = two(h, o1, o2)
    a.bind(("127.0.0.1", 8000))
    assert err(b.bind, ("127.0.0.1", 8000)) == errno.EADDRINUSE


def test_reuseport() -> None:
    h = Harness()
    a, b = two(h, P, P)
    a.bind(("127.0.0.1", 8000))
    a.listen(5)
    assert err(b.bind, ("127.0.0.1", 8000)) == 0
    assert err(b.listen, 5) == 0
    c = h.socket()
    assert err(c.bind, ("127.0.0.1", 8000)) == errno.EADDRINUSE
    d = h.socket(uid=65534)
    d.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    assert err(d.bind, ("127.0.0.1", 8000)) == errno.EADDRINUSE
    e, f = two(h, None, P)
    e.bind(("127.0.0.1", 8005))
    assert err(f.bind, ("127.0.0.1", 8005)) == errno.EADDRINUSE


def test_einval_rows() -> None:
    h = Harness()
    s = h.socket()
    s.bind(("127.0.0.1", 8000))
    assert err(s.bind, ("127.0.0.1", 8001)) == errno.EINVAL
    s.listen(1)
    assert err(s.bind, ("127.0.0.1", 8002)) == errno.EINVAL
    assert err(s.listen, 3) == 0
    assert backlog(s) == 3
    assert err(s.connect, ("127.0.0.1", 80)) == errno.EISCONN
    t = h.socket()
    assert err(t.accept) == errno.EINVAL
    u = h.socket(type=socket.SOCK_DGRAM)
    assert err(u.listen, 1) == errno.EOPNOTSUPP
    t.close()
    assert err(t.bind, ("127.0.0.1", 0)) == errno.EBADF


def test_address_rows() -> None:
    h = Harness()
    assert err(h.socket().bind, ("198.18.9.9", 8800)) == errno.EADDRNOTAVAIL
    s = h.socket()
    s.setsockopt(socket.IPPROTO_IP, 15, 1)  # IP_FREEBIND
    assert err(s.bind, ("198.18.9.9", 8800)) == 0
    h.sysctl["net.ipv4.ip_nonlocal_bind"] = 1
    assert err(h.socket().bind, ("198.18.9.9", 8801)) == 0
    assert err(h.socket().bind, ("255.255.255.255", 0)) == 0
    assert err(h.socket().bind, ("224.0.0.1", 0)) == 0
    assert err(h.socket().bind, ("127.255.255.254", 0)) == 0


def test_raw_sockaddr_rows() -> None:
    h = Harness()
    sa = struct.pack("=H", socket.AF_INET) + struct.pack("!HI", 8000, 0) + bytes(8)
    assert err(h.socket().bind_sockaddr, sa[:15]) == errno.EINVAL
    six = struct.pack("=H", socket.AF_INET6) + sa[2:]
    assert err(h.socket().bind_sockaddr, six) == errno.EAFNOSUPPORT
    unspec = struct.pack("=H", socket.AF_UNSPEC) + sa[2:]
    assert err(h.socket().bind_sockaddr, unspec) == 0


@pytest.mark.parametrize("start,ok", [(1024, {0, 1024}), (80, {0, 80, 1023, 1024}),
                                      (0, {0, 1, 79, 80, 1023, 1024})])
def test_privileged_ports(start: int, ok: set[int]) -> None:
    h = Harness()
    h.sysctl["net.ipv4.ip_unprivileged_port_start"] = start
    for port in (0, 1, 79, 80, 1023, 1024):
        e = err(h.socket(uid=65534).bind, ("127.0.0.1", port))
        assert e == (0 if port in ok else errno.EACCES), port
    assert err(h.socket(uid=0).bind, ("127.0.0.1", 99)) == 0  # root has the capability


def test_python_argument_errors() -> None:
    h = Harness()
    s = h.socket()
    with pytest.raises(TypeError):
        s.bind("127.0.0.1")  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        s.bind(("127.0.0.1", 70000))
    with pytest.raises(socket.gaierror):
        s.bind(("no-such-host", 1))
    with pytest.raises(OSError) as e:
        h.socket().getpeername()
    assert e.value.errno == errno.ENOTCONN


def test_bind0_odd_connect_even_default_range() -> None:
    h = Harness()
    bound = []
    for _ in range(50):
        s = h.socket()
        s.bind(("127.0.0.1", 0))
        bound.append(s.getsockname()[1])
    assert all(p % 2 == 1 and 32768 <= p <= 60999 for p in bound)
    lst = h.socket()
    lst.listen(1)
    assert lst.getsockname()[1] % 2 == 1
    conn = []
    for _ in range(50):
        c = h.socket()
        c.setblocking(False)
        c.connect_ex(("198.18.0.2", 9000))
        conn.append(c.getsockname()[1])
    assert all(p % 2 == 0 for p in conn)
    assert conn == sorted(conn) or len(set(conn)) == 50


def test_parity_flips_with_odd_range_start() -> None:
    h = Harness()
    h.sysctl["net.ipv4.ip_local_port_range"] = "40001 40999"
    s = h.socket()
    s.bind(("127.0.0.1", 0))
    assert s.getsockname()[1] % 2 == 0
    c = h.socket()
    c.setblocking(False)
    c.connect_ex(("198.18.0.2", 9000))
    assert c.getsockname()[1] % 2 == 1


def test_exhaustion_uses_other_parity_then_fails() -> None:
    h = Harness()
    h.sysctl["net.ipv4.ip_local_port_range"] = "40000 40003"
    got = []
    for _ in range(4):
        s = h.socket()
        s.bind(("127.0.0.1", 0))
        got.append(s.getsockname()[1])
    assert sorted(got) == [40000, 40001, 40002, 40003]
    assert [p % 2 for p in got[:2]] == [1, 1]
    assert err(h.socket().bind, ("127.0.0.1", 0)) == errno.EADDRINUSE
    h2 = Harness()
    h2.sysctl["net.ipv4.ip_local_port_range"] = "40000 40003"
    ports = []
    for _ in range(4):
        c = h2.socket()
        c.setblocking(False)
        assert c.connect_ex(("198.18.0.2", 9000)) == errno.EINPROGRESS
        ports.append(c.getsockname()[1])
    assert [p % 2 for p in ports[:2]] == [0, 0]
    c = h2.socket()
    c.setblocking(False)
    assert c.connect_ex(("198.18.0.2", 9000)) == errno.EADDRNOTAVAIL
    d = h2.socket()
    d.setblocking(False)
    assert d.connect_ex(("198.18.0.2", 9001)) == errno.EINPROGRESS  # another 4-tuple


def test_bind_address_no_port() -> None:
    h = Harness()
    s = h.socket()
    s.setsockopt(socket.IPPROTO_IP, 24, 1)
    s.bind(("198.18.0.1", 0))
    assert s.getsockname() == ("198.18.0.1", 0)
    s.setblocking(False)
    s.connect_ex(("198.18.0.2", 9000))
    assert s.getsockname()[1] % 2 == 0


def test_somaxconn_caps_and_validation() -> None:
    h = Harness()
    h.sysctl["net.core.somaxconn"] = 16
    for req, eff in [(1000, 16), (17, 16), (2**31 - 1, 16), (15, 15)]:
        s = h.socket()
        s.listen_raw(req)
        assert backlog(s) == eff
    s = h.socket()
    s.listen_raw(-1)
    assert backlog(s) == 16  # negative -> somaxconn (listen(2))
    p = h.socket()
    p.listen(-1)  # CPython clamps a negative backlog to 0 before listen(2)
    assert backlog(p) == 0
    q = h.socket()
    q.listen()
    assert backlog(q) == 16  # min(128, SOMAXCONN) then capped
    h.sysctl["net.core.somaxconn"] = 1000000
    assert backlog(q) == 16  # applied at listen() time only
    q.listen(500)
    assert backlog(q) == 500
    for bad in (-1, 2**31):
        with pytest.raises(OSError) as e:
            h.sysctl["net.core.somaxconn"] = bad
        assert e.value.errno == errno.EINVAL


def test_sysctl_validation() -> None:
    h = Harness()
    sc = h.sysctl
    with pytest.raises(OSError):
        sc["net.ipv4.tcp_syn_retries"] = 0
    with pytest.raises(OSError):
        sc["net.ipv4.ip_local_port_range"] = "1023 2000"
    with pytest.raises(OSError):
        sc["net.ipv4.ip_unprivileged_port_start"] = 40000
    sc["net.ipv4.ip_local_port_range"] = (1024, 1024)
    assert h.sysctl.render("net.ipv4.ip_local_port_range") == "1024\t1024"


def test_hash_connect_draws_what_randrange_8_draws() -> None:
    """__inet_hash_connect's random step comes from the namespace's generator without the
    interpreted random module; the same numbers, and the generator left in the same state."""
    import random

    from tuxtcp.tcp.active import _randrange8

    for seed in range(50):
        a, b = random.Random(seed), random.Random(seed)
        assert [_randrange8(a.getrandbits) for _ in range(200)] == [
            b.randrange(8) for _ in range(200)]
        assert a.getstate() == b.getstate()
