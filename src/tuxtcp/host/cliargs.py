"""Command-line pieces the host commands share."""

from __future__ import annotations


class UsageError(ValueError):
    """A command line the command refuses (exit status 2)."""


def take_netns(args: list[str]) -> str | None:
    """Remove `--netns NAME` from `args` and return NAME (None: not given)."""
    if "--netns" not in args:
        return None
    i = args.index("--netns")
    if i + 1 >= len(args):
        raise UsageError("--netns needs a name")
    name = args[i + 1]
    del args[i:i + 2]
    return name
