"""/proc/net/sockstat for a tuxtcp namespace, and `ss -s` (iproute2 6.1's print_summary) from
the sockstat, sockstat6 and snmp texts of a tuxtcp namespace or of the live kernel.

sockstat's TCP line, as net/ipv4/proc.c:sockstat_seq_show words it: inuse (hashed full
sockets: listeners and connections, children waiting for accept() included, TIME_WAIT
not), orphan (closed by their owner, still alive), tw (TIME_WAIT socks), alloc (sockets
allocated), mem (pages charged to TCP). tuxtcp counts alloc as the hashed full sockets (a
socket created and neither connected nor listening, or closed and unhashed, is not
counted), and "sockets: used" as alloc (tuxtcp has no other protocol).

ss -s: "Total" is sockets used; TCP is alloc + tw, with estab from Tcp CurrEstab and closed as
alloc - (inuse4 + inuse6 - tw); then the transport table from inuse counts.
"""

from __future__ import annotations

from ..net.namespace import NetNamespace
from ..tcp.ehash import entries
from ..tcp.sock import TcpSock
from ..tcp.twsock import TimeWaitSock
from .nstat import parse_groups


def render_sockstat(ns: NetNamespace) -> str:
    hashed = sum(1 for lst in ns.lhash.values() for _ in lst)
    established = entries(ns)
    hashed += sum(1 for o in established if isinstance(o, TcpSock))
    tw = sum(1 for o in established if isinstance(o, TimeWaitSock))
    alloc = hashed
    return (f"sockets: used {alloc}\n"
            f"TCP: inuse {hashed} orphan {ns.tcp_orphan_count} tw {tw} alloc {alloc} "
            f"mem {ns.tcp_memory_allocated}\n"
            "UDP: inuse 0 mem 0\nUDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n")


def _fields(text: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(" ")
        words = rest.split()
        out[key.rstrip(":")] = {words[i]: int(words[i + 1])
                                for i in range(0, len(words) - 1, 2)
                                if words[i + 1].lstrip("-").isdigit()}
    return out


def curr_estab(snmp: str) -> int:
    """Tcp CurrEstab from a /proc/net/snmp text (0 when absent)."""
    for group, name, value in parse_groups(snmp):
        if (group, name) == ("Tcp", "CurrEstab"):
            return value
    return 0


def render_summary(sockstat: str, sockstat6: str, snmp: str) -> str:
    """ss -s."""
    v4, v6 = _fields(sockstat), _fields(sockstat6)

    def g(d: dict[str, dict[str, int]], key: str, field: str) -> int:
        return d.get(key, {}).get(field, 0)

    socks = g(v4, "sockets", "used")
    tcp4, tcp6 = g(v4, "TCP", "inuse"), g(v6, "TCP6", "inuse")
    tws, total = g(v4, "TCP", "tw"), g(v4, "TCP", "alloc")
    orphans = g(v4, "TCP", "orphan")
    udp4, udp6 = g(v4, "UDP", "inuse"), g(v6, "UDP6", "inuse")
    raw4, raw6 = g(v4, "RAW", "inuse"), g(v6, "RAW6", "inuse")
    frag4, frag6 = g(v4, "FRAG", "inuse"), g(v6, "FRAG6", "inuse")

    def row(name: str, a: int, b: int) -> str:
        return f"{name}\t  {a + b:<9d} {a:<9d} {b:<9d}\n"

    return (f"Total: {socks}\n"
            f"TCP:   {total + tws} (estab {curr_estab(snmp)}, closed "
            f"{total - (tcp4 + tcp6 - tws)}, orphaned {orphans}, timewait {tws})\n"
            "\n"
            "Transport Total     IP        IPv6\n"
            + row("RAW", raw4, raw6) + row("UDP", udp4, udp6) + row("TCP", tcp4, tcp6)
            + row("INET", raw4 + udp4 + tcp4, raw6 + udp6 + tcp6) + row("FRAG", frag4, frag6)
            + "\n")
