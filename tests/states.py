"""One fixture per TCP state, reached by real packets, and the peer's segment template.

Every fixture drives a Harness (helpers.py) through the public socket API and segments injected
with `Harness.send()` only; nothing writes an engine field. Each returns the flow as the peer
sees it:

    c = states.fin_wait2(h)          # listen/syn_recv/syn_sent/established/.../last_ack
    c.sock, c.listener               # our socket(s)
    c.sent                           # every segment we sent on the way, oldest first
    c.seq, c.ack, c.nxt              # the peer's next seq, the ack it sends, our next seq seen
    out = c.send(FIN | ACK)          # the template: only what differs is written
    out = c.send(ack=c.nxt)          # ... e.g. acknowledge everything we sent

`c.seg(...)` builds the peer's next segment (smoltcp's SEND_TEMPL): ports, seq, ack, window
and timestamps come from the flow; `c.send(...)` delivers it, moves `c.seq` past what it
carried and records our answer. The peer's TSval clock ticks in milliseconds of virtual time.

The namespace's tables are read as an operator reads them, from /proc/net/tcp and `ss -tano`
(`table`, `find`, `syn_queue_len`); a listener's accept queue and backlog from TCP_INFO
(`accept_queue_len`, `backlog`). `timer_expires` is the one helper that reads the engine: no
view shows a timer's deadline to better than 10 ms.
"""

from __future__ import annotations

import errno
import socket
from typing import NamedTuple, Protocol

import tuxtcp
from helpers import PEER, Harness, syn
from tuxtcp.net.tcp_states import TcpState
from tuxtcp.net.timers import Timer
from tuxtcp.socket.api import Socket
from tuxtcp.tcp.ehash import entries
from tuxtcp.wire.ipv4 import Packet
from tuxtcp.wire.seq import after
from tuxtcp.wire.tcp import ACK, FIN, RST, SYN, TcpSegment

PEER_ISN = 5000  # the peer's ISN when we connect (active open)
PEER_PORT = 80  # the port we connect to
CLIENT_ISN = 1000  # the peer's ISN when it connects to us (passive open)
CLIENT_PORT = 40000  # the peer's port when it connects to us
LISTEN_PORT = 8080
TEMPLATE = -1  # "the template's TSval" (None means no timestamp option)


