"""/proc/net/tcp read back into socket records (observe/records.py): what `ss` falls back to
when netlink sock_diag is not there, and a second source to check sock_diag's against.

The columns (tcp4_seq_show): sl, local and remote address (the network-order u32 printed as a
host-order %08X) and port (%04X), st, tx_queue:rx_queue, tr:tm->when (in USER_HZ ticks),
retrnsmt, uid, timeout, inode, then refcount, the socket's pointer and TCP figures. The queues
are /proc's: a listener's rx_queue is its accept queue and its tx_queue 0 (sock_diag gives the
backlog there); a request's and a TIME_WAIT sock's are 0.
"""

from __future__ import annotations

from .records import SockRecord

USER_HZ_MS = 10  # one USER_HZ tick (1/100 s) in ms


def proc_addr(field: str) -> tuple[int, int]:
    """An `ADDR:PORT` column (%08X:%04X, the address's network-order u32 printed host-order)
    -> (host-order address, port)."""
    a, p = field.split(":")
    return int.from_bytes(int(a, 16).to_bytes(4, "little"), "big"), int(p, 16)


def parse_net_tcp(text: str) -> list[SockRecord]:
    """Every line of a /proc/net/tcp text as a record; lines that do not parse are skipped."""
    out: list[SockRecord] = []
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 10:
            continue
        try:
            saddr, sport = proc_addr(f[1])
            daddr, dport = proc_addr(f[2])
            tx, rx = (int(x, 16) for x in f[4].split(":"))
            timer, when = (int(x, 16) for x in f[5].split(":"))
            out.append(SockRecord(int(f[3], 16), saddr, sport, daddr, dport, timer=timer,
                                  retrans=int(f[6], 16), expires=when * USER_HZ_MS,
                                  rqueue=rx, wqueue=tx, uid=int(f[7]), inode=int(f[9])))
        except ValueError:
            continue
    return out
