"""The established table (the kernel's inet_ehash): each connection's full socket, request sock
or TIME_WAIT sock by its 4-tuple, as __inet_lookup_established finds them.

No lookup builds the 96-bit 4-tuple as one int (its shifts and or allocate four ints in the
compiled build, about 1,000 instructions a lookup, a dozen lookups a connection). Each end is
packed as addr << 16 | port (48 bits); the namespace's `ehash` is keyed by the two ends folded
into one int below 2**62 (`_key`: a machine word, boxed once a lookup), and holds the one entry
with that key, whose ends are then compared (the kernel, too, compares the whole 4-tuple after
the hash: INET_MATCH). The fold keeps every bit of either end when the other is fixed (a
server's connections share its local end, a client's the server's remote end), so only
4-tuples differing in both ends can share a key; they share a _Chain of their entries by both
ends. The table answers as a dict keyed by the 4-tuple would: one entry per 4-tuple, a later
one replacing an earlier, in the order they were first hashed.
"""

from __future__ import annotations

from ..net.namespace import NetNamespace
from ..net.sock_common import SockCommon
from .sock import TcpSock


class _Chain:
    """The entries whose 4-tuples fold to one key (two or more), by (local, remote)."""

    __slots__ = ("by_ends",)

    def __init__(self) -> None:
        self.by_ends: dict[tuple[int, int], object] = {}


def _key(local: int, remote: int) -> int:
    """The table's key of a 4-tuple: the remote end, the local end shifted 14 bits over it,
    and the local port once more in the low bits (which a dict's index takes first), so
    both ports vary there."""
    return remote ^ (local << 14) ^ (local & 0xFFFF)


def _ends_of(obj: object) -> tuple[int, int]:
    """The (local, remote) ends an entry is hashed under (a full socket keeps the ones it was
    hashed with: its address may be changed after, e.g. a failed connect() clears it)."""
    if isinstance(obj, SockCommon):
        return obj.local, obj.remote
    assert isinstance(obj, TcpSock)
    return obj.ehash_local, obj.ehash_remote


def _matches(obj: object, local: int, remote: int) -> bool:
    """Whether an entry is hashed under these ends (`_ends_of(obj) == (local, remote)`
    without building two tuples of boxed ints on every lookup)."""
    if isinstance(obj, SockCommon):
        return obj.local == local and obj.remote == remote
    assert isinstance(obj, TcpSock)
    return obj.ehash_local == local and obj.ehash_remote == remote


def lookup(ns: NetNamespace, local: int, remote: int) -> object | None:
    """The entry for local end `local` and remote end `remote`, or None."""
    obj = ns.ehash.get(_key(local, remote))
    if obj is None:
        return None
    if isinstance(obj, _Chain):
        return obj.by_ends.get((local, remote))
    return obj if _matches(obj, local, remote) else None


def insert(ns: NetNamespace, obj: object, local: int, remote: int) -> None:
    """inet_ehash_insert: put `obj` under the 4-tuple (an entry already there is replaced)."""
    table = ns.ehash
    key: object = _key(local, remote)
    old = table.get(key)
    if old is None:
        table[key] = obj
    elif isinstance(old, _Chain):
        old.by_ends[(local, remote)] = obj
    elif _matches(old, local, remote):
        table[key] = obj
    else:
        chain = _Chain()
        chain.by_ends[_ends_of(old)] = old
        chain.by_ends[(local, remote)] = obj
        table[key] = chain


def remove(ns: NetNamespace, obj: object, local: int, remote: int) -> bool:
    """sk_nulls_del_node_init_rcu (inet_unhash, inet_twsk_kill, reqsk_queue_unlink): take `obj`
    out if it is the entry under the 4-tuple. True if it was."""
    table = ns.ehash
    key: object = _key(local, remote)
    cur = table.get(key)
    if cur is obj:
        del table[key]
        return True
    if isinstance(cur, _Chain):
        by_ends = cur.by_ends
        ends = (local, remote)
        if by_ends.get(ends) is obj:
            del by_ends[ends]
            if len(by_ends) == 1:
                for last in by_ends.values():
                    table[key] = last  # one left: back in the chain's place
            return True
    return False


def entries(ns: NetNamespace) -> list[object]:
    """Every entry, in the order their keys were first hashed."""
    out: list[object] = []
    for obj in ns.ehash.values():
        if isinstance(obj, _Chain):
            out.extend(obj.by_ends.values())
        else:
            out.append(obj)
    return out
