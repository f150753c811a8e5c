"""The shell lines packetdrill scripts use, carried out on a tuxtcp namespace (target tuxtcp has
no /bin/sh to hand them to): `sysctl` writes and reads, `set_sysctls.py /proc/sys/...=value`,
`defaults.sh` (read from the script's folder and carried out line by line), `ip tcp_metrics
flush`, `tc qdisc` (the engine has no queueing discipline: nothing to do), `echo`, `true`.
`a || b`, `$((arithmetic))`, quotes, backslash-newline and redirections to /dev/null are
understood.

A setting the engine does not model (cubic, RACK, F-RTO, Fast Open keys, ...) is not an error:
it is recorded in `Shell.unmodelled` with what tuxtcp does instead, so a run can report what it
approximated; a script fails on it only when it uses the feature (a Fast Open call, an option
tuxtcp never sends). Anything else fails with UnsupportedCommand naming it.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any, Final

from ..net.sysctl import Sysctls

# settings tuxtcp does not model, and what it does instead
UNMODELLED: Final[dict[str, str]] = {
    "net.ipv4.tcp_fack": "removed from Linux in 4.18: nothing to model",
    "net.ipv4.tcp_ecn_option": "no AccECN",
    "net.ipv4.tcp_notsent_lowat": "no TCP_NOTSENT_LOWAT",
    "net.ipv4.tcp_fastopen_key": "no Fast Open",
    "net.ipv4.tcp_fastopen_blackhole_timeout_sec": "no Fast Open",
    "net.ipv4.tcp_no_metrics_save": "metrics are kept per namespace",
    "net.ipv4.tcp_autocorking": "no autocorking",
    "net.ipv4.tcp_mtu_probing": "no MTU probing",
    "net.ipv4.tcp_shrink_window": "the window is never shrunk",
    "net.core.default_qdisc": "no queueing discipline",
}
# congestion controls Linux builds in that tuxtcp does not have
KERNEL_ONLY_CC: Final = ("bbr", "dctcp", "htcp", "vegas", "westwood", "bic", "illinois")
# three-value settings of which the engine models the default (middle) value only
_MIDDLE_OF_THREE: Final = ("net.ipv4.tcp_wmem",)
_NULL_REDIRECT: Final = re.compile(r"\s*(?:&>|[12]?>)\s*/dev/null|\s*2>&1")
_ARITH: Final = re.compile(r"\$\(\(([0-9+\-*/ ()]+)\)\)")


class UnsupportedCommand(ValueError):
    """A shell line target tuxtcp cannot carry out."""


class CommandFailed(ValueError):
    """A command that ran and failed (as a non-zero exit status)."""


class Shell:
    def __init__(self, sysctl: Sysctls, metrics: dict[int, list[Any]], folder: Path) -> None:
        self.sysctl = sysctl
        self.metrics = metrics
        self.folder = folder
        self.unmodelled: dict[str, str] = {}  # setting=value -> what tuxtcp does instead

    def run(self, text: str, depth: int = 0) -> None:
        """Carry out a command block. Like /bin/sh the status is the last line's: a failing
        line in the middle (a sysctl the kernel lacks) does not stop the block."""
        last: Exception | None = None
        for line in _lines(text):
            last = None
            try:
                self._line(line, depth)
            except CommandFailed as e:
                last = e
        if last is not None:
            raise last

    def _line(self, line: str, depth: int) -> None:
        alternatives = [a.strip() for a in line.split("||")]
        for i, alt in enumerate(alternatives):
            try:
                self._simple(alt, depth)
                return
            except CommandFailed:
                if i == len(alternatives) - 1:
                    raise

    def _simple(self, command: str, depth: int) -> None:
        command = _NULL_REDIRECT.sub("", command)
        command = _ARITH.sub(lambda m: str(_arith(m.group(1))), command)
        try:
            argv = shlex.split(command, comments=True)
        except ValueError as e:
            raise UnsupportedCommand(f"cannot split shell line {command!r}: {e}") from None
        if not argv:
            return
        name = Path(argv[0]).name
        if name in ("true", ":", "echo") or name.startswith("sysctl_restore_"):
            return  # (set_sysctls.py's restore script: the namespace goes away anyway)
        if name == "false":
            raise CommandFailed("false")
        if name == "sysctl":
            self._sysctl(argv[1:])
        elif name == "set_sysctls.py":
            for arg in argv[1:]:
                path, _, value = arg.partition("=")
                if not path.startswith("/proc/sys/") or not _:
                    raise UnsupportedCommand(f"set_sysctls.py argument {arg!r}")
                self.write(path[len("/proc/sys/"):].replace("/", "."), value)
        elif name == "defaults.sh":
            if depth > 3:
                raise UnsupportedCommand("defaults.sh calls itself")
            script = git_symlink(self.folder / argv[0])
            if not script.is_file():
                raise CommandFailed(f"{argv[0]}: not found next to the script")
            self.run(script.read_text(), depth + 1)
        elif name == "ip" and argv[1:3] == ["tcp_metrics", "flush"]:
            self.metrics.clear()
        elif name == "tc":
            return  # qdiscs: the engine sends straight onto the link
        else:
            raise UnsupportedCommand(f"shell command {name!r} (in {command!r})")

    def _sysctl(self, args: list[str]) -> None:
        failed = None
        for a in args:
            if a.startswith("-"):
                if a.strip("-qwe"):
                    raise UnsupportedCommand(f"sysctl option {a}")
                continue
            name, eq, value = a.partition("=")
            if not eq:
                if self.sysctl.get(name) is None and name not in UNMODELLED:
                    failed = CommandFailed(f"sysctl: cannot stat {name}")
                continue
            try:
                self.write(name, value)
            except CommandFailed as e:
                failed = e
        if failed is not None:
            raise failed

    def write(self, name: str, value: str) -> None:
        """One sysctl write (`name` dotted, `value` as written; numbers in any base the
        kernel's proc_dointvec reads: 0x70403 is hexadecimal)."""
        value = " ".join(_number(w) for w in value.split())
        if name in _MIDDLE_OF_THREE:
            parts = value.split()
            if len(parts) == 3:
                self.unmodelled[f"{name}={value}"] = (
                    "tuxtcp's send buffer does not follow tcp_wmem yet (1 MiB, grown with "
                    "cwnd); the middle value is recorded")
                value = parts[1]
        if name in self.sysctl:
            try:
                self.sysctl[name] = value
            except OSError as e:
                if name == "net.ipv4.tcp_congestion_control" and value in KERNEL_ONLY_CC:
                    self.unmodelled[f"{name}={value}"] = (
                        f"tuxtcp has reno and cubic; {self.sysctl[name]} stays")
                    return
                raise CommandFailed(f"sysctl: setting key {name!r}: {e.strerror}") from None
            return
        if name in UNMODELLED:
            self.unmodelled[f"{name}={value}"] = UNMODELLED[name]
            return
        raise CommandFailed(f"sysctl: cannot stat /proc/sys/{name.replace('.', '/')}: "
                            "No such file or directory")


def git_symlink(path: Path) -> Path:
    """A symbolic link kept as a file holding its target (how the shared corpus stores
    google/packetdrill's tcp/common/defaults.sh): the file it names, else `path`."""
    try:
        if path.stat().st_size < 256:
            target = path.read_text().strip()
            if target and "\n" not in target and " " not in target and \
                    (path.parent / target).is_file():
                return (path.parent / target).resolve()
    except (OSError, UnicodeDecodeError):
        pass
    return path


def _number(word: str) -> str:
    try:
        return str(int(word, 0))
    except ValueError:
        return word


def _lines(text: str) -> list[str]:
    """Logical lines: backslash-newline joined, comments and blank lines dropped."""
    out = []
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _arith(expr: str) -> int:
    """$((...)) with integers, + - * / and parentheses (validated by the pattern)."""
    tokens = re.findall(r"\d+|[-+*/()]", expr)
    pos = 0

    def atom() -> int:
        nonlocal pos
        t = tokens[pos]
        pos += 1
        if t == "(":
            v = add()
            pos += 1  # ")"
            return v
        if t == "-":
            return -atom()
        return int(t)

    def mul() -> int:
        nonlocal pos
        v = atom()
        while pos < len(tokens) and tokens[pos] in "*/":
            op = tokens[pos]
            pos += 1
            r = atom()
            v = v * r if op == "*" else int(v / r)
        return v

    def add() -> int:
        nonlocal pos
        v = mul()
        while pos < len(tokens) and tokens[pos] in "+-":
            op = tokens[pos]
            pos += 1
            r = mul()
            v = v + r if op == "+" else v - r
        return v

    try:
        return add()
    except (IndexError, ZeroDivisionError):
        raise UnsupportedCommand(f"arithmetic $(({expr}))") from None
