"""`tuxtcp packetdrill`: run packetdrill scripts (files, or folders searched for *.pkt)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from .parser import ParseError, parse_file
from .runner import JIFFY_USECS, Result
from .target_kernel import run_kernel
from .target_tuxtcp import run_tuxtcp

DEFAULT_DEFINES = {"TFO_COOKIE": "4448a2548656d2c6", "TFO_COOKIE_ZERO": "920740da3f157f33",
                   "CMSG_LEVEL_IP": "SOL_IP", "CMSG_TYPE_RECVERR": "IP_RECVERR",
                   "CODE": "host_unreachable"}


def _scripts(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted(p.rglob("*.pkt")) if p.is_dir() else [p]
    return out


# The kernel's timers are real: a timing error is tried again, up to this many runs in all,
# each after a pause (a busy host's bursts last seconds: a CI run of d047114 had
# fastopen/client/poll.pkt's return 5.7 ms late, over the 4 ms tolerance, three runs in a row)
KERNEL_ATTEMPTS = 5
KERNEL_RETRY_PAUSE_S = 1.0


def run_script(path: Path, target: str, defines: dict[str, str],
               options: list[tuple[str, str | None]]) -> Result:
    """One script on one target ("tuxtcp" or "kernel")."""
    if target == "kernel":
        r = run_kernel(path, defines, options)
        for _ in range(KERNEL_ATTEMPTS - 1):
            if r.passed or "timing error" not in r.error:
                break
            time.sleep(KERNEL_RETRY_PAUSE_S)
            r = run_kernel(path, defines, options)
        return r
    try:
        script = parse_file(path, defines)
    except (ParseError, OSError) as e:
        return Result(str(path), target, False, str(e))
    script.options.extend(options)
    return run_tuxtcp(script)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C: the kernel target's namespace is deleted on the way out."""
    sys.exit(128 + signum)


def packetdrill(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    ap = argparse.ArgumentParser(
        prog="tuxtcp packetdrill",
        description="Run packetdrill scripts against tuxtcp on a virtual clock, against the "
                    "host kernel through a TUN device in a namespace of its own (root), or "
                    "both.")
    ap.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    ap.add_argument("--target", choices=("tuxtcp", "kernel", "both"), default="tuxtcp",
                    help="kernel: real sockets and a TUN device, real time; a timing error is "
                         f"tried again (up to {KERNEL_ATTEMPTS} runs)")
    ap.add_argument("--tolerance_usecs", type=int, default=None)
    ap.add_argument("--jiffy_phase_usecs", type=int, default=None, metavar="N",
                    help="start the script's clock N us after a jiffy edge on both targets "
                         "(0-3999; default 2250)")
    ap.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME=VALUE",
                    help="replace the word NAME by VALUE (packetdrill's -D)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="also print every packet injected (<) and sniffed (>) and the "
                         "settings tuxtcp does not model")
    ap.add_argument("--json", action="store_true", help="one JSON object per script and target")
    args = ap.parse_args(argv)
    defines = dict(DEFAULT_DEFINES)
    for d in args.defines:
        name, eq, value = d.partition("=")
        if not eq:
            ap.error(f"-D {d}: expected NAME=VALUE")
        defines[name] = value
    scripts = _scripts(args.paths)
    if not scripts:
        ap.error("no .pkt scripts found")
    options: list[tuple[str, str | None]] = []
    if args.tolerance_usecs is not None:
        options.append(("tolerance_usecs", str(args.tolerance_usecs)))
    if args.jiffy_phase_usecs is not None:
        if not 0 <= args.jiffy_phase_usecs < JIFFY_USECS:
            ap.error(f"--jiffy_phase_usecs: 0 to {JIFFY_USECS - 1} (a jiffy)")
        options.append(("jiffy_phase_usecs", str(args.jiffy_phase_usecs)))
    targets = ["tuxtcp", "kernel"] if args.target == "both" else [args.target]
    results: dict[tuple[Path, str], Result] = {}
    took = {t: 0.0 for t in targets}
    for path in scripts:
        for target in targets:
            t0 = time.perf_counter()
            r = results[path, target] = run_script(path, target, defines, options)
            took[target] += time.perf_counter() - t0
            if args.json:
                print(json.dumps(dict(r.__dict__, script=str(path))), flush=True)
                continue
            print(r.line(), flush=True)
            if args.verbose:
                for text in r.packets:
                    print(f"  {text}")
            if args.verbose or not r.passed:
                for setting, instead in r.unmodelled.items():
                    print(f"  not modelled: {setting} ({instead})")
    if not args.json:
        print(summary(scripts, targets, results, took))
    return 0 if all(r.passed for r in results.values()) else 1


def summary(scripts: list[Path], targets: list[str], results: dict[tuple[Path, str], Result],
            took: dict[str, float]) -> str:
    """Passes per folder and target; with two targets, the scripts they disagree on."""
    folders = sorted({p.parent for p in scripts})
    width = max(len(str(f)) for f in folders)
    head = f"{'folder':<{width}}  {'scripts':>7}" + "".join(f"  {t:>7}" for t in targets)
    lines = [head]
    for f in folders:
        mine = [p for p in scripts if p.parent == f]
        row = f"{str(f):<{width}}  {len(mine):>7}"
        for t in targets:
            row += f"  {sum(results[p, t].passed for p in mine):>7}"
        lines.append(row)
    total = f"{'all':<{width}}  {len(scripts):>7}"
    for t in targets:
        total += f"  {sum(results[p, t].passed for p in scripts):>7}"
    lines.append(total)
    for t in targets:
        lines.append(f"{t}: {took[t]:.2f} s")
    if len(targets) == 2:
        split = [p for p in scripts if results[p, targets[0]].passed
                 != results[p, targets[1]].passed]
        lines.append(f"the targets disagree on {len(split)} script(s)")
        for p in split:
            who = targets[0] if results[p, targets[0]].passed else targets[1]
            lines.append(f"  {p}: passes on {who} only")
    return "\n".join(lines)
