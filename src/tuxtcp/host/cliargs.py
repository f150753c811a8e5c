"""Command-line pieces the host commands share."""

from __future__ import annotations


class UsageError(ValueError):
    """A command line the command refuses (exit status 2)."""


def take_value(args: list[str], flag: str) -> str | None:
    """Remove `FLAG VALUE` from `args` and return VALUE (None: not given)."""
    if flag not in args:
        return None
    i = args.index(flag)
    if i + 1 >= len(args):
        raise UsageError(f"{flag} needs a value")
    value = args[i + 1]
    del args[i:i + 2]
    return value


def take_netns(args: list[str]) -> str | None:
    """Remove `--netns NAME` from `args` and return NAME (None: not given)."""
    return take_value(args, "--netns")
