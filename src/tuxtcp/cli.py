"""The `tuxtcp` command: `tuxtcp simulate ...`, `tuxtcp demo`, `tuxtcp packetdrill ...`."""

from __future__ import annotations

import gc
import sys

USAGE = """usage: tuxtcp COMMAND [ARGS]

commands:
  simulate [SCENARIO] [options]   capacity and incident simulator (tuxtcp simulate -h)
  simulate sweep [SCENARIO] --grid NAME=V1,V2 ...   a grid of scenarios on all cores
  simulate list                   the built-in scenarios
  simulate flows A.pcap B.pcap    two captures of a scenario compared flow by flow
  demo                            a burst of clients against listen(8) and a slow accept()
  packetdrill FILE_OR_DIR...      run packetdrill scripts (tuxtcp packetdrill -h)
  serve [options]                 tuxtcp on a TUN device: echo and HTTP for the kernel (root)
  ss [--netns NAME] [options]     the host's TCP sockets as ss prints them (sock_diag)
  nstat [--netns NAME] [options]  the host's counters as nstat prints them
  netstat -s [--netns NAME]       the host's counters in netstat -s's words
  trace [--netns NAME] [--duration S]   drops and retransmissions by reason and listener (root)
  doctor [--netns NAME] [--interval S]  diagnose the listen queues: what, why, what to do
  exporter [--listen ADDR:PORT]   per-listener queues and TCP counters for Prometheus
"""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd in ("simulate", "demo"):
        from .simulate.command import simulate

        return simulate(rest if cmd == "simulate" else ["burst", *rest])
    if cmd == "packetdrill":
        from .packetdrill.command import packetdrill

        return packetdrill(rest)
    if cmd == "serve":
        from .tunnet.command import serve

        return serve(rest)
    if cmd == "ss":
        from .host.ss_command import ss

        return ss(rest)
    if cmd == "nstat":
        from .host.nstat_command import nstat

        return nstat(rest)
    if cmd == "netstat":
        from .host.netstat_command import netstat

        return netstat(rest)
    if cmd == "trace":
        from .host.trace_command import trace

        return trace(rest)
    if cmd == "doctor":
        from .doctor.command import doctor

        return doctor(rest)
    if cmd == "exporter":
        from .host.exporter import exporter

        return exporter(rest)
    print(f"tuxtcp: unknown command {cmd!r}\n{USAGE}", file=sys.stderr, end="")
    return 2


def run() -> int:
    """main() for the console script: a closed pipe (`tuxtcp ss | head`) ends the command
    quietly, as ss and netstat end."""
    try:
        return main()
    except BrokenPipeError:
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for ss | head
    finally:
        # The process exits next. What the command built stays out of the interpreter's
        # final collection, which would walk all of it only for exit to return the memory
        # anyway: a 1M-connection simulation leaves millions of objects in reference cycles
        # (sockets and their namespace), about a second of walking at exit.
        gc.freeze()


if __name__ == "__main__":
    sys.exit(run())
