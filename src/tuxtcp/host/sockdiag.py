"""The live kernel's TCP sockets through netlink sock_diag (NETLINK_SOCK_DIAG,
SOCK_DIAG_BY_FAMILY with struct inet_diag_req_v2), as `ss` reads them, into the same records
tuxtcp's own namespaces give (observe/records.py). Written on the standard library's netlink
socket: one dump request, large receive buffers, struct unpacking of each inet_diag_msg and
the INET_DIAG_SHUTDOWN, INET_DIAG_SKMEMINFO and INET_DIAG_INFO attributes
(bench/sockdiag_list.py measures it against pyroute2's DiagSocket, iproute2's ss and psutil).

`netns`: read another network namespace's sockets. The netlink socket is opened inside it
(setns on this thread, then back): a netlink socket keeps talking to the namespace it was
made in.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from collections.abc import Iterator

from ..observe.records import SockRecord
from .errors import SockDiagError

TYPE_CHECKING = False  # typing stays unimported at run time: `tuxtcp ss` starts sooner
if TYPE_CHECKING:
    from typing import Final

ntohl = socket.ntohl
ntohs = socket.ntohs

NETLINK_SOCK_DIAG: Final = 4
SOCK_DIAG_BY_FAMILY: Final = 20
NLM_F_REQUEST: Final = 0x1
NLM_F_DUMP: Final = 0x300
NLMSG_ERROR: Final = 2
NLMSG_DONE: Final = 3
INET_DIAG_INFO: Final = 2
INET_DIAG_VEGASINFO: Final = 3  # also asks for DCTCPINFO and BBRINFO (ca_ops->get_info)
INET_DIAG_CONG: Final = 4
INET_DIAG_DCTCPINFO: Final = 9
INET_DIAG_BBRINFO: Final = 16
INET_DIAG_SKMEMINFO: Final = 7
INET_DIAG_SHUTDOWN: Final = 8
INET_DIAG_CGROUP_ID: Final = 21
CLONE_NEWNET: Final = 0x40000000
_NLMSGHDR: Final = struct.Struct("=IHHII")
_REQ: Final = struct.Struct("=BBBBI")  # family, protocol, ext, pad, states
_SOCKID: Final = struct.Struct(">HH16s16sI8s")  # the request's socket id: no filter
# struct inet_diag_msg in one go: family, state, timer, retrans; sport, dport (network order);
# the first word of src and of dst (network order; IPv4); if; cookie (two host-order words);
# expires, rqueue, wqueue, uid, inode
_DIAG_MSG: Final = struct.Struct("=BBBBHHI12xI12xIIIIIIII")
# the brief path (a plain listing): the socket id in network order, then rqueue and wqueue,
# at their offsets from the netlink header (16 bytes) into struct inet_diag_msg
_BRIEF_ID: Final = struct.Struct(">HHI12xI")  # at 16 + 4: sport, dport, src, dst
_BRIEF_QUEUES: Final = struct.Struct("=II")  # at 16 + 56: rqueue, wqueue
_BRIEF_LEN: Final = 16 + _DIAG_MSG.size
_RTA: Final = struct.Struct("=HH")
_U64: Final = struct.Struct("=Q")
_SKMEM: Final = struct.Struct("=9I")  # SK_MEMINFO_VARS as ss prints them
# struct tcpvegas_info, tcp_dctcp_info, tcp_bbr_info
_CA_INFO: Final = {INET_DIAG_VEGASINFO: ("vegas", struct.Struct("=4I")),
                   INET_DIAG_DCTCPINFO: ("dctcp", struct.Struct("=HHIII")),
                   INET_DIAG_BBRINFO: ("bbr", struct.Struct("=5I"))}
ALL_STATES: Final = 0xFFF  # every TCP state (bit n: state n), NEW_SYN_RECV aside


@contextlib.contextmanager
def in_netns(name: str | None) -> Iterator[None]:
    """This thread in network namespace `name` (None: where it is) for the block."""
    if name is None:
        yield
        return
    import ctypes  # only to change namespace: `tuxtcp ss` in its own starts without it

    libc = ctypes.CDLL(None, use_errno=True)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise SockDiagError(e.errno, f"network namespace {name!r}: {e.strerror}") from None
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise SockDiagError(err, f"setns {name!r}: {os.strerror(err)}")
        try:
            yield
        finally:
            libc.setns(home, CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(home)


_CGROUPS: dict[int, str] = {}


def _cgroup2_mount() -> str | None:
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if post.split(" ", 1)[0] == "cgroup2":
                return pre.split()[4]
    return None


def cgroup_path(cgid: int) -> str:
    """A cgroup v2 id as ss prints it: the path under the cgroup2 mount (the id is the
    directory's inode number), "unreachable:ID" when there is no cgroup2 mount or no such
    directory."""
    if cgid in _CGROUPS:
        return _CGROUPS[cgid]
    mount = _cgroup2_mount()
    if mount is not None:
        for root, _dirs, _files in os.walk(mount):
            with contextlib.suppress(OSError):
                ino = os.stat(root).st_ino
                rel = "/" + os.path.relpath(root, mount) if root != mount else "/"
                _CGROUPS[ino] = rel.replace("/.", "/") if rel == "/." else rel
    return _CGROUPS.setdefault(cgid, f"unreachable:{cgid:x}")


def _request(states: int, ext: int) -> bytes:
    sockid = _SOCKID.pack(0, 0, bytes(16), bytes(16), 0, b"\xff" * 8)
    body = _REQ.pack(socket.AF_INET, socket.IPPROTO_TCP, ext, 0, states) + sockid
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY,
                          NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + body


def _parse(buf: memoryview, off: int, end: int, want_attrs: bool,
           want_info: bool) -> SockRecord:
    (_family, state, timer, retrans, sport, dport, src, dst, _ifindex, c_lo, c_hi, expires,
     rq, wq, uid, inode) = _DIAG_MSG.unpack_from(buf, off)
    # positionally: timer, retrans, expires, rqueue, wqueue, uid, inode, cookie
    rec = SockRecord(state, ntohl(src), ntohs(sport), ntohl(dst), ntohs(dport), timer,
                     retrans, expires, rq, wq, uid, inode, (c_hi << 32) | c_lo)
    if not want_attrs:
        return rec
    a = off + _DIAG_MSG.size
    while a + 4 <= end:
        alen, atype = _RTA.unpack_from(buf, a)
        if alen < 4:
            break
        if atype == INET_DIAG_SHUTDOWN and alen >= 5:
            rec.shutdown = buf[a + 4]
        elif atype == INET_DIAG_CGROUP_ID and alen >= 12:
            rec.cgroup = cgroup_path(_U64.unpack_from(buf, a + 4)[0])
        elif atype == INET_DIAG_SKMEMINFO and alen >= 4 + 9 * 4:
            rec.skmem = _SKMEM.unpack_from(buf, a + 4)
        elif atype == INET_DIAG_INFO and want_info:
            from .tcpinfo import decode_tcp_info  # the engine's tables: only when asked

            rec.info = decode_tcp_info(bytes(buf[a + 4:a + alen]))
        elif atype == INET_DIAG_CONG and want_info:
            rec.cong = bytes(buf[a + 4:a + alen]).split(b"\0", 1)[0].decode("ascii", "replace")
        elif atype in _CA_INFO and want_info:
            kind, st = _CA_INFO[atype]
            if alen >= 4 + st.size:
                rec.ca = (kind, st.unpack_from(buf, a + 4))
        a += (alen + 3) & ~3
    return rec


def host_records(netns: str | None = None, states: int = ALL_STATES, memory: bool = True,
                 info: bool = False, details: bool = True,
                 brief: bool = False) -> list[SockRecord]:
    """Every IPv4 TCP socket of the host (or of namespace `netns`) in `states` (a bit mask by
    state number), in the kernel's dump order; `memory`: SK_MEMINFO for full sockets;
    `info`: tcp_info, the congestion control's name and its details as well (what ss -i
    asks for; decoded, so it costs time with many sockets); `details`: the shutdown
    bits and the cgroup (what `ss -e` shows; without, the attributes are not read);
    `brief`: state, addresses, ports and queues only (what a plain `ss -tan` and its filters
    read; the rest stays 0), which lists a large table faster."""
    if brief:
        memory = info = details = False
    want_attrs = memory or info or details
    ext = (1 << (INET_DIAG_SKMEMINFO - 1) if memory else 0) | \
        ((1 << (INET_DIAG_INFO - 1) | 1 << (INET_DIAG_VEGASINFO - 1)
          | 1 << (INET_DIAG_CONG - 1)) if info else 0)
    with in_netns(netns):
        try:
            s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                              NETLINK_SOCK_DIAG)
        except OSError as e:
            raise SockDiagError(e.errno, f"netlink sock_diag: {e.strerror}") from None
    out: list[SockRecord] = []
    with s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.sendall(_request(states, ext))
        buf = bytearray(1 << 16)
        view = memoryview(buf)
        while True:
            n = s.recv_into(buf)
            off = 0
            while off + _NLMSGHDR.size <= n:
                length, mtype, _flags, _seq, _pid = _NLMSGHDR.unpack_from(view, off)
                if length < _NLMSGHDR.size:
                    return out
                if mtype == NLMSG_DONE:
                    return out
                if mtype == NLMSG_ERROR:
                    (err,) = struct.unpack_from("=i", view, off + _NLMSGHDR.size)
                    if err:
                        raise SockDiagError(-err, f"sock_diag: {os.strerror(-err)}")
                    return out
                if mtype == SOCK_DIAG_BY_FAMILY:
                    if brief:
                        if length >= _BRIEF_LEN:
                            sport, dport, src, dst = _BRIEF_ID.unpack_from(view, off + 20)
                            rq, wq = _BRIEF_QUEUES.unpack_from(view, off + 72)
                            out.append(SockRecord(view[off + 17], src, sport, dst, dport, 0, 0,
                                                  0, rq, wq))
                    else:
                        out.append(_parse(view, off + _NLMSGHDR.size, off + length,
                                          want_attrs, info))
                off += (length + 3) & ~3
