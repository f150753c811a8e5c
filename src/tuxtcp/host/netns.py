"""Network namespaces on the host kernel, for running the same scenario against Linux.

Everything created here lives in namespaces this process made and deletes again; addresses come
from 198.18.0.0/15. Root (CAP_SYS_ADMIN, CAP_NET_ADMIN) is required.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def available() -> str | None:
    """None when namespaces can be made here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "needs root (CAP_SYS_ADMIN) for network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2's ip command"
    return None


def sh(*args: str, check: bool = True) -> str:
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout


@dataclass
class Netns:
    name: str

    def run(self, *args: str, check: bool = True) -> str:
        return sh("ip", "netns", "exec", self.name, *args, check=check)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(["ip", "netns", "exec", self.name, *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sysctl(self, name: str, value: object | None = None) -> str:
        path = "/proc/sys/" + name.replace(".", "/")
        if value is not None:
            self.run("sh", "-c", f"echo {value} > {path}")
        return self.run("cat", path).strip()

    def netstat(self) -> dict[str, int]:
        """Counters of /proc/net/netstat and /proc/net/snmp as {"Group.Name": value}."""
        out: dict[str, int] = {}
        for f in ("/proc/net/netstat", "/proc/net/snmp"):
            lines = self.run("cat", f).splitlines()
            for head, vals in zip(lines[0::2], lines[1::2], strict=False):
                g, names = head.split(":", 1)
                _, values = vals.split(":", 1)
                for n, v in zip(names.split(), values.split(), strict=False):
                    out[f"{g}.{n}"] = int(v)
        return out


@contextlib.contextmanager
def silent_peer_pair(local: str = "198.18.1.1", peer: str = "198.18.1.2",
                     prefix: int = 24) -> Iterator[Netns]:
    """A namespace with lo up and a veth `v0` (address `local`) whose other end sits in a sink
    namespace with no address. `peer` (and the rest of the /24) has a permanent fake neighbour,
    so packets to it leave on v0 and are discarded: a peer that never answers."""
    tag = uuid.uuid4().hex[:8]
    ns, sink = f"tuxtcp_{tag}", f"tuxtcp_{tag}_sink"
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "netns", "add", sink)
        try:
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "link", "add", "v0", "netns", ns, "type", "veth", "peer", "name", "v1",
               "netns", sink)
            sh("ip", "-n", ns, "addr", "add", f"{local}/{prefix}", "dev", "v0")
            sh("ip", "-n", ns, "link", "set", "v0", "up")
            sh("ip", "-n", sink, "link", "set", "v1", "up")
            sh("ip", "-n", ns, "neigh", "replace", peer, "lladdr", "02:00:00:00:00:02", "dev",
               "v0", "nud", "permanent")
            yield Netns(ns)
        finally:
            sh("ip", "netns", "del", sink, check=False)
    finally:
        sh("ip", "netns", "del", ns, check=False)


@contextlib.contextmanager
def veth_pair(a_addr: str = "198.18.0.1", b_addr: str = "198.18.0.2",
              prefix: int = 24) -> Iterator[tuple[Netns, Netns]]:
    """Two namespaces joined by a veth pair (`va` with `a_addr` in the first, `vb` with
    `b_addr` in the second), lo up in both; both are deleted on the way out."""
    tag = uuid.uuid4().hex[:8]
    names = (f"tuxtcp_{tag}_a", f"tuxtcp_{tag}_b")
    made: list[str] = []
    try:
        for name in names:
            sh("ip", "netns", "add", name)
            made.append(name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
        sh("ip", "link", "add", "va", "netns", names[0], "type", "veth", "peer", "name", "vb",
           "netns", names[1])
        for name, dev, addr in ((names[0], "va", a_addr), (names[1], "vb", b_addr)):
            sh("ip", "-n", name, "addr", "add", f"{addr}/{prefix}", "dev", dev)
            sh("ip", "-n", name, "link", "set", dev, "up")
        yield Netns(names[0]), Netns(names[1])
    finally:
        for name in made:
            sh("ip", "netns", "del", name, check=False)


@contextlib.contextmanager
def loopback_ns() -> Iterator[Netns]:
    """A fresh namespace with only lo (up); deleted on the way out, also when a signal (Ctrl-C,
    or SIGTERM made an exception) comes while it is being made: it is made with both held, so
    one that arrives then is raised inside the try, which deletes it (seen in CI: a SIGTERM
    right after `ip netns add` returned, before the try, left the namespace behind)."""
    name = f"tuxtcp_{uuid.uuid4().hex[:8]}"
    try:
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            sh("ip", "netns", "add", name)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        yield Netns(name)
    finally:
        sh("ip", "netns", "del", name, check=False)


_ALLOWED_CC = Path("/proc/sys/net/ipv4/tcp_allowed_congestion_control")
_AVAILABLE_CC = Path("/proc/sys/net/ipv4/tcp_available_congestion_control")


@contextlib.contextmanager
def all_congestion_controls_allowed() -> Iterator[None]:
    """A namespace may switch its default congestion control only to one the host allows
    (tcp_set_default_congestion_control: EPERM outside init_net for a restricted one), so a
    script that asks for cubic on a host running bbr would quietly keep bbr. For the duration,
    every available algorithm is allowed; those this call added are taken out again after
    (not if another process took them out meanwhile: only what is still there goes)."""
    try:
        allowed = _ALLOWED_CC.read_text().split()
        available_cc = _AVAILABLE_CC.read_text().split()
    except OSError:
        yield
        return
    added = [name for name in available_cc if name not in allowed]
    if added:
        try:
            _ALLOWED_CC.write_text(" ".join(allowed + added))
        except OSError:
            added = []
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(OSError):
                now = _ALLOWED_CC.read_text().split()
                _ALLOWED_CC.write_text(" ".join(n for n in now if n not in added))
