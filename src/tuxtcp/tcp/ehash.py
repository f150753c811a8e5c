"""The established table (the kernel's inet_ehash): each connection's full socket, request sock
or TIME_WAIT sock by its 4-tuple, as __inet_lookup_established finds them.

No lookup builds the 96-bit 4-tuple as one int (its shifts and or allocate four ints in the
compiled build, about 1,000 instructions a lookup, a dozen lookups a connection). The
namespace's `ehash` maps the remote end, raddr << 16 | rport (it fits a machine word), to the
one entry with that remote end, whose local end, laddr << 16 | lport, is then compared (the
kernel, too, compares the whole 4-tuple after the hash: INET_MATCH); where several local ends
share a remote end (one peer port talking to two of this host's ports or addresses), the remote
end maps to a _Chain of its entries by local end. The table answers as a dict keyed by the
4-tuple would: one entry per 4-tuple, a later one replacing an earlier. (Both levels are
typed as dicts of objects so that an end used twice, to find and then to set or delete, is
boxed once.)
"""

from __future__ import annotations

from ..net.namespace import NetNamespace
from ..net.sock_common import SockCommon
from .sock import TcpSock


class _Chain:
    """The entries that share one remote end, by local end (two or more)."""

    __slots__ = ("by_local",)

    def __init__(self) -> None:
        self.by_local: dict[object, object] = {}


def _local_of(obj: object) -> int:
    """The local end an entry is hashed under (a full socket keeps the one it was hashed
    with: its address may be changed after, e.g. a failed connect() clears it)."""
    if isinstance(obj, SockCommon):
        return obj.local
    assert isinstance(obj, TcpSock)
    return obj.ehash_local


def lookup(ns: NetNamespace, local: int, remote: int) -> object | None:
    """The entry for local end `local` and remote end `remote`, or None."""
    obj = ns.ehash.get(remote)
    if obj is None:
        return None
    if isinstance(obj, _Chain):
        return obj.by_local.get(local)
    return obj if _local_of(obj) == local else None


def insert(ns: NetNamespace, obj: object, local: int, remote: int) -> None:
    """inet_ehash_insert: put `obj` under the 4-tuple (an entry already there is replaced)."""
    table = ns.ehash
    key: object = remote
    old = table.get(key)
    if old is None:
        table[key] = obj
    elif isinstance(old, _Chain):
        old.by_local[local] = obj
    else:
        other = _local_of(old)
        if other == local:
            table[key] = obj
        else:
            chain = _Chain()
            chain.by_local[other] = old
            chain.by_local[local] = obj
            table[key] = chain


def remove(ns: NetNamespace, obj: object, local: int, remote: int) -> bool:
    """sk_nulls_del_node_init_rcu (inet_unhash, inet_twsk_kill, reqsk_queue_unlink): take `obj`
    out if it is the entry under the 4-tuple. True if it was."""
    table = ns.ehash
    key: object = remote
    cur = table.get(key)
    if cur is obj:
        del table[key]
        return True
    if isinstance(cur, _Chain):
        by_local = cur.by_local
        here: object = local
        if by_local.get(here) is obj:
            del by_local[here]
            if len(by_local) == 1:
                for last in by_local.values():
                    table[key] = last  # one left: back in the chain's place
            return True
    return False


def entries(ns: NetNamespace) -> list[object]:
    """Every entry, in the order their remote ends were first hashed."""
    out: list[object] = []
    for obj in ns.ehash.values():
        if isinstance(obj, _Chain):
            out.extend(obj.by_local.values())
        else:
            out.append(obj)
    return out
