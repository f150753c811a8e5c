"""Built-in scenarios. `burst_slow_accept` is what `make demo` runs: a listener with a small
backlog, a burst of clients, and an accept loop slower than the arrivals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..socket.api import Socket
from .world import Host, World


@dataclass
class ClientRecord:
    started: float
    port: int = 0
    done_at: float | None = None
    error: int = 0
    syn_retrans: int = 0

    @property
    def latency(self) -> float | None:
        return None if self.done_at is None else self.done_at - self.started


@dataclass
class BurstResult:
    world: World
    server: Host
    client: Host
    clients: list[ClientRecord] = field(default_factory=list)
    snapshots: list[tuple[float, int, int]] = field(default_factory=list)  # t, synq, acceptq
    peak_tcp: str = ""
    peak_ss: str = ""


def burst_slow_accept(clients: int = 40, backlog: int = 8, accept_interval: float = 0.25,
                      spacing: float = 0.002, somaxconn: int = 4096, seed: int = 1,
                      duration: float = 40.0) -> BurstResult:
    """`clients` connect `spacing` s apart; the server accepts one every `accept_interval`."""
    w = World(seed=seed)
    srv = w.host("srv", "198.18.0.1")
    cli = w.host("cli", "198.18.0.2")
    w.link(srv, cli, delay=0.0005)
    srv.sysctl["net.core.somaxconn"] = somaxconn
    ls = srv.socket()
    ls.bind(("0.0.0.0", 8080))
    ls.listen(backlog)
    ls.setblocking(False)
    res = BurstResult(w, srv, cli)
    socks: list[tuple[Socket, ClientRecord]] = []

    def start(now: float, rec: ClientRecord) -> None:
        s = cli.socket()
        s.setblocking(False)
        s.connect_ex(("198.18.0.1", 8080))
        rec.port = s.getsockname()[1]
        socks.append((s, rec))

    def starter(rec: ClientRecord) -> Callable[[float], None]:
        return lambda now: start(now, rec)

    for i in range(clients):
        rec = ClientRecord(started=i * spacing)
        res.clients.append(rec)
        w.call_at(rec.started, starter(rec))

    peak = -1

    def accept_tick(now: float) -> None:
        nonlocal peak
        lq = ls.sk.lq
        assert lq is not None
        depth = len(lq.accept_queue) + lq.qlen
        res.snapshots.append((now, lq.qlen, len(lq.accept_queue)))
        if depth > peak:
            peak = depth
            res.peak_tcp = srv.proc("net/tcp")
            res.peak_ss = srv.ss("-ltn")
        try:
            conn, _ = ls.accept()
            conn.close()
        except BlockingIOError:
            pass
        if now + accept_interval < duration:
            w.call_at(now + accept_interval, accept_tick)

    def watch(now: float) -> None:
        for s, rec in socks:
            if rec.done_at is None and s.sk.state.name != "SYN_SENT":
                if s.sk.state.name == "CLOSE":
                    rec.error = s.sk.sk_err
                rec.done_at = now
                rec.syn_retrans = s.sk.num_retrans_total
        if now + 0.001 < duration:
            w.call_at(now + 0.001, watch)

    w.call_at(accept_interval, accept_tick)
    w.call_at(0.0, watch)
    w.run(duration)
    for s, rec in socks:
        rec.syn_retrans = s.sk.num_retrans_total if rec.done_at else rec.syn_retrans
    return res