class Flow:
    """One connection as the peer sees it, and the template for the peer's next segment."""

    def __init__(self, h: Harness, lport: int, rport: int, seq: int, ack: int,
                 tsval: int | None = 1001, window: int = 502) -> None:
        self.h = h
        self.lport = lport  # our port
        self.rport = rport  # the peer's port
        self.seq = seq  # the peer's next sequence number
        self.ack = ack  # the acknowledgment number the peer sends unless told otherwise
        self.nxt = ack  # our next sequence number, as far as the peer has seen our segments
        self.seen = False  # has the peer seen a segment of ours (so `nxt` is ours)?
        self.window = window  # the peer's window field (we scale it by our snd_wscale)
        self.ts_base = tsval  # the peer's TSval now; None: the peer does not use timestamps
        self.ts_at = h.now
        self.tsecr = 0  # what the peer echoes: our last TSval it saw
        self.sent: list[Packet] = []  # our segments of this flow, oldest first

    @property
    def tsval(self) -> int | None:
        """The peer's TSval at the current virtual time (a 1 ms clock)."""
        if self.ts_base is None:
            return None
        return (self.ts_base + int(round((self.h.now - self.ts_at) * 1000))) & 0xFFFFFFFF

    def seg(self, flags: int = ACK, data: bytes = b"", *, seq: int | None = None,
            ack: int | None = None, window: int | None = None, tsval: int | None = TEMPLATE,
            tsecr: int | None = None, mss: int | None = None, wscale: int | None = None,
            sack_perm: bool = False,
            sack: tuple[tuple[int, int], ...] = ()) -> TcpSegment:
        """The peer's next segment: the flow's ports, seq, ack and TSecr (both only with ACK
        set), window and TSval unless given. A bare RST (no ACK) has window 0 and no options,
        as tcp_v4_send_reset sends it."""
        bare_rst = bool(flags & RST) and not flags & ACK
        if tsval == TEMPLATE:
            tsval = None if bare_rst else self.tsval
        if ack is None:
            ack = self.ack if flags & ACK else 0
        if tsecr is None:
            tsecr = self.tsecr if flags & ACK else 0
        if window is None:
            window = 0 if bare_rst else self.window
        return TcpSegment(self.rport, self.lport, self.seq if seq is None else seq, ack, flags,
                          window, data, mss=mss, wscale=wscale, sack_perm=sack_perm,
                          tsval=tsval, tsecr=tsecr, sack=sack)

    def send(self, flags: int = ACK, data: bytes = b"", *, seq: int | None = None,
             ack: int | None = None, window: int | None = None, tsval: int | None = TEMPLATE,
             tsecr: int | None = None, mss: int | None = None, wscale: int | None = None,
             sack_perm: bool = False,
             sack: tuple[tuple[int, int], ...] = ()) -> list[Packet]:
        """Deliver `seg(...)` now; returns what we sent in answer. A segment sent at the
        peer's next sequence number moves it on by its length (data, SYN, FIN), and a SYN
        starts the peer's sequence anew (its ISN + 1); an ACK of more of what we sent (up to
        `nxt`) becomes the peer's default ack."""
        s = self.seg(flags, data, seq=seq, ack=ack, window=window, tsval=tsval, tsecr=tsecr,
                     mss=mss, wscale=wscale, sack_perm=sack_perm, sack=sack)
        out = self.h.send(s)
        if s.seq == self.seq or s.flags & SYN:
            self.seq = s.end_seq
        if s.flags & ACK and after(s.ack, self.ack) and not after(s.ack, self.nxt):
            self.ack = s.ack
        self.saw(out)
        return out

    def take(self) -> list[Packet]:
        """What we sent since the harness was last asked (Harness.take), recorded."""
        out = self.h.take()
        self.saw(out)
        return out

    def advance(self, to: float) -> list[tuple[float, Packet]]:
        """Harness.advance(to), recording what we sent meanwhile."""
        out = self.h.advance(to)
        self.saw([p for _, p in out])
        return out

    def saw(self, pkts: list[Packet]) -> None:
        """The peer receives our segments of this flow: remember them, our next sequence
        number and our TSval (which the peer echoes from now on)."""
        for p in pkts:
            s = p.seg
            if s.sport != self.lport or s.dport != self.rport:
                continue
            self.sent.append(p)
            if s.flags & RST:
                continue
            if not self.seen or not after(self.nxt, s.end_seq):
                self.nxt = s.end_seq
                self.seen = True
            if s.tsval is not None:
                self.tsecr = s.tsval


    # -- where the namespace's tables have it ------------------------------------------------
    def entry(self) -> Entry | None:
        """This flow's line in /proc/net/tcp (a request, socket or timewait sock)."""
        return find(self.h, self.lport, self.rport)

    def in_table(self) -> bool:
        """Is the 4-tuple in the established table?"""
        return self.entry() is not None

    def tw_state(self) -> str | None:
        """The substate ("FIN_WAIT2" or "TIME_WAIT") of the timewait sock holding the flow."""
        e = self.entry()
        return e.state if e is not None and e.kind == "timewait" else None


class Request(Flow):
    """A request sock in the listener's SYN queue (the peer sent a SYN, we a SYN-ACK)."""

    def __init__(self, h: Harness, listener: Socket, lport: int, rport: int, seq: int,
                 ack: int, tsval: int | None) -> None:
        super().__init__(h, lport, rport, seq, ack, tsval)
        self.listener = listener
        self.synack: TcpSegment | None = None

    def complete(self) -> list[Packet]:
        """The third ACK (acknowledges our SYN-ACK); the child goes to the accept queue."""
        return self.send(ack=self.nxt)


class Conn(Flow):
    """A full socket of ours and the peer's side of it."""

    def __init__(self, h: Harness, sock: Socket, lport: int, rport: int, seq: int, ack: int,
                 tsval: int | None, listener: Socket | None = None) -> None:
        super().__init__(h, lport, rport, seq, ack, tsval)
        self.sock = sock
        self.listener = listener
        self.fin: TcpSegment | None = None  # our FIN, once sent

    @property
    def state(self) -> str:
        return self.sock.state

    def ours_fin(self) -> TcpSegment:
        """Our FIN, from what we sent."""
        fins = [p.seg for p in self.sent if p.seg.flags & FIN]
        assert fins, "we sent no FIN"
        return fins[-1]


