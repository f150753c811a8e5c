"""`--watch` for the host commands: a view redrawn every INTERVAL seconds, in place with rich
when standard output is a terminal, else printed again each time under a time stamp line
(plain text for pipes and logs). Stops after `count` views (0: until Ctrl-C)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def take_watch(args: list[str]) -> tuple[float, int] | None:
    """Remove `--watch [SECONDS]` and `--count N` from `args`: (interval, count) or None."""
    if "--watch" not in args:
        return None
    i = args.index("--watch")
    interval = 1.0
    if i + 1 < len(args):
        try:
            interval = float(args[i + 1])
            del args[i + 1]
        except ValueError:
            pass
    del args[i]
    count = 0
    if "--count" in args:
        j = args.index("--count")
        if j + 1 >= len(args):
            raise ValueError("--count needs a number")
        count = int(args[j + 1])
        del args[j:j + 2]
    if not (0.05 <= interval <= 3600) or count < 0:
        raise ValueError("--watch takes 0.05 to 3600 seconds, --count a number >= 0")
    return interval, count


class Screen:
    """Where views go: redrawn in place (rich Live) on a terminal, appended otherwise."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._live = None
        if sys.stdout.isatty():
            from rich.console import Console
            from rich.live import Live

            self._live = Live(console=Console(), auto_refresh=False, screen=False)
            self._live.start()

    def show(self, text: str) -> None:
        if self._live is not None:
            from rich.text import Text

            self._live.update(Text(f"{self.title}  {time.strftime('%H:%M:%S')}\n") + Text(text),
                              refresh=True)
        else:
            sys.stdout.write(f"--- {self.title} {time.strftime('%Y-%m-%d %H:%M:%S')}\n{text}")
            sys.stdout.flush()

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()


def watch(render: Callable[[], str], interval: float, count: int, title: str) -> int:
    """Show render()'s text every `interval` seconds, `count` times (0: until Ctrl-C)."""
    screen = Screen(title)
    n = 0
    try:
        while True:
            screen.show(render())
            n += 1
            if count and n >= count:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        screen.close()
    return 0
