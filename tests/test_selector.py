"""Non-blocking sockets with the selectors API on the virtual clock."""

import errno
import selectors
import socket

import pytest

import tuxtcp
from states import pair


def world() -> tuple[tuxtcp.World, tuxtcp.Host, tuxtcp.Host]:
    return pair(seed=2, timer_model="wheel", delay=0.01)


def test_echo_server_event_loop() -> None:
    w, srv, cli = world()
    sel = w.selector()
    ls = srv.socket()
    ls.bind(("0.0.0.0", 7))
    ls.listen(8)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, "listener")
    clients = []
    for i in range(3):
        c = cli.socket()
        c.setblocking(False)
        assert c.connect_ex(("198.18.0.1", 7)) == errno.EINPROGRESS
        sel.register(c, selectors.EVENT_WRITE, ("connecting", i))
        clients.append(c)
    echoed: dict[int, bytes] = {}
    for _ in range(200):
        if len(echoed) == 3:
            break
        for key, ev in sel.select(timeout=1.0):
            tag = key.data
            s = key.fileobj
            if tag == "listener":
                conn, _ = s.accept()
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ, "conn")
            elif tag == "conn":
                data = s.recv(100)
                if data:
                    s.send(data)
                else:
                    sel.unregister(s)
                    s.close()
            elif tag[0] == "connecting":
                assert ev & selectors.EVENT_WRITE
                assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
                s.send(b"hello %d" % tag[1])
                sel.modify(s, selectors.EVENT_READ, ("reading", tag[1]))
            elif tag[0] == "reading":
                echoed[tag[1]] = s.recv(100)
    assert echoed == {i: b"hello %d" % i for i in range(3)}
    assert w.clock < 1.0  # a few 20 ms round trips of virtual time


def test_select_times_out_in_virtual_time() -> None:
    w, srv, cli = world()
    sel = w.selector()
    c = cli.socket()
    c.setblocking(False)
    c.connect_ex(("198.18.0.77", 9))  # nobody there
    sel.register(c, selectors.EVENT_WRITE)
    assert sel.select(timeout=0.5) == []
    assert w.clock == pytest.approx(0.5)
    ready = sel.select(timeout=200)
    assert ready and c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ETIMEDOUT
    assert 131 <= w.clock <= 136  # the last SYN timeout, with timer-wheel slack


def test_register_errors() -> None:
    w, srv, _ = world()
    sel = w.selector()
    s = srv.socket()
    sel.register(s, selectors.EVENT_READ)
    with pytest.raises(KeyError):
        sel.register(s, selectors.EVENT_READ)
    with pytest.raises(ValueError):
        sel.register(srv.socket(), 0)
    assert sel.get_key(s).events == selectors.EVENT_READ
    sel.unregister(s)
    with pytest.raises(KeyError):
        sel.unregister(s)