class Listening:
    """A listening socket."""

    def __init__(self, h: Harness, sock: Socket, port: int) -> None:
        self.h = h
        self.sock = sock
        self.port = port


def _harness(h: Harness | None) -> Harness:
    return h if h is not None else Harness()


# --- the fixtures, one per state ----------------------------------------------------------
def listen(h: Harness | None = None, port: int = LISTEN_PORT, backlog: int = 5) -> Listening:
    """LISTEN: bind(0.0.0.0:port), listen(backlog). Nothing is sent."""
    h = _harness(h)
    return Listening(h, h.listener(port=port, backlog=backlog), port)


def syn_recv(h: Harness | None = None, listener: Listening | None = None,
             sport: int = CLIENT_PORT, isn: int = CLIENT_ISN, ts: int | None = 100,
             wscale: int | None = 7, mss: int = 1460, sack: bool = True) -> Request:
    """SYN_RECV (a request sock): the peer's SYN (helpers.syn: ISN 1000, TSval 100, MSS 1460,
    wscale 7, SACK, unless given) reaches a listener (a new one on 8080 unless given); we
    answer with a SYN-ACK. The peer's TSval is one more from then on."""
    if listener is None:
        listener = listen(h)
    h = listener.h
    out = h.send(syn(sport, seq=isn, dport=listener.port, ts=ts, mss=mss, wscale=wscale,
                     sack=sack))
    req = Request(h, listener.sock, listener.port, sport, (isn + 1) & 0xFFFFFFFF, 0,
                  None if ts is None else ts + 1)
    req.saw(out)
    assert len(req.sent) == 1 and req.sent[0].seg.flags == SYN | ACK, req.sent
    req.synack = req.sent[0].seg
    req.ack = req.nxt
    return req


def handshake(listener: Listening, sport: int = CLIENT_PORT, isn: int = CLIENT_ISN,
              ts: int | None = 100, wscale: int | None = 7, mss: int = 1460,
              sack: bool = True) -> Request:
    """A passive open up to the accept queue: syn_recv, then the third ACK, which gets no
    answer; the child waits for accept()."""
    req = syn_recv(None, listener, sport, isn, ts, wscale, mss, sack)
    out = req.complete()
    assert out == [], out
    return req


def established_passive(h: Harness | None = None, listener: Listening | None = None,
                        sport: int = CLIENT_PORT, isn: int = CLIENT_ISN, ts: int | None = 100,
                        wscale: int | None = 7, mss: int = 1460, sack: bool = True) -> Conn:
    """ESTABLISHED by a passive open: handshake (with its SYN options), accept()."""
    req = handshake(listener if listener is not None else listen(h), sport, isn, ts, wscale,
                    mss, sack)
    conn, _ = req.listener.accept()
    c = Conn(req.h, conn, req.lport, req.rport, req.seq, req.ack, req.tsval, req.listener)
    c.sent, c.nxt, c.seen, c.tsecr = req.sent, req.nxt, req.seen, req.tsecr
    return c


def syn_sent(h: Harness | None = None, dport: int = PEER_PORT) -> Conn:
    """SYN_SENT: a non-blocking connect() to the peer (198.18.0.2:80) sends our SYN. The
    template's seq is the ISN the peer will answer with (5000), its TSval 1000."""
    h = _harness(h)
    s = h.socket()
    s.setblocking(False)
    assert s.connect_ex((PEER, dport)) == errno.EINPROGRESS
    return connecting(h, s)


def connecting(h: Harness, sock: Socket) -> Conn:
    """The flow of a socket whose connect() just sent its SYN (taken from the harness)."""
    out = h.take()
    assert len(out) == 1 and out[0].seg.flags == SYN, out
    c = Conn(h, sock, sock.getsockname()[1], out[0].seg.dport, PEER_ISN, 0, 1000)
    c.saw(out)
    c.ack = c.nxt
    return c


def established_active(h: Harness | None = None, dport: int = PEER_PORT) -> Conn:
    """ESTABLISHED by an active open: syn_sent, the peer's SYN-ACK (MSS 1460, wscale 7,
    SACK, window 65160), our ACK; connect_ex() reports 0."""
    c = syn_sent(h, dport)
    out = c.send(SYN | ACK, window=65160, mss=1460, wscale=7, sack_perm=True)
    assert [p.seg.flags for p in out] == [ACK], out
    assert c.sock.connect_ex((PEER, dport)) == 0
    c.ts_base, c.ts_at = 1001, c.h.now
    return c


