"""Routes' MTU and the path MTUs learned for them (route.c: ipv4_mtu, __ip_rt_update_pmtu and
the next-hop exceptions, fib_nh_exception, that hold what ICMP "fragmentation needed" taught).

A namespace routes to loopback and its own addresses over lo (MTU 65536, which ipv4_mtu caps at
IP_MAX_MTU, 65535) and to everything else over one Ethernet-sized device (1500). A learned path
MTU applies to one destination until net.ipv4.route.mtu_expires seconds pass; one below
net.ipv4.route.min_pmtu is raised to it and locked: the route then sends without DF
(ip_dont_fragment) and learns no more until it expires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .namespace import NetNamespace

MTU_ETHERNET: Final = 1500
MTU_LOOPBACK: Final = 65536
IP_MAX_MTU: Final = 65535


class PmtuException:
    """A learned path MTU for one destination (fib_nh_exception: fnhe_pmtu, fnhe_expires,
    fnhe_mtu_locked)."""

    __slots__ = ("mtu", "expires", "locked")

    def __init__(self, mtu: int, expires: float, locked: bool) -> None:
        self.mtu = mtu
        self.expires = expires
        self.locked = locked


def _exception(ns: NetNamespace, daddr: int, now: float) -> PmtuException | None:
    exc = ns.pmtu.get(daddr)
    if exc is not None and now >= exc.expires:
        del ns.pmtu[daddr]  # rt_bind_exception: an expired exception is dropped
        return None
    return exc


def device_mtu(ns: NetNamespace, daddr: int) -> int:
    """The MTU of the device the route to `daddr` leaves by."""
    if ns.is_local(daddr):
        return MTU_LOOPBACK
    return MTU_ETHERNET


def route_mtu(ns: NetNamespace, daddr: int, now: float) -> int:
    """ipv4_mtu (dst_mtu): the learned path MTU while it lasts, else the device's, at most
    IP_MAX_MTU."""
    if ns.pmtu:
        exc = _exception(ns, daddr, now)
        if exc is not None:
            return exc.mtu
    return min(device_mtu(ns, daddr), IP_MAX_MTU)


def dont_fragment(ns: NetNamespace, daddr: int, now: float) -> bool:
    """ip_dont_fragment for a socket in IP_PMTUDISC_WANT (the default): DF unless the
    route's MTU is locked."""
    if not ns.pmtu:
        return True
    exc = _exception(ns, daddr, now)
    return exc is None or not exc.locked


def update_pmtu(ns: NetNamespace, daddr: int, mtu: int, now: float) -> None:
    """__ip_rt_update_pmtu: learn that the path to `daddr` carries at most `mtu` bytes. Never
    raises the MTU; a locked route learns nothing; below net.ipv4.route.min_pmtu the MTU
    becomes that minimum (or stays, if already lower) and locks; the same MTU again only
    renews an exception past half its life."""
    exc = _exception(ns, daddr, now)
    if exc is not None and exc.locked:
        return  # ip_mtu_locked
    old = exc.mtu if exc is not None else min(device_mtu(ns, daddr), IP_MAX_MTU)
    if old < mtu:
        return
    sysctl = ns.sysctl
    lock = False
    if mtu < sysctl.min_pmtu:
        lock = True
        mtu = min(old, sysctl.min_pmtu)
    expires = sysctl.mtu_expires
    if (exc is not None and exc.mtu == mtu and not lock
            and now < exc.expires - expires / 2):
        return
    ns.pmtu[daddr] = PmtuException(mtu, now + expires, lock)
