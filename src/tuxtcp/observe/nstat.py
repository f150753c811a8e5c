"""nstat(8) as iproute2 6.1's misc/nstat.c does it: the SNMP and netstat counters by their
nstat names ("TcpExtListenOverflows"), as deltas against a history file, from a tuxtcp
namespace or from the live kernel's /proc/net files (host/nstat_command.py).

- Counters are read in the kernel files' order: /proc/net/snmp (Ip, Icmp, IcmpMsg, Tcp, Udp,
  UdpLite), /proc/net/snmp6 (name-value lines, when there is one), /proc/net/netstat (TcpExt,
  IpExt, MPTcpExt). Settings that are not counters are left out as nstat leaves them out
  (IpForwarding, IpDefaultTTL, TcpRtoAlgorithm, TcpRtoMin, TcpRtoMax, TcpMaxConn,
  TcpCurrEstab).
- The history ($NSTAT_HISTORY, else /tmp/.nstat.u<uid>) holds the absolute values of the last
  run; a run prints each counter's change since then (or its value, -a or no history), only
  the non-zero ones unless -z, only those matching the patterns (shell globs) if any, and
  writes the history again unless -s (the non-zero values; all of them with -z). -n writes
  the history and prints nothing; -r starts from an empty history. -j prints
  {"kernel": {name: value}}.
- Lines are "%-32s%-16llu%6.1f": name, value, rate. The rate is nstat's daemon average; with
  no daemon (the usual case, and tuxtcp has none) it is 0.0.
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass, field
from typing import Final

SNAPSHOT_FILES: Final = ("snmp", "snmp6", "netstat")
NOT_COUNTERS: Final = frozenset({"IpForwarding", "IpDefaultTTL", "TcpRtoAlgorithm",
                                 "TcpRtoMin", "TcpRtoMax", "TcpMaxConn", "TcpCurrEstab"})
U64: Final = 1 << 64


def parse_groups(text: str) -> list[tuple[str, str, int]]:
    """/proc/net/snmp or /proc/net/netstat: "Group: names" then "Group: values" lines ->
    [(group, name, value)] in file order (a negative value wraps as nstat's strtoull reads
    it)."""
    out: list[tuple[str, str, int]] = []
    lines = text.splitlines()
    for head, vals in zip(lines[0::2], lines[1::2], strict=False):
        g, names = head.split(":", 1)
        g2, values = vals.split(":", 1)
        if g != g2:
            continue
        for n, v in zip(names.split(), values.split(), strict=False):
            out.append((g, n, int(v) % U64))
    return out


def parse_two_line(text: str) -> list[tuple[str, int]]:
    """parse_groups with nstat's names: [(GroupName, value)]."""
    return [(g + n, v) for g, n, v in parse_groups(text)]


def parse_name_value(text: str) -> list[tuple[str, int]]:
    """/proc/net/snmp6: one "Name value" pair a line."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out.append((parts[0], int(parts[1]) % U64))
    return out


def snapshot(files: dict[str, str]) -> list[tuple[str, int]]:
    """The counters nstat reads from the /proc/net files given as {"snmp": text, ...}."""
    out: list[tuple[str, int]] = []
    for f in SNAPSHOT_FILES:
        text = files.get(f)
        if text is None:
            continue
        pairs = parse_name_value(text) if f == "snmp6" else parse_two_line(text)
        out += [(n, v) for n, v in pairs if n not in NOT_COUNTERS]
    return out


def history_path() -> str:
    return os.environ.get("NSTAT_HISTORY") or f"/tmp/.nstat.u{os.getuid()}"


def read_history(path: str) -> dict[str, int]:
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith("#") and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def line(name: str, value: int, rate: float = 0.0) -> str:
    return f"{name:<32}{value:<16}{rate:6.1f}"


def write_history(path: str, counters: list[tuple[str, int]]) -> None:
    """The absolute values, in nstat's own format, readable by the user alone."""
    text = "#kernel\n" + "".join(line(n, v) + "\n" for n, v in counters)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


@dataclass
class NstatOptions:
    absolute: bool = False  # -a
    zeros: bool = False  # -z
    no_update: bool = False  # -s
    no_output: bool = False  # -n
    reset: bool = False  # -r
    json: bool = False  # -j
    patterns: list[str] = field(default_factory=list)


_FLAGS: Final = {"a": "absolute", "z": "zeros", "s": "no_update", "n": "no_output",
                 "r": "reset", "j": "json"}
_LONG: Final = {"--ignore": "a", "--zeros": "z", "--no-update": "s", "--nooutput": "n",
                "--reset": "r", "--json": "j"}


class NstatError(ValueError):
    """A command line nstat would refuse."""


def parse_args(argv: list[str]) -> NstatOptions:
    opts = NstatOptions()
    for w in argv:
        if w in _LONG:
            setattr(opts, _FLAGS[_LONG[w]], True)
        elif w.startswith("-") and len(w) > 1:
            for c in w[1:]:
                if c not in _FLAGS:
                    raise NstatError(f"option -{c} is not supported (-a -z -s -n -r -j)")
                setattr(opts, _FLAGS[c], True)
        else:
            opts.patterns.append(w)
    return opts


def run(counters: list[tuple[str, int]], opts: NstatOptions, path: str) -> str:
    """One nstat invocation over `counters` (absolute, in kernel order) with history file
    `path`: the text it prints; the history is rewritten unless -s."""
    text, after = report(counters, opts, read_history(path))
    if not opts.no_update:
        write_history(path, list(after.items()))
    return text


def report(counters: list[tuple[str, int]], opts: NstatOptions,
           history: dict[str, int]) -> tuple[str, dict[str, int]]:
    """What nstat prints for `counters` against `history`, and the history after the run
    (unchanged with -s)."""
    hist = {} if (opts.reset or opts.absolute) else history
    shown: list[tuple[str, int]] = []
    for name, value in counters:
        if opts.patterns and not any(fnmatch.fnmatchcase(name, p) for p in opts.patterns):
            continue
        delta = (value - hist[name]) % U64 if name in hist else value
        if delta or opts.zeros:
            shown.append((name, delta))
    # the history nstat writes: every counter's value, the zeros only with -z (a missing
    # entry reads as 0), whatever the patterns (observed: 16 lines, or 391 after -z)
    after = history if opts.no_update else {n: v for n, v in counters if v or opts.zeros}
    if opts.no_output:
        return "", after
    if opts.json:
        return json.dumps({"kernel": dict(shown)}, separators=(",", ":")) + "\n", after
    return "#kernel\n" + "".join(line(n, v) + "\n" for n, v in shown), after