def established(h: Harness | None = None, active: bool = True) -> Conn:
    return established_active(h) if active else established_passive(h)


def _send_fin(c: Conn, orphan: bool) -> None:
    if orphan:
        c.sock.close()
    else:
        c.sock.shutdown(socket.SHUT_WR)
    c.take()
    c.fin = c.ours_fin()


def fin_wait1(h: Harness | None = None, active: bool = True, orphan: bool = False) -> Conn:
    """FIN_WAIT1: established, then our FIN (shutdown(SHUT_WR); close() when `orphan`)."""
    c = established(h, active)
    _send_fin(c, orphan)
    return c


def fin_wait2(h: Harness | None = None, active: bool = True, orphan: bool = False) -> Conn:
    """FIN_WAIT2: fin_wait1, then the peer's ACK of our FIN. An orphan (close()) becomes a
    timewait sock in substate FIN_WAIT2 at once (tcp_fin_timeout <= 60 s)."""
    c = fin_wait1(h, active, orphan)
    out = c.send(ack=c.nxt)
    assert out == [], out
    return c


def closing(h: Harness | None = None, active: bool = True, orphan: bool = False) -> Conn:
    """CLOSING: fin_wait1, then the peer's FIN that does not acknowledge ours; we ACK it."""
    c = fin_wait1(h, active, orphan)
    out = c.send(FIN | ACK)
    assert [p.seg.flags for p in out] == [ACK], out
    return c


def time_wait(h: Harness | None = None, active: bool = True, orphan: bool = False) -> Conn:
    """TIME_WAIT: fin_wait2, then the peer's FIN; we ACK it and a timewait sock remains."""
    c = fin_wait2(h, active, orphan)
    out = c.send(FIN | ACK, ack=c.nxt)
    assert [p.seg.flags for p in out] == [ACK], out
    return c


def close_wait(h: Harness | None = None, active: bool = True) -> Conn:
    """CLOSE_WAIT: established, then the peer's FIN; we ACK it. (tcp_fin enters pingpong
    mode, so the ACK is delayed: by ato, still 0 before any data, so it leaves on the
    delayed-ACK timer at the same instant.)"""
    c = established(h, active)
    out = c.send(FIN | ACK)
    assert out == []
    out = [p for _, p in c.advance(c.h.now)]
    assert [p.seg.flags for p in out] == [ACK], out
    return c


def last_ack(h: Harness | None = None, active: bool = True) -> Conn:
    """LAST_ACK: close_wait, then close() sends our FIN."""
    c = close_wait(h, active)
    c.sock.close()
    c.take()
    c.fin = c.ours_fin()
    return c


# --- the namespace's tables, as /proc/net/tcp and ss show them ------------------------------
class Views(Protocol):
    """A Harness or a tuxtcp.Host."""

    def proc(self, path: str) -> str: ...

    def ss(self, args: str = "-tan") -> str: ...


class Entry(NamedTuple):
    """One /proc/net/tcp line (and the retransmit count `ss -o` shows with its timer)."""

    kind: str  # "listen", "request", "socket" or "timewait"
    state: str  # TcpState name; a request is SYN_RECV, a timewait sock its substate
    lport: int
    rport: int
    tx_queue: int
    rx_queue: int
    timer: int  # tr: 0 none, 1 retransmit/SYN-ACK, 2 keepalive, 3 timewait, 4 probe
    when: float  # seconds to the timer, in USER_HZ ticks
    retrnsmt: int  # sockets: retransmits; requests: num_timeout
    retrans: int  # `ss -o`'s third timer field: requests' num_retrans (-1 without a timer)
    inode: int


def _port(hexaddr: str) -> int:
    return int(hexaddr.split(":")[1], 16)


def _ss_retrans(v: Views) -> dict[tuple[int, int], int]:
    out = {}
    for line in v.ss("-tano").splitlines()[1:]:
        f = line.split()
        if len(f) >= 6 and f[5].startswith("timer:("):
            local, peer = f[3].rsplit(":", 1)[1], f[4].rsplit(":", 1)[1]
            if peer != "*":
                out[(int(local), int(peer))] = int(f[5][:-1].split(",")[2])
    return out


