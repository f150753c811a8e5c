"""Run a scripted TCP session on the host kernel and read back its tracepoints (root only).

The pieces tests/test_trace_kernel.py puts together:

- `tracefs_mounted()`: tracefs at /sys/kernel/tracing, mounted here if absent and then unmounted
  again (only if mounted here);
- `trace_instance()`: a private ring buffer `instances/tuxtcp_cmp_<pid>_<random>` with the seven
  events of tuxtcp.net.trace enabled (the ones with ports filtered to 47100-47199, kfree_skb to
  IPv4), trace_clock "global" so events from both CPUs merge in order; on the way out the events
  are disabled, the filters cleared and the instance removed;
- `netns_pair()`: two fresh network namespaces, `srv` (198.18.0.1/24 on veth v0) and `cli`
  (198.18.0.2/24 on veth v1), joined by a veth pair with fixed MAC addresses and permanent
  neighbour entries (no ARP in the middle of a handshake), IPv6 off, and the client's ephemeral
  ports in 47110-47199; both are deleted on the way out;
- `run_script(code, ...)`: a small Python program in a subprocess (bounded by a timeout) that
  switches between the two namespaces with setns(2) (`enter("srv")`, `enter("cli")`), writes
  phase markers into the instance's trace_marker (`mark("name")`) and can put checksummed raw
  IPv4/TCP datagrams on the wire (`send_frame(raw_tcp(...), "cli")`, through AF_PACKET);
- `session(code)`: all of the above at once, returning the instance's trace as `Capture`:
  the events of the seven kinds and the markers, in order.

Only the standard library and tuxtcp.net.trace (for parsing) are used.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator

from tuxtcp.net.trace import TraceEvent, parse_trace_line

TRACEFS = "/sys/kernel/tracing"
EVENTS = (
    "sock/inet_sock_set_state",
    "tcp/tcp_retransmit_skb",
    "tcp/tcp_retransmit_synack",
    "tcp/tcp_send_reset",
    "tcp/tcp_receive_reset",
    "tcp/tcp_destroy_sock",
    "skb/kfree_skb",
)
PORT_LO, PORT_HI = 47100, 47199  # apart from kernel_trace_capture.py's 47000-47099
EPHEMERAL_LO = 47110
PORT_FILTER = (f"(sport >= {PORT_LO} && sport <= {PORT_HI}) || "
               f"(dport >= {PORT_LO} && dport <= {PORT_HI})")
SRV_ADDR, CLI_ADDR = "198.18.0.1", "198.18.0.2"
SRV_MAC, CLI_MAC = "02:00:c6:12:00:01", "02:00:c6:12:00:02"
MARKER = "tuxtcp-phase"
TIMEOUT = 20.0  # seconds, for any one subprocess


def sh(*args: str, check: bool = True, timeout: float = TIMEOUT) -> str:
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


@contextlib.contextmanager
def tracefs_mounted() -> Iterator[None]:
    mounted_here = False
    if not os.path.exists(os.path.join(TRACEFS, "instances")):
        sh("mount", "-t", "tracefs", "nodev", TRACEFS)
        mounted_here = True
    try:
        yield
    finally:
        if mounted_here:
            for _ in range(20):  # EBUSY while a file is still being closed
                if subprocess.run(["umount", TRACEFS], capture_output=True,
                                  timeout=TIMEOUT).returncode == 0:
                    break
                time.sleep(0.05)


@contextlib.contextmanager
def trace_instance(port_filter: str = PORT_FILTER, tracing_on: bool = False,
                   prefix: str = "tuxtcp_cmp") -> Iterator[str]:
    """A private ring buffer (instances/NAME, so the global tracing settings stay untouched)
    with the seven events on, those with ports filtered by `port_filter`; yields its
    directory. tracing_on=False leaves the buffer off for the caller to start."""
    inst = os.path.join(TRACEFS, "instances", f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}")
    os.mkdir(inst)
    try:
        write(os.path.join(inst, "tracing_on"), "1" if tracing_on else "0")
        write(os.path.join(inst, "trace_clock"), "global")
        for ev in EVENTS:
            d = os.path.join(inst, "events", ev)
            with open(os.path.join(d, "format")) as f:
                fmt = f.read()
            if "field:__u16 sport;" in fmt:
                write(os.path.join(d, "filter"), port_filter)
            elif ev == "skb/kfree_skb":
                write(os.path.join(d, "filter"), "protocol == 2048")  # IPv4 only
            write(os.path.join(d, "enable"), "1")
        write(os.path.join(inst, "trace"), "")  # empty
        yield inst
    finally:
        with contextlib.suppress(OSError):
            write(os.path.join(inst, "tracing_on"), "0")
        for ev in EVENTS:
            d = os.path.join(inst, "events", ev)
            with contextlib.suppress(OSError):
                write(os.path.join(d, "enable"), "0")
            with contextlib.suppress(OSError):
                write(os.path.join(d, "filter"), "0")
        for _ in range(50):  # rmdir fails with EBUSY while a reader is still closing
            try:
                os.rmdir(inst)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)


@contextlib.contextmanager
def netns_pair() -> Iterator[tuple[str, str]]:
    """Namespaces (srv, cli) joined by a veth pair; deleted again on the way out."""
    tag = uuid.uuid4().hex[:8]
    srv, cli = f"tuxtcp_srv_{tag}", f"tuxtcp_cli_{tag}"
    made: list[str] = []
    try:
        for ns in (srv, cli):
            sh("ip", "netns", "add", ns)
            made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            for key in ("all", "default"):
                sh("ip", "netns", "exec", ns, "sysctl", "-qw",
                   f"net.ipv6.conf.{key}.disable_ipv6=1", check=False)
        sh("ip", "netns", "exec", cli, "sysctl", "-qw",
           f"net.ipv4.ip_local_port_range={EPHEMERAL_LO} {PORT_HI}")
        sh("ip", "link", "add", "v0", "netns", srv, "address", SRV_MAC, "type", "veth",
           "peer", "name", "v1", "netns", cli, "address", CLI_MAC)
        for ns, dev, addr, peer, peer_mac in ((srv, "v0", SRV_ADDR, CLI_ADDR, CLI_MAC),
                                              (cli, "v1", CLI_ADDR, SRV_ADDR, SRV_MAC)):
            sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "neigh", "replace", peer, "lladdr", peer_mac, "dev", dev,
               "nud", "permanent")
        yield srv, cli
    finally:
        for ns in reversed(made):
            sh("ip", "netns", "del", ns, check=False)


# The subprocess's helpers. It starts in the caller's namespace and moves with enter(); sockets
# keep the namespace they were made in. It stays on one CPU so its softirq work (all the veth
# traffic it causes) is traced in program order.
PRELUDE = r'''
import ctypes, os, socket, struct, sys, time
CLONE_NEWNET = 0x40000000
SRV, CLI = "198.18.0.1", "198.18.0.2"
FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16
_libc = ctypes.CDLL(None, use_errno=True)
_NS = {"srv": os.environ["TUXTCP_NS_SRV"], "cli": os.environ["TUXTCP_NS_CLI"]}
_DEV = {"srv": ("v0", "@CLI_MAC@"), "cli": ("v1", "@SRV_MAC@")}  # a host's device, the peer's MAC
_MARK = os.open(os.environ["TUXTCP_TRACE_MARKER"], os.O_WRONLY)
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

def enter(host):
    fd = os.open("/run/netns/" + _NS[host], os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + host)
    finally:
        os.close(fd)

def mark(phase):
    os.write(_MARK, ("%s %s\n" % (os.environ["TUXTCP_MARKER"], phase)).encode())

def tcp(timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    return s

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def raw_tcp(src, dst, sport, dport, seq, ack, flags, window=1000, payload=b""):
    """An IPv4 datagram with one TCP segment, both checksums right."""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, window, 0, 0) + payload
    c = csum(s + d + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64,
                     socket.IPPROTO_TCP, 0, s, d)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp

def send_frame(pkt, host):
    """Put an IPv4 datagram on `host`'s veth towards the other end, through an AF_PACKET
    socket (protocol 0: it receives nothing, so no copy of the answer is left to free)."""
    dev, mac = _DEV[host]
    p = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
    try:
        p.sendto(pkt, (dev, 0x0800, 0, 0, bytes.fromhex(mac.replace(":", ""))))
    finally:
        p.close()
'''.replace("@CLI_MAC@", CLI_MAC).replace("@SRV_MAC@", SRV_MAC)


def run_script(code: str, srv: str, cli: str, inst: str,
               timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TUXTCP_NS_SRV=srv, TUXTCP_NS_CLI=cli, TUXTCP_MARKER=MARKER,
               TUXTCP_TRACE_MARKER=os.path.join(inst, "trace_marker"))
    r = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
                       capture_output=True, text=True, timeout=timeout, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"kernel session failed ({r.returncode}):\n{r.stderr}")
    return r


_MARK_LINE = re.compile(rf"^\s*(?P<task>.+)-(?P<pid>\d+)\s+\[(?P<cpu>\d+)\]"
                        rf".*tracing_mark_write: {MARKER} (?P<phase>\S+)")


class Capture:
    """What the kernel printed: `items` in order, each a marker's phase name or an event;
    `lines` the raw trace text, `stdout` what the script printed, `pid` and `cpu` the script's
    (from its markers)."""

    def __init__(self, lines: list[str], stdout: str) -> None:
        self.lines = lines
        self.stdout = stdout
        self.pid = -1
        self.cpu = -1
        self.items: list[str | TraceEvent] = []
        for line in lines:
            m = _MARK_LINE.match(line)
            if m is not None:
                self.items.append(m.group("phase"))
                self.pid, self.cpu = int(m.group("pid")), int(m.group("cpu"))
                continue
            ev = parse_trace_line(line)
            if ev is not None:
                self.items.append(ev)

    def phases(self) -> dict[str, list[TraceEvent]]:
        """The events after each marker, up to the next one ("" before the first)."""
        out: dict[str, list[TraceEvent]] = {"": []}
        cur = ""
        for item in self.items:
            if isinstance(item, str):
                cur = item
                out[cur] = []
            else:
                out[cur].append(item)
        return out


def session(code: str, settle: float = 0.1, timeout: float = TIMEOUT) -> Capture:
    """Run `code` (after PRELUDE) against fresh namespaces with tracing on; everything made
    here is gone again when this returns or raises."""
    with tracefs_mounted(), netns_pair() as (srv, cli), trace_instance() as inst:
        write(os.path.join(inst, "tracing_on"), "1")
        r = run_script(code, srv, cli, inst, timeout)
        time.sleep(settle)  # softirq and timer work still in flight
        write(os.path.join(inst, "tracing_on"), "0")
        with open(os.path.join(inst, "trace")) as f:
            lines = f.read().splitlines()
    return Capture(lines, r.stdout)


def leftovers() -> list[str]:
    """Instances or namespaces of this module still present (for the tests' own checks)."""
    found = []
    inst_dir = os.path.join(TRACEFS, "instances")
    if os.path.isdir(inst_dir):
        found += [n for n in os.listdir(inst_dir)
                  if n.startswith(f"tuxtcp_cmp_{os.getpid()}_")]
    found += [ln.split()[0] for ln in sh("ip", "netns", "list").splitlines()
              if ln.startswith(("tuxtcp_srv_", "tuxtcp_cli_"))]
    return found
