"""The Internet checksum (RFC 1071).

The ones'-complement sum of big-endian 16-bit words is congruent to the whole buffer read as one
big-endian integer modulo 0xFFFF (because 2**16 == 1 mod 0xFFFF), so one int.from_bytes and one
modulo replace a loop over words. A non-zero multiple of 0xFFFF folds to 0xFFFF, as csum_fold does,
so the emitted checksum is bit-identical to the kernel's.
"""

from typing import Final

_M: Final = 0xFFFF


def ones_sum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """Folded ones'-complement sum of data (zero-padded to even length) plus `initial`."""
    n = int.from_bytes(data, "big")
    if len(data) & 1:
        n <<= 8
    n += initial
    s = n % _M
    if s == 0 and n:
        return _M
    return s


def internet_checksum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """The 16-bit checksum field value for `data` (with its checksum field zeroed)."""
    return ~ones_sum(data, initial) & _M


def pseudo_header_sum(src: int, dst: int, proto: int, length: int) -> int:
    """Unfolded sum of the IPv4 pseudo-header (addresses as u32 integers)."""
    return src + dst + proto + length


def verify(data: bytes | bytearray | memoryview, initial: int = 0) -> bool:
    """True when data (checksum field included) sums to all ones."""
    n = int.from_bytes(data, "big")
    if len(data) & 1:
        n <<= 8
    n += initial
    return n % _M == 0 and n != 0
