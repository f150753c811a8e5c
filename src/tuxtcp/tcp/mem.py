"""TCP memory accounting: what each socket holds (the skmem fields `ss -m` shows) and the
namespace's pages against net.ipv4.tcp_mem (net/core/sock.c: __sk_mem_raise_allocated,
__sk_mem_reduce_allocated; tcp.c: tcp_enter_memory_pressure, tcp_leave_memory_pressure,
tcp_check_oom).

A socket holds whole pages (sk_forward_alloc is what it holds beyond what is queued). The kernel
charges skb truesize as segments are queued and reclaims all but the last partial page when they
go (6.x keeps sk_forward_alloc under a page), so a socket holds ceil(charged / PAGE_SIZE) pages;
`mem_sync` keeps that true after each change of the queues. Not modelled: the per-CPU reserve
of tcp_memory_per_cpu_fw_alloc (the kernel's global figure lags by up to 1 MiB per CPU) and
memory cgroups. Charges: the truesize of each segment in the receive and out-of-order queues
(skb_truesize: what a TUN device's skb costs) and sk_wmem_queued (bytes written or in flight
plus SKB_OVERHEAD per queued segment)."""

from __future__ import annotations

from typing import Final

from .sock import TcpSock

PAGE_SIZE: Final = 4096
PAGE_SHIFT: Final = 12
# the bookkeeping cost of one queued segment (its sk_buff and skb_shared_info), added to its
# bytes as skb->truesize is
SKB_OVERHEAD: Final = 576
SKB_STRUCT_SIZE: Final = 256  # SKB_DATA_ALIGN(sizeof(struct sk_buff))
SKB_SHINFO_SIZE: Final = 320  # SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
NET_SKB_PAD: Final = 64  # headroom before a received packet (NET_IP_ALIGN is 0 on x86)
PAGE_ALLOC_COSTLY_ORDER: Final = 3  # the largest page block alloc_skb_with_frags asks for
# tuple[int, ...]: the compiled build walks it natively (a fixed-length tuple's loop is generic)
KMALLOC_SIZES: Final[tuple[int, ...]] = (64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192)
SOCK_MIN_SNDBUF: Final = 4608  # 2 * TCP_SKB_MIN_TRUESIZE
TCP_RMEM_MIN: Final = 4096  # tcp_rmem[0]: what a socket may always hold, pressure or not
TCP_WMEM_MIN: Final = 4096  # tcp_wmem[0]
SK_MEM_SEND: Final = 0
SK_MEM_RECV: Final = 1


TCP_WMEM_MAX: Final = 4 * 1024 * 1024  # tcp_wmem[2]


def sndbuf(sk: TcpSock) -> int:
    """sk_sndbuf, grown like tcp_sndbuf_expand (about 4 x cwnd segments) unless SO_SNDBUF
    locked it or TCP memory is under pressure (tcp_should_expand_sndbuf)."""
    if sk.buf_locked & 1 or sk.ns.tcp_memory_pressure >= 0:
        return sk.sndbuf
    return min(max(sk.sndbuf, 4 * sk.cwnd * max(sk.mss_cache, 536)), TCP_WMEM_MAX)


# tcp_collapse copies into skbs of at most SKB_MAX_ORDER(0, 0) bytes: a page less its
# skb_shared_info
COLLAPSE_CHUNK: Final = PAGE_SIZE - SKB_SHINFO_SIZE


def alloc_skb_truesize(size: int) -> int:
    """skb->truesize of alloc_skb(size): the head rounded up to its kmalloc size (the data,
    then skb_shared_info), plus the sk_buff."""
    need = ((size + 63) & ~63) + SKB_SHINFO_SIZE
    head = next((k for k in KMALLOC_SIZES if k >= need), need)
    return head + SKB_STRUCT_SIZE


