"""Sequence-number arithmetic modulo 2**32, as include/net/tcp.h defines it."""

from typing import Final

MASK: Final = 0xFFFFFFFF
_SIGN: Final = 0x80000000


def seq_add(a: int, n: int) -> int:
    """a + n modulo 2**32."""
    return (a + n) & MASK


def seq_sub(a: int, b: int) -> int:
    """(s32)(a - b): the signed distance from b to a."""
    d = (a - b) & MASK
    return d - 0x100000000 if d & _SIGN else d


def before(a: int, b: int) -> bool:
    """tcp.h before(): (s32)(a - b) < 0."""
    return ((a - b) & MASK) >= _SIGN


def after(a: int, b: int) -> bool:
    """tcp.h after(): before(b, a)."""
    return ((b - a) & MASK) >= _SIGN


def between(x: int, lo: int, hi: int) -> bool:
    """tcp.h between(): hi - lo >= x - lo, in u32."""
    return ((hi - lo) & MASK) >= ((x - lo) & MASK)
