"""SipHash-2-4 for the kernel's siphash_Nu32 helpers.

The kernel's siphash_2u32/3u32/4u32 hash the u32 words as consecutive little-endian 32-bit values
(siphash_4u32 is siphash_2u64 of (b<<32|a, d<<32|c)), keyed by a 128-bit key, giving a u64.

Implementations, fastest first: siphashc (a plain C function: about 0.08 us a call), the
siphash24 extension (a hasher object per call: about 0.7 us; three hashes per connection made
it a tenth of a simulated connection's cost), and a pure-Python SipHash-2-4. All are checked
against the reference vectors and each other in tests.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

_siphashc: Callable[[bytes, bytes], int] | None
try:  # pragma: no cover - exercised by whichever is installed
    from siphashc import siphash as _siphashc_fn

    _siphashc = _siphashc_fn
except ImportError:  # pragma: no cover
    _siphashc = None

try:  # pragma: no cover
    from siphash24 import siphash24 as _c_siphash24
except ImportError:  # pragma: no cover
    _c_siphash24 = None

_M64 = 0xFFFFFFFFFFFFFFFF


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _M64


def siphash24_py(key: bytes, data: bytes) -> int:
    """Reference SipHash-2-4 (Aumasson & Bernstein), pure Python. Returns the u64."""
    if len(key) != 16:
        raise ValueError("SipHash key must be 16 bytes")
    k0, k1 = struct.unpack("<QQ", key)
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573

    def rounds(n: int) -> None:
        nonlocal v0, v1, v2, v3
        for _ in range(n):
            v0 = (v0 + v1) & _M64
            v1 = _rotl(v1, 13) ^ v0
            v0 = _rotl(v0, 32)
            v2 = (v2 + v3) & _M64
            v3 = _rotl(v3, 16) ^ v2
            v0 = (v0 + v3) & _M64
            v3 = _rotl(v3, 21) ^ v0
            v2 = (v2 + v1) & _M64
            v1 = _rotl(v1, 17) ^ v2
            v2 = _rotl(v2, 32)

    n = len(data)
    end = n - (n % 8)
    for i in range(0, end, 8):
        (m,) = struct.unpack_from("<Q", data, i)
        v3 ^= m
        rounds(2)
        v0 ^= m
    last = (n & 0xFF) << 56
    for i, byte in enumerate(data[end:]):
        last |= byte << (8 * i)
    v3 ^= last
    rounds(2)
    v0 ^= last
    v2 ^= 0xFF
    rounds(4)
    return v0 ^ v1 ^ v2 ^ v3


def _siphash24_ext(key: bytes, data: bytes) -> int:
    assert _c_siphash24 is not None
    return int(_c_siphash24(data, key=key).intdigest()) & _M64


def _siphash24_c(key: bytes, data: bytes) -> int:
    assert _siphashc is not None
    return int(_siphashc(key, data))


#: every implementation importable here, by name (tests compare them)
IMPLEMENTATIONS: dict[str, Callable[[bytes, bytes], int]] = {"python": siphash24_py}
if _c_siphash24 is not None:
    IMPLEMENTATIONS["siphash24"] = _siphash24_ext
if _siphashc is not None:
    IMPLEMENTATIONS["siphashc"] = _siphash24_c

siphash24: Callable[[bytes, bytes], int] = (
    _siphash24_c if _siphashc is not None
    else _siphash24_ext if _c_siphash24 is not None else siphash24_py)

_PACK = {n: struct.Struct(f"<{n}I") for n in (1, 2, 3, 4)}
# the packers' bound methods, taken once (the compiled helpers call them without looking
# `pack` up by name each time)
_PACK3: Final[Callable[..., bytes]] = _PACK[3].pack
_PACK4: Final[Callable[..., bytes]] = _PACK[4].pack
# the hash the fixed-arity helpers call: siphashc's C function itself where it is installed
# (no wrapper between the compiled caller and it), else the best implementation above
_HASH: Final[Callable[[bytes, bytes], int]] = (
    _siphashc if _siphashc is not None else siphash24)


def siphash_u32s(key: bytes, *words: int) -> int:
    """siphash_Nu32(words..., key): the u64 hash of N little-endian u32 words."""
    return siphash24(key, _PACK[len(words)].pack(*words))


def siphash_3u32(key: bytes, a: int, b: int, c: int) -> int:
    """siphash_3u32(a, b, c, key): siphash_u32s with three words, without its varargs (the
    ISN and the listener choice hash one per connection)."""
    return _HASH(key, _PACK3(a, b, c))


def siphash_4u32(key: bytes, a: int, b: int, c: int, d: int) -> int:
    """siphash_4u32(a, b, c, d, key): siphash_u32s with four words (SYN cookies, the port
    offset)."""
    return _HASH(key, _PACK4(a, b, c, d))