def skb_truesize(ip_len: int) -> int:
    """skb->truesize of a received IPv4 packet of `ip_len` bytes as a TUN device builds it
    (tun_get_user -> tun_alloc_skb without a virtio header): under a page with its headroom,
    one kmalloc'ed head (the packet, NET_SKB_PAD, skb_shared_info, rounded up to a kmalloc
    size); larger, page blocks from alloc_skb_with_frags (order 3 down, each the largest
    that the rest still fills); plus the sk_buff. Measured on 6.18 with SK_MEMINFO_RMEM_ALLOC:
    2304 for 1000 payload bytes, 4352 for 2000, 12544 for 10000, 41216 for 39000."""
    if NET_SKB_PAD + ip_len < PAGE_SIZE:
        head = ((NET_SKB_PAD + ip_len + 63) & ~63) + SKB_SHINFO_SIZE
        for size in KMALLOC_SIZES:
            if head <= size:
                return size + SKB_STRUCT_SIZE
        return 2 * PAGE_SIZE + SKB_STRUCT_SIZE
    total = 0
    order = PAGE_ALLOC_COSTLY_ORDER
    left = ip_len
    while left > 0:
        aligned = (left + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
        while order and aligned < (PAGE_SIZE << order):
            order -= 1
        total += PAGE_SIZE << order
        left -= PAGE_SIZE << order
    return total + SKB_STRUCT_SIZE


def rmem_alloc(sk: TcpSock) -> int:
    """sk_rmem_alloc: the truesize of what the receive and out-of-order queues hold (kept as
    segments come and go: sk.rcvq_truesize, sk.ooo_bytes)."""
    return sk.rcvq_truesize + sk.ooo_bytes


def wmem_queued(sk: TcpSock) -> int:
    """sk_wmem_queued: what the write and retransmission queues hold, with each queued
    segment's overhead (the unsent bytes count as one segment per MSS)."""
    unsent = len(sk.send_buf)
    segs = len(sk.rtx_queue)
    if unsent:
        segs += -(-unsent // max(sk.mss_cache, 1))
    return unsent + ((sk.snd_nxt - sk.snd_una) & 0xFFFFFFFF) + segs * SKB_OVERHEAD


def forward_alloc(sk: TcpSock) -> int:
    """sk_forward_alloc: held beyond what is charged (under a page)."""
    return (sk.mem_pages << PAGE_SHIFT) - rmem_alloc(sk) - wmem_queued(sk)


def under_memory_pressure(sk: TcpSock) -> bool:
    """tcp_under_memory_pressure."""
    return sk.ns.tcp_memory_pressure >= 0


def _enter_pressure(sk: TcpSock, now: float) -> None:
    """tcp_enter_memory_pressure: once per episode, TCPMemoryPressures."""
    ns = sk.ns
    if ns.tcp_memory_pressure < 0:
        ns.tcp_memory_pressure = now
        ns.mib.tcp_ext.TCPMemoryPressures += 1


def _leave_pressure(sk: TcpSock, now: float) -> None:
    """tcp_leave_memory_pressure: the episode's length in ms, TCPMemoryPressuresChrono."""
    ns = sk.ns
    if ns.tcp_memory_pressure >= 0:
        ns.mib.tcp_ext.TCPMemoryPressuresChrono += int(
            round((now - ns.tcp_memory_pressure) * 1000))
        ns.tcp_memory_pressure = -1.0


def mem_sync(sk: TcpSock, now: float) -> None:
    """Bring the socket's pages to what it has queued: sk_mem_charge raising
    tcp_memory_allocated (and entering pressure above tcp_mem[1], leaving it at or below
    tcp_mem[0]) or sk_mem_reclaim giving pages back (leaving pressure below tcp_mem[0])."""
    charged = rmem_alloc(sk) + wmem_queued(sk)
    pages = (charged + PAGE_SIZE - 1) >> PAGE_SHIFT
    delta = pages - sk.mem_pages
    if not delta:
        return
    sk.mem_pages = pages
    ns = sk.ns
    ns.tcp_memory_allocated += delta
    lo, mid, _ = ns.sysctl.tcp_mem
    allocated = ns.tcp_memory_allocated
    if delta > 0:
        if allocated <= lo:
            _leave_pressure(sk, now)
        elif allocated > mid:
            _enter_pressure(sk, now)
    elif allocated < lo:
        _leave_pressure(sk, now)


def mem_release(sk: TcpSock, now: float) -> None:
    """The socket is gone (sk_mem_reclaim of everything on destruction)."""
    if sk.mem_pages:
        ns = sk.ns
        ns.tcp_memory_allocated -= sk.mem_pages
        sk.mem_pages = 0
        if ns.tcp_memory_allocated < ns.sysctl.tcp_mem[0]:
            _leave_pressure(sk, now)


def mem_schedule(sk: TcpSock, size: int, kind: int, now: float) -> bool:
    """__sk_mem_schedule for `size` more bytes (sk_rmem_schedule / sk_wmem_schedule): free
    while the socket's forward allocation covers it; else the pages it needs are raised if
    the namespace is under tcp_mem[0], or under tcp_mem[2] while the socket holds less than
    tcp_rmem[0] / tcp_wmem[0], or is not under pressure, or holds less than its fair share
    (tcp_mem[2] / sockets) under pressure. Over the hard limit a stream socket still sends
    when its queue is past sndbuf (it could not block)."""
    delta = size - forward_alloc(sk)
    if delta <= 0:
        return True
    amt = (delta + PAGE_SIZE - 1) >> PAGE_SHIFT
    ns = sk.ns
    lo, mid, hi = ns.sysctl.tcp_mem
    allocated = ns.tcp_memory_allocated + amt
    if allocated <= lo:
        _leave_pressure(sk, now)
        return True
    if allocated > mid:
        _enter_pressure(sk, now)
    if allocated <= hi:
        if kind == SK_MEM_RECV:
            if rmem_alloc(sk) < TCP_RMEM_MIN:
                return True
        elif wmem_queued(sk) < TCP_WMEM_MIN:
            return True
        if ns.tcp_memory_pressure < 0:
            return True
        # sk_mem_pages(wmem_queued + rmem_alloc + forward_alloc): the pages it holds
        if hi > len(ns.sockets) * sk.mem_pages:
            return True
    # suppress_allocation
    return kind == SK_MEM_SEND and wmem_queued(sk) + size >= sndbuf(sk)


def check_oom(sk: TcpSock, shift: int) -> bool:
    """tcp_check_oom: too many orphans (tcp_orphan_count << shift > tcp_max_orphans), or this
    socket queues more than SOCK_MIN_SNDBUF while TCP memory is over tcp_mem[2]."""
    ns = sk.ns
    too_many_orphans = (ns.tcp_orphan_count << shift) > ns.sysctl.tcp_max_orphans
    out_of_memory = (wmem_queued(sk) > SOCK_MIN_SNDBUF
                     and ns.tcp_memory_allocated > ns.sysctl.tcp_mem[2])
    return too_many_orphans or out_of_memory


def skmem(sk: TcpSock) -> tuple[int, int, int, int, int, int, int, int, int]:
    """The skmem:(r,rb,t,tb,f,w,o,bl,d) fields of `ss -m` (sock_diag's SK_MEMINFO): rmem_alloc,
    rcvbuf, wmem_alloc (0: a segment leaves the host at once here, nothing waits in a qdisc),
    sndbuf, fwd_alloc, wmem_queued, optmem, backlog (0: no socket lock to queue behind),
    drops."""
    return (rmem_alloc(sk), sk.rcvbuf, 0, sndbuf(sk), max(forward_alloc(sk), 0),
            wmem_queued(sk), 0, 0, sk.sk_drops)
