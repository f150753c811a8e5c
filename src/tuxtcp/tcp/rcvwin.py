"""The receive window: how much a socket offers and how that grows (tcp_input.c's "tuning
advertised window" and receive-buffer auto-tuning, tcp_output.c's tcp_select_initial_window
and __tcp_select_window), as 6.18 does it.

Three limits, as in the kernel:
- window_clamp: the most the socket will ever offer (set from tcp_full_space when the
  connection is established, less one segment held back for the application, tcp_app_win);
- rcv_ssthresh: the clamp in force now, starting at the first window offered and grown by
  tcp_grow_window as well-sized segments arrive;
- the free space: what sk_rcvbuf still holds, as window (tcp_space).

Buffer space turns into window through tp->scaling_ratio, the payload/truesize ratio of
the last segment that changed the peer's MSS estimate (tcp_measure_rcv_mss; 50% until the
first). What a received segment costs (its truesize) depends on the device it came through:
tuxtcp charges what a TUN device's skb costs (tcp.mem.skb_truesize), measured on 6.18 with
SK_MEMINFO_RMEM_ALLOC; the windows it then offers match the kernel's, segment for segment
(probes: tests/packetdrill/receive-window.pkt on both targets).

Not modelled: SO_RESERVE_MEM (sk_unused_reserved_mem is 0), tcp_shrink_window (0),
TCP_WINDOW_CLAMP, the BPF and route (RTAX_WINDOW, RTAX_INITRWND) overrides."""

from __future__ import annotations

from typing import Final

from .constants import TCP_MAX_WSCALE, TCP_MSS_DEFAULT
from .mem import rmem_alloc, under_memory_pressure
from .sock import TcpSock

TCP_RMEM_TO_WIN_SCALE: Final = 8
TCP_DEFAULT_SCALING_RATIO: Final = 1 << (TCP_RMEM_TO_WIN_SCALE - 1)  # half of the buffer
SOCK_MIN_RCVBUF_HALF: Final = 2304 // 2  # SOCK_MIN_RCVBUF / 2: the smallest window clamp
TCP_MIN_MSS: Final = 88
TCP_INIT_CWND_SEGS: Final = 10  # TCP_INIT_CWND, rcvq_space's first estimate in segments
M32: Final = 0xFFFFFFFF


def win_from_space(sk: TcpSock, space: int) -> int:
    """tcp_win_from_space: the window `space` bytes of buffer hold (negative stays negative)."""
    return (space * sk.scaling_ratio) >> TCP_RMEM_TO_WIN_SCALE


def space_from_win(sk: TcpSock, win: int) -> int:
    """tcp_space_from_win: the buffer a window of `win` bytes needs."""
    return (win << TCP_RMEM_TO_WIN_SCALE) // sk.scaling_ratio


def full_space(sk: TcpSock) -> int:
    """tcp_full_space: the window the whole receive buffer holds."""
    return win_from_space(sk, sk.rcvbuf)


def free_space(sk: TcpSock) -> int:
    """tcp_space: the window what is left of the receive buffer holds (may be negative)."""
    return win_from_space(sk, sk.rcvbuf - rmem_alloc(sk))


def initial_window(sk: TcpSock, space: int, mss: int, window_clamp: int,
                   wscale_ok: bool) -> tuple[int, int, int]:
    """tcp_select_initial_window for socket `sk` (the listener, for a request): the first
    window (the space, no more than the clamp, rounded down to the MSS), the window scale for
    the largest window the socket could come to offer (max of the space, tcp_rmem[2] and
    rmem_max, within the clamp), and the clamp, cut to what that scale can express.
    Returns (rcv_wnd, window_clamp, rcv_wscale)."""
    space = max(space, 0)
    if not window_clamp:
        window_clamp = 65535 << TCP_MAX_WSCALE
    space = min(window_clamp, space)
    if space > mss:
        space = space // mss * mss
    sysctl = sk.ns.sysctl
    rcv_wnd = min(space, 32767) if sysctl.tcp_workaround_signed_windows else space
    wscale = 0
    if wscale_ok:
        biggest = min(max(max(space, sysctl.tcp_rmem[2]), sysctl.rmem_max), window_clamp)
        wscale = max(0, min(biggest.bit_length() - 1 - 15, TCP_MAX_WSCALE))
    return rcv_wnd, min(65535 << wscale, window_clamp), wscale


def locked_clamp(sk: TcpSock, window_clamp: int) -> int:
    """tcp_connect_init / tcp_openreq_init_rwin: SO_RCVBUF caps the clamp at the buffer's
    window."""
    if sk.buf_locked & 2:
        space = full_space(sk)
        if window_clamp > space or not window_clamp:
            return space
    return window_clamp


