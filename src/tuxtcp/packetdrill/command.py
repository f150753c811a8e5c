"""`tuxtcp packetdrill`: run packetdrill scripts (files, or folders searched for *.pkt)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .parser import ParseError, parse_file
from .target_tuxtcp import Config, run_tuxtcp

DEFAULT_DEFINES = {"TFO_COOKIE": "4448a2548656d2c6", "TFO_COOKIE_ZERO": "920740da3f157f33",
                   "CMSG_LEVEL_IP": "SOL_IP", "CMSG_TYPE_RECVERR": "IP_RECVERR",
                   "CODE": "host_unreachable"}


def _scripts(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted(p.rglob("*.pkt")) if p.is_dir() else [p]
    return out


def packetdrill(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="tuxtcp packetdrill",
        description="Run packetdrill scripts against tuxtcp on a virtual clock (the host "
                    "kernel as a second target is being built: issue 11).")
    ap.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    ap.add_argument("--target", choices=("tuxtcp", "kernel", "both"), default="tuxtcp")
    ap.add_argument("--tolerance_usecs", type=int, default=None)
    ap.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME=VALUE",
                    help="replace the word NAME by VALUE (packetdrill's -D)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="also print the settings tuxtcp does not model")
    args = ap.parse_args(argv)
    if args.target != "tuxtcp":
        print("tuxtcp packetdrill: target kernel is not available yet (issue 11 is in "
              "progress); use --target tuxtcp", file=sys.stderr)
        return 2
    defines = dict(DEFAULT_DEFINES)
    for d in args.defines:
        name, eq, value = d.partition("=")
        if not eq:
            ap.error(f"-D {d}: expected NAME=VALUE")
        defines[name] = value
    scripts = _scripts(args.paths)
    if not scripts:
        ap.error("no .pkt scripts found")
    t0 = time.perf_counter()
    passed = 0
    for path in scripts:
        cfg = Config()
        try:
            script = parse_file(path, defines)
        except (ParseError, OSError) as e:
            print(f"FAIL [tuxtcp] {path}\n  {e}")
            continue
        if args.tolerance_usecs is not None:
            script.options.append(("tolerance_usecs", str(args.tolerance_usecs)))
        r = run_tuxtcp(script, cfg)
        passed += r.passed
        print(r.line())
        if args.verbose or not r.passed:
            for setting, instead in r.unmodelled.items():
                print(f"  not modelled: {setting} ({instead})")
    print(f"{passed} of {len(scripts)} passed on tuxtcp in {time.perf_counter() - t0:.2f} s")
    return 0 if passed == len(scripts) else 1