def table(v: Views) -> list[Entry]:
    """Every socket /proc/net/tcp lists: listeners first, then the established table."""
    retrans = _ss_retrans(v)
    out = []
    for line in v.proc("net/tcp").splitlines()[1:]:
        f = line.split()
        st, tr = int(f[3], 16), int(f[5].split(":")[0], 16)
        lport, rport, inode = _port(f[1]), _port(f[2]), int(f[9])
        if st == TcpState.LISTEN:
            kind = "listen"
        elif tr == 3:
            kind = "timewait"
        elif st == TcpState.SYN_RECV and inode == 0:
            kind = "request"
        else:
            kind = "socket"
        txq, rxq = (int(x, 16) for x in f[4].split(":"))
        out.append(Entry(kind, TcpState(st).name, lport, rport, txq, rxq, tr,
                         int(f[5].split(":")[1], 16) / 100, int(f[6], 16),
                         retrans.get((lport, rport), -1), inode))
    return out


def find(v: Views, lport: int, rport: int) -> Entry | None:
    """The established-table entry (socket, request or timewait) for our port and the peer's."""
    for e in table(v):
        if e.kind != "listen" and e.lport == lport and e.rport == rport:
            return e
    return None


def established_table(v: Views) -> list[Entry]:
    """What is in the established hash: requests, sockets, timewait socks (no listeners)."""
    return [e for e in table(v) if e.kind != "listen"]


def syn_queue_len(v: Views, port: int = LISTEN_PORT) -> int:
    """The SYN queue of the listener on `port`: its request socks."""
    return sum(1 for e in table(v) if e.kind == "request" and e.lport == port)


def accept_queue_len(listener: Socket) -> int:
    """Children ready for accept() (tcp_info's tcpi_unacked on a listener)."""
    return listener.tcp_info().tcpi_unacked


def backlog(listener: Socket) -> int:
    """The listener's effective backlog (tcp_info's tcpi_sacked on a listener)."""
    return listener.tcp_info().tcpi_sacked


def timer_expires(h: Harness, lport: int, rport: int) -> float | None:
    """The absolute deadline of the timer of the established-table entry for (lport, rport):
    read from the engine, read-only, because /proc/net/tcp and ss round it to 10 ms / 1 s."""
    for obj in entries(h.ns):
        if getattr(obj, "lport", None) == lport and getattr(obj, "rport", None) == rport:
            if isinstance(obj, Timer):  # request and timewait socks embed their timer
                return float(obj.when) if obj.pending else None
            timer = getattr(obj, "rtx_timer", None)
            return None if timer is None else float(timer.when)
    return None


# --- on the simulated network (tuxtcp.World) -------------------------------------------------
def pair(seed: int = 1, timer_model: str = "exact", delay: float = 0.0005, loss: float = 0.0,
         reorder: float = 0.0,
         duplicate: float = 0.0) -> tuple[tuxtcp.World, tuxtcp.Host, tuxtcp.Host]:
    """A world with srv (198.18.0.1) and cli (198.18.0.2) on one link (0.5 ms unless given)."""
    w = tuxtcp.World(seed=seed, timer_model=timer_model)
    srv = w.host("srv", "198.18.0.1")
    cli = w.host("cli", "198.18.0.2")
    w.link(srv, cli, delay=delay, loss=loss, reorder=reorder, duplicate=duplicate)
    return w, srv, cli


def connected(srv: tuxtcp.Host, cli: tuxtcp.Host, backlog: int = 5,
              timeout: float | None = None, listen_on: tuple[str, int] = ("0.0.0.0", 80),
              to: tuple[str, int] | None = None, bind: tuple[str, int] | None = None,
              reuse: bool = False) -> tuple[Socket, Socket, Socket]:
    """listen on srv (0.0.0.0:80 unless given), a blocking connect from cli (to srv's address
    and that port unless given; SO_REUSEADDR and bind first when asked), accept:
    (listener, client, accepted)."""
    ls = srv.socket()
    ls.bind(listen_on)
    ls.listen(backlog)
    c = cli.socket()
    if reuse:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if bind is not None:
        c.bind(bind)
    c.settimeout(timeout)
    c.connect(to or (srv.address, listen_on[1]))
    conn, _ = ls.accept()
    return ls, c, conn
