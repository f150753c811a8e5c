"""Port ownership: bind buckets, the bind-conflict rules and ephemeral port choice.

Follows net/ipv4/inet_connection_sock.c (inet_bind_conflict, inet_csk_find_open_port,
inet_csk_get_port) and net/ipv4/inet_hashtables.c (__inet_hash_connect, RFC 6056 algorithm 4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, TypeAlias

from .tcp_states import LISTEN, TIME_WAIT

if TYPE_CHECKING:
    import random

    from ..tcp.sock import TcpSock
    from ..tcp.twsock import TimeWaitSock

# what sits on a bind bucket: a full socket or a timewait sock (concrete classes, so the
# compiled build reads their fields natively)
Owner: TypeAlias = "TcpSock | TimeWaitSock"


class BindBucket:
    """struct inet_bind_bucket. `by_connect` = fastreuse/fastreuseport == -1 (made by connect)."""

    __slots__ = ("port", "owners", "by_connect")

    def __init__(self, port: int, by_connect: bool) -> None:
        self.port = port
        self.owners: dict[Owner, None] = {}  # insertion-ordered set
        self.by_connect = by_connect


def _tw_flags(sk2: Owner) -> tuple[bool, bool, bool]:
    is_tw = sk2.state == TIME_WAIT
    return sk2.reuse, sk2.reuseport, is_tw


def bind_conflict(sk: Owner, sk2: Owner, relax: bool, reuseport_ok: bool) -> bool:
    """inet_bind_conflict for one pair (addresses already known to overlap)."""
    if sk is sk2:
        return False
    reuse2, reuseport2, sk2_tw = _tw_flags(sk2)
    uid_ok = sk2_tw or sk.uid == sk2.uid
    if sk.reuse and reuse2 and sk2.state != LISTEN:
        return (not relax) or (not reuseport_ok and sk.reuseport and reuseport2 and uid_ok)
    return not (reuseport_ok and sk.reuseport and reuseport2 and uid_ok)


def _addr_overlap(a: int, b: int) -> bool:
    """inet_rcv_saddr_equal(match_wildcard=true) for IPv4."""
    return a == 0 or b == 0 or a == b


def bucket_conflict(sk: Owner, addr: int, bucket: BindBucket, relax: bool,
                    reuseport_ok: bool) -> bool:
    """inet_csk_bind_conflict: any owner on an overlapping address that conflicts."""
    for sk2 in bucket.owners:
        if sk2 is not sk and _addr_overlap(addr, sk2.laddr) and bind_conflict(
                sk, sk2, relax, reuseport_ok):
            return True
    return False


_PAGE_BITS: Final = 8
_PAGE_MASK: Final = (1 << _PAGE_BITS) - 1
_PAGES: Final = 1 << (16 - _PAGE_BITS)  # ports and perturbation indexes are 16-bit


class PortTable:
    """The namespace's bhash: port -> BindBucket.

    Both tables (bind buckets by port, table_perturb by index) are lists of 256-entry pages
    made on first use, not dicts: a dict keyed by a port above 256 boxes it for every lookup
    (an allocation, a hash and a compare, about 500 instructions in the compiled build), and
    a connect() looks up a handful; a namespace that binds nothing makes no page."""

    def __init__(self, rng: random.Random) -> None:
        self._buckets: list[list[BindBucket | None] | None] = [None] * _PAGES
        self.rng = rng
        # table_perturb[65536] (INET_TABLE_PERTURB_SIZE), filled lazily with random values
        # (same distribution; -1: not drawn yet)
        self._perturb: list[list[int] | None] = [None] * _PAGES

    def bucket(self, port: int) -> BindBucket | None:
        """The bind bucket of `port` (0-65535), or None."""
        page = self._buckets[port >> _PAGE_BITS]
        return None if page is None else page[port & _PAGE_MASK]

    def _set_bucket(self, port: int, b: BindBucket | None) -> None:
        page = self._buckets[port >> _PAGE_BITS]
        if page is None:
            page = self._buckets[port >> _PAGE_BITS] = [None] * (_PAGE_MASK + 1)
        page[port & _PAGE_MASK] = b

    def perturb(self, index: int) -> int:
        page = self._perturb[index >> _PAGE_BITS]
        if page is None:
            page = self._perturb[index >> _PAGE_BITS] = [-1] * (_PAGE_MASK + 1)
        v = page[index & _PAGE_MASK]
        if v < 0:
            v = page[index & _PAGE_MASK] = self.rng.getrandbits(32)
        return v

    def bump_perturb(self, index: int, by: int) -> None:
        v = (self.perturb(index) + by) & 0xFFFFFFFF
        page = self._perturb[index >> _PAGE_BITS]
        assert page is not None
        page[index & _PAGE_MASK] = v

    def add_owner(self, sk: TcpSock, port: int, by_connect: bool = False) -> BindBucket:
        b = self.bucket(port)
        if b is None:
            b = BindBucket(port, by_connect)
            self._set_bucket(port, b)
        b.owners[sk] = None
        sk.bucket = b
        sk.lport = port
        return b

    def remove_owner(self, sk: Owner) -> None:
        """inet_put_port."""
        b = sk.bucket
        if not isinstance(b, BindBucket):
            return
        owners = b.owners
        if sk in owners:  # (dict.pop with a default is a generic method call when compiled)
            del owners[sk]
        if not owners and self.bucket(b.port) is b:
            self._set_bucket(b.port, None)
        sk.bucket = None

    def replace_owner(self, old: Owner, new: Owner) -> None:
        """A timewait sock takes a full socket's place on its bucket."""
        b = old.bucket
        if not isinstance(b, BindBucket):
            return
        owners = b.owners
        if old in owners:
            del owners[old]
        owners[new] = None
        new.bucket = b
        old.bucket = None

    def get_port(self, sk: Owner, addr: int, port: int) -> bool:
        """inet_csk_get_port with a given port (explicit bind or listen re-check):
        relax=True, reuseport_ok=True. True when `sk` may own the port."""
        b = self.bucket(port)
        if b is None or not b.owners:
            return True
        return not bucket_conflict(sk, addr, b, relax=True, reuseport_ok=True)

    def find_open_port(self, sk: Owner, addr: int, low: int, high: int) -> int | None:
        """inet_csk_find_open_port: autobind for bind(0) and listen(); odd ports first by
        default (opposite parity to `low`), never sharing with overlapping owners."""
        high += 1
        halves: list[tuple[int, int]]
        if sk.reuse and high - low >= 4:
            # SO_REUSEADDR: try the lower half of the range first
            half = low + (((high - low) >> 2) << 1)
            halves = [(low, half), (half, high)]
        else:
            halves = [(low, high)]
        rng = self.rng
        for lo, hi in halves:
            remaining = hi - lo
            if remaining > 1:
                remaining &= ~1
            if remaining <= 0:
                continue
            offset = rng.randrange(remaining) | 1
            for _parity in range(2):
                port = lo + offset
                for _ in range(0, remaining, 2):
                    if port >= hi:
                        port -= remaining
                    b = self.bucket(port)
                    if b is None or not bucket_conflict(sk, addr, b, relax=False,
                                                        reuseport_ok=False):
                        return port
                    port += 2
                offset -= 1
                if remaining <= 1:
                    break
        return None
