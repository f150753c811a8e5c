"""The kernel's side of the wire: a network namespace holding a TUN device whose far end is
the tuxtcp stack. The kernel in that namespace has an address on the device
(198.18.0.1/24 by default) and reaches the stack's address (198.18.0.2) through it, so
`ip netns exec tuxtcp curl http://198.18.0.2/` talks to tuxtcp.

The namespace is made by the command and deleted when it ends, whatever the reason (the
device goes with it). A pid file (/run/tuxtcp/NAME.pid) says who owns it: a namespace left
by a process that died is removed on the next start; one whose owner still runs is refused.
A namespace that exists without a pid file of ours is the user's: the device is put into it
and goes again at the end (with its address and route), the namespace stays as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from ..link.tun import Tun, TunError

PID_DIR: Final = Path("/run/tuxtcp")


class SetupError(RuntimeError):
    """The wire cannot be set up here (not root, no /dev/net/tun, a namespace in use)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and r.returncode:
        raise SetupError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def _owner_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip() or "0")
    except (OSError, ValueError):
        return None
    if pid <= 0 or pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def why_not() -> str | None:
    """None when the wire can be set up here, else the reason in a few words."""
    if os.geteuid() != 0:
        return "needs root (network namespaces and a TUN device)"
    if shutil.which("ip") is None:
        return "needs iproute2's ip command"
    if not os.path.exists("/dev/net/tun"):
        return "needs /dev/net/tun (modprobe tun)"
    return None


def namespace_exists(name: str) -> bool:
    return name in _ip("netns", "list", check=False).stdout.split()


@contextlib.contextmanager
def tun_namespace(name: str = "tuxtcp", kernel_addr: str = "198.18.0.1",
                  prefix: int = 24, device: str = "tuxtcp0",
                  offload: bool = False) -> Iterator[Tun]:
    """Namespace `name` with TUN device `device` (the kernel's address `kernel_addr`/`prefix`
    on it, up) whose other end is the returned Tun. Removed again on the way out; a
    namespace the user made keeps existing, only the device goes."""
    why = why_not()
    if why is not None:
        raise SetupError(why)
    pid_file = PID_DIR / f"{name}.pid"
    owner = _owner_alive(pid_file)
    exists = namespace_exists(name)
    if owner is not None and exists:
        raise SetupError(f"namespace {name!r} is in use by process {owner}")
    adopted = exists and not pid_file.exists()  # the user's namespace: borrowed, kept
    if adopted:
        if _ip("-n", name, "link", "show", device, check=False).returncode == 0:
            raise SetupError(f"namespace {name!r} already has a device {device!r}")
    elif exists:  # left behind by a process of ours that died: ours to clean up
        _ip("netns", "del", name, check=False)
    _ip("link", "del", device, check=False)  # a device left in the root namespace
    if not adopted:
        PID_DIR.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(f"{os.getpid()}\n")
    tun: Tun | None = None
    made = False
    try:
        if not adopted:
            _ip("netns", "add", name)
            made = True
        try:
            tun = Tun(device, offload=offload)
        except TunError as e:
            raise SetupError(str(e)) from None
        _ip("link", "set", tun.name, "netns", name)
        # IPv4 only: no IPv6 router solicitations into the device
        subprocess.run(["ip", "netns", "exec", name, "sysctl", "-q", "-w",
                        f"net.ipv6.conf.{tun.name}.disable_ipv6=1"],
                       capture_output=True, timeout=30)
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "addr", "add", f"{kernel_addr}/{prefix}", "dev", tun.name)
        _ip("-n", name, "link", "set", tun.name, "up")
        yield tun
    finally:
        if tun is not None:
            tun.close()  # the device (and its address and route) goes with its last fd
        if made:
            _ip("netns", "del", name, check=False)
        if not adopted:
            with contextlib.suppress(OSError):
                if _owner_alive(pid_file) is None:
                    pid_file.unlink()
