"""Helpers for engine-only benchmarks."""

from __future__ import annotations

from tuxtcp.net.tcp_states import LISTEN
from tuxtcp.tcp.engine import Namespace
from tuxtcp.tcp.lifecycle import new_sock
from tuxtcp.tcp.sock import ListenQueue


def listen_on(ns: Namespace, port: int, backlog: int = 4096) -> None:
    """A listener straight on the engine (what Socket.bind + listen do)."""
    sk = new_sock(ns)
    sk.lq = ListenQueue()
    sk.backlog = backlog
    sk.state = LISTEN
    ns.ports.add_owner(sk, port)
    ns.lhash.setdefault(port, []).append(sk)
