"""`tuxtcp trace [--netns NAME] [--duration S] [--json] [--quiet]`: the live kernel's drops
by reason and by listener, SYN-ACK retransmissions and resets per listener, read from
tracepoints in a tracefs instance of our own (host/tracefs.py) and attributed to the
listeners of this namespace or of NAME (observe/trace_tally.py). Prints each event as it
comes (unless --quiet), then a summary. `--from FILE` summarises a trace_pipe text instead
(the kernel's, or a simulation's from `tuxtcp simulate --trace FILE`)."""

from __future__ import annotations

import json
import sys
import time

from ..net.trace import parse_trace_line
from ..observe.trace_tally import TraceTally, listeners_from_proc
from .cliargs import UsageError, take_netns, take_value
from .errors import SockDiagError
from .sockdiag import in_netns
from .tracefs import trace_session
from .watch import Screen, take_watch

USAGE = """usage: tuxtcp trace [--netns NAME] [--duration SECONDS] [--json] [--quiet]
                    [--watch [SECONDS]]
       tuxtcp trace --from FILE [--json]

Drops (skb:kfree_skb reasons), SYN-ACK retransmissions, resets and new requests per
listener, from the kernel's tracepoints (root). --duration defaults to 10 s (at most 3600).
--watch: the summary redrawn every SECONDS (default 1) instead of one line per event.
"""


def proc_listeners(netns: str | None) -> dict[int, tuple[int, int]]:
    with in_netns(netns), open("/proc/thread-self/net/tcp") as f:
        return listeners_from_proc(f.read())


def trace(argv: list[str]) -> int:
    args = list(argv)
    if args and args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    want_json = "--json" in args
    quiet = "--quiet" in args or want_json
    args = [a for a in args if a not in ("--json", "--quiet")]
    try:
        watching = take_watch(args)
        if watching is not None:
            quiet = True
        netns = take_netns(args)
        duration = float(take_value(args, "--duration") or 10.0)
        source = take_value(args, "--from")
        if args:
            raise UsageError(f"unexpected arguments: {' '.join(args)}")
        if not 0 < duration <= 3600:
            raise UsageError("--duration is between 0 and 3600 seconds")
    except (UsageError, ValueError) as e:
        print(f"tuxtcp trace: {e}", file=sys.stderr)
        return 2
    try:
        if source is not None:
            tally = TraceTally(dict)
            with open(source) as f:
                for line in f:
                    _feed(tally, line, quiet)
        else:
            tally = TraceTally(lambda: proc_listeners(netns))
            screen = Screen(f"tuxtcp trace {' '.join(argv)}") if watching else None
            next_draw = 0.0
            try:
                with trace_session() as session:
                    for line in session.lines(duration):
                        _feed(tally, line, quiet)
                        if screen is not None and watching and time.monotonic() >= next_draw:
                            screen.show(tally.summary())
                            next_draw = time.monotonic() + watching[0]
            finally:
                if screen is not None:
                    screen.close()
    except BrokenPipeError:
        raise  # cli.run ends quietly
    except (OSError, SockDiagError) as e:
        print(f"tuxtcp trace: {e}", file=sys.stderr)
        return 1
    if want_json:
        print(json.dumps(tally.as_dict(), indent=1))
    else:
        sys.stdout.write(tally.summary())
    return 0


def _feed(tally: TraceTally, line: str, quiet: bool) -> None:
    ev = parse_trace_line(line)
    if ev is None:
        return
    text = tally.add(ev)
    if text is not None and not quiet:
        print(text, flush=True)