def init_buffer_space(sk: TcpSock, now: float) -> None:
    """tcp_init_buffer_space, as the connection is established: the clamp comes down to the
    buffer's window, less one segment (tcp_app_win), rcv_ssthresh to the clamp, and the
    receive auto-tuning starts from ten segments (or less, the first window). cwnd counts as
    used from here (snd_cwnd_stamp)."""
    sk.snd_cwnd_stamp = now
    app_win = sk.ns.sysctl.tcp_app_win
    maxwin = full_space(sk)
    advmss = sk.advmss
    if sk.window_clamp >= maxwin:
        sk.window_clamp = maxwin
        if app_win and maxwin > 4 * advmss:
            sk.window_clamp = max(maxwin - (maxwin >> app_win), 4 * advmss)
    if app_win and sk.window_clamp > 2 * advmss and sk.window_clamp + advmss > maxwin:
        sk.window_clamp = max(2 * advmss, maxwin - advmss)
    sk.rcv_ssthresh = min(sk.rcv_ssthresh, sk.window_clamp)
    sk.rcvq_space.space = min(min(sk.rcv_ssthresh, sk.rcv_wnd), TCP_INIT_CWND_SEGS * advmss)
    sk.rcvq_space.seq = sk.copied_seq
    sk.rcvq_space.time = now


def set_window_clamp(sk: TcpSock, val: int) -> None:
    """tcp_set_window_clamp (val > 0): a smaller clamp cuts rcv_ssthresh
    (__tcp_adjust_rcv_ssthresh); a larger one lets rcv_ssthresh rise to the window last
    offered."""
    new = max(SOCK_MIN_RCVBUF_HALF, val)
    old = sk.window_clamp
    if new == old:
        return
    sk.window_clamp = new
    if new < old:
        sk.rcv_ssthresh = min(sk.rcv_ssthresh, new)
    else:
        sk.rcv_ssthresh = max(min(sk.rcv_wnd, new), sk.rcv_ssthresh)


def measure_rcv_mss(sk: TcpSock, length: int, truesize: int, hdr_len: int,
                    remnant: bool, total: int) -> None:
    """tcp_measure_rcv_mss for a segment of `length` payload bytes (a GRO'd skb's gso_size,
    the segments it merged) of `total` bytes in all, costing `truesize`, with a TCP header
    of `hdr_len` bytes; `remnant`: it has FIN, URG, SYN or PSH. A segment at
    least as large as the estimate that differs from it re-measures the scaling ratio
    (payload/truesize), and the clamp follows the buffer's new window; the estimate becomes
    its length (at most our advmss). A smaller one, if it looks full-sized (536 bytes or
    more, or 88 and no PSH), becomes the estimate when the one before it had the same size
    (SACK options aside); else it marks the ACK "pushed" (ICSK_ACK_PUSHED, then PUSHED2)."""
    ack = sk.icsk_ack
    lss = ack.last_seg_size
    ack.last_seg_size = 0
    if length < ack.rcv_mss:
        full = length + hdr_len
        if full >= TCP_MSS_DEFAULT + 20 or (full >= TCP_MIN_MSS + 20 and not remnant):
            size = full - (32 if sk.rx_opt.tstamp_ok else 20)  # less tp->tcp_header_len
            ack.last_seg_size = size
            if size == lss:
                ack.rcv_mss = size
                return
        ack.pushed |= 2 if ack.pushed & 1 else 1
        return
    if length != ack.rcv_mss:
        old = sk.scaling_ratio
        sk.scaling_ratio = ((total << TCP_RMEM_TO_WIN_SCALE) // truesize) or 1
        if sk.scaling_ratio != old:
            set_window_clamp(sk, win_from_space(sk, sk.rcvbuf))
            if sk.window_clamp < sk.rcv_ssthresh:
                sk.rcv_ssthresh = sk.window_clamp
    ack.rcv_mss = min(length, sk.advmss)


def initialize_rcv_mss(sk: TcpSock) -> None:
    """tcp_initialize_rcv_mss: the first guess at the peer's segment size, low rather than
    high (at most 536, the MSS, half the window; at least 88)."""
    hint = min(min(sk.advmss, sk.mss_cache), min(sk.rcv_wnd // 2, TCP_MSS_DEFAULT))
    sk.icsk_ack.rcv_mss = max(hint, TCP_MIN_MSS)


def adjust_rcv_ssthresh(sk: TcpSock) -> None:
    """tcp_adjust_rcv_ssthresh, under memory pressure: at most four segments."""
    sk.rcv_ssthresh = min(sk.rcv_ssthresh, 4 * sk.advmss)


def grow_window(sk: TcpSock, length: int, truesize: int) -> None:
    """tcp_grow_window: while the clamp and the free space allow, rcv_ssthresh grows by at
    least two segments (twice the segment's length if more) for a segment whose truesize
    the buffer can carry at this ratio (check #2, __tcp_grow_window: a bloated segment grows
    it only while rcv_ssthresh is small against tcp_rmem[2]); a growth asks for a quick ACK.
    Under memory pressure rcv_ssthresh is cut instead."""
    room = min(sk.window_clamp, free_space(sk)) - sk.rcv_ssthresh
    if room <= 0:
        return
    if under_memory_pressure(sk):
        adjust_rcv_ssthresh(sk)
        return
    if win_from_space(sk, truesize) <= length:
        incr = 2 * sk.advmss
    else:
        incr = _grow_bloated(sk, length, truesize)
    if incr:
        sk.rcv_ssthresh += min(room, max(incr, 2 * length))
        sk.icsk_ack.quick |= 1


def _grow_bloated(sk: TcpSock, length: int, truesize: int) -> int:
    """__tcp_grow_window."""
    scaled = win_from_space(sk, truesize) >> 1
    window = win_from_space(sk, sk.ns.sysctl.tcp_rmem[2]) >> 1
    while sk.rcv_ssthresh <= window:
        if scaled <= length:
            return 2 * sk.icsk_ack.rcv_mss
        scaled >>= 1
        window >>= 1
    return 0


def clamp_window(sk: TcpSock) -> None:
    """tcp_clamp_window, when a segment found the buffer full: an auto-tuned buffer grows to
    what is charged (up to tcp_rmem[2]) while TCP memory is plentiful; if still over,
    rcv_ssthresh drops to two segments. Quick ACKs end. (The code reads as setting sk_rcvbuf
    to what is charged, which since 6.16's payload-based tcp_can_ingest can be less than
    sk_rcvbuf; 6.18 was seen keeping sk_rcvbuf then: it only grows here.)"""
    ns = sk.ns
    sk.icsk_ack.quick = 0
    rmem2 = ns.sysctl.tcp_rmem[2]
    if (sk.rcvbuf < rmem2 and not sk.buf_locked & 2 and not under_memory_pressure(sk)
            and ns.tcp_memory_allocated < ns.sysctl.tcp_mem[0]):
        sk.rcvbuf = max(sk.rcvbuf, min(rmem_alloc(sk), rmem2))
    if rmem_alloc(sk) > sk.rcvbuf:
        sk.rcv_ssthresh = min(sk.window_clamp, 2 * sk.advmss)


def rcvbuf_grow(sk: TcpSock, newval: int, ooo_end: int | None) -> None:
    """tcp_rcvbuf_grow: the application took `newval` bytes in the last RTT (or, for
    out-of-order data, the same as before): unless SO_RCVBUF fixed it, the buffer grows to
    hold twice that as window, twice again the growth since the last measure (the sender may
    be in slow start), plus the span of the out-of-order queue (`ooo_end`: its last
    segment's end), up to tcp_rmem[2]; the clamp follows."""
    oldval = sk.rcvq_space.space
    sk.rcvq_space.space = newval
    if sk.buf_locked & 2 or not sk.ns.sysctl.tcp_moderate_rcvbuf:
        return
    rcvwin = newval << 1
    if oldval > 0:
        rcvwin += ((rcvwin * (newval - oldval)) // oldval) << 1
    if ooo_end is not None:
        rcvwin += (ooo_end - sk.rcv_nxt) & M32
    rcvbuf = min(space_from_win(sk, rcvwin), sk.ns.sysctl.tcp_rmem[2])
    if rcvbuf > sk.rcvbuf:
        sk.rcvbuf = rcvbuf
        sk.window_clamp = win_from_space(sk, rcvbuf)


def select_window_space(sk: TcpSock) -> int:
    """__tcp_select_window: the window to offer now, in bytes. The free space, no more than
    rcv_ssthresh; receiver-side silly-window avoidance once less than half the clamp is free
    (no more quick ACKs; under memory pressure rcv_ssthresh drops to four segments): a free
    space under the peer's segment size (rcv_mss) or under 1/16 of the buffer's window is
    offered as zero. With window scaling the space is rounded up to the scale (so a small
    window is not scaled away); without it the last window stays unless it is off by an MSS
    or more, then a multiple of the MSS."""
    mss = sk.icsk_ack.rcv_mss
    free = free_space(sk)
    allowed = full_space(sk)
    full = min(sk.window_clamp, allowed)
    if mss > full:
        mss = full
        if mss <= 0:
            return 0
    ws = sk.rx_opt.rcv_wscale
    if free < (full >> 1):
        sk.icsk_ack.quick = 0
        if under_memory_pressure(sk):
            adjust_rcv_ssthresh(sk)
        free = (free >> ws) << ws
        if free < (allowed >> 4) or free < mss:
            return 0
    if free > sk.rcv_ssthresh:
        free = sk.rcv_ssthresh
    if ws:
        return (free + (1 << ws) - 1) >> ws << ws
    window = sk.rcv_wnd
    if window <= free - mss or window > free:
        window = free // mss * mss if mss > 0 else free
    elif mss == full and free > window + (full >> 1):
        window = free
    return window
