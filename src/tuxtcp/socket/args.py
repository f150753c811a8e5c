"""Argument conversion as CPython's socket module does it on Linux (Modules/socketmodule.c and
the PyArg format units it uses), so a bad argument raises the same exception with the same
message, before the call touches any state."""

from __future__ import annotations

import math
import operator
import sys
from typing import Final

INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
LONG_MAX = 2**63 - 1
SSIZE_MAX = 2**63 - 1
PYTIME_MAX = 2**63 - 1  # _PyTime_t: nanoseconds in a signed 64-bit integer
# what the running Python's socket module does (the compiled build is built per interpreter):
# setblocking() takes its flag's truth (PyObject_IsTrue) from 3.12 on, a C long before; 3.13
# renamed the time type its overflow message names
FLAG_IS_TRUTH: Final = sys.version_info >= (3, 12)
PYTIME_NAME: Final = "PyTime_t" if sys.version_info >= (3, 13) else "_PyTime_t"


def c_int(value: object) -> int:
    """PyArg_Parse "i": an integer (or an object with __index__) that fits a C int."""
    v = operator.index(value)  # type: ignore[arg-type]
    if v > INT_MAX:
        raise OverflowError("signed integer is greater than maximum")
    if v < INT_MIN:
        raise OverflowError("signed integer is less than minimum")
    return v


def as_c_int(value: object) -> int:
    """_PyLong_AsInt (shutdown's how)."""
    v = operator.index(value)  # type: ignore[arg-type]
    if not INT_MIN <= v <= INT_MAX:
        raise OverflowError("Python int too large to convert to C int")
    return v


def blocking_flag(value: object) -> bool:
    """setblocking's flag: its truth on Python 3.12 and later, a C long before."""
    return bool(value) if FLAG_IS_TRUTH else as_c_long(value) != 0


def as_c_long(value: object) -> int:
    """PyLong_AsLong (setblocking's flag before Python 3.12)."""
    if value is False or value is True:  # the common flags, without the generic protocol
        return 1 if value else 0
    v = operator.index(value)  # type: ignore[arg-type]
    if not -LONG_MAX - 1 <= v <= LONG_MAX:
        raise OverflowError("Python int too large to convert to C long")
    return v


def c_ssize(value: object) -> int:
    """PyArg_Parse "n": an index that fits a Py_ssize_t."""
    v = operator.index(value)  # type: ignore[arg-type]
    if not -SSIZE_MAX - 1 <= v <= SSIZE_MAX:
        raise OverflowError("Python int too large to convert to C ssize_t")
    return v


def readable_buffer(value: object) -> bytes:
    """PyArg_Parse "y*": any bytes-like object (a copy of its bytes)."""
    if isinstance(value, str) or not _is_buffer(value):
        raise TypeError(f"a bytes-like object is required, not '{type(value).__name__}'")
    return bytes(memoryview(value))  # type: ignore[arg-type]


def writable_buffer(value: object, fname: str) -> memoryview:
    """PyArg_Parse "w*": a writable bytes-like object, as a flat byte view."""
    if not _is_buffer(value) or memoryview(value).readonly:  # type: ignore[arg-type]
        raise TypeError(f"{fname}() argument 1 must be read-write bytes-like object, "
                        f"not {type(value).__name__}")
    return memoryview(value).cast("B")  # type: ignore[arg-type]


def _is_buffer(value: object) -> bool:
    try:
        memoryview(value)  # type: ignore[arg-type]
    except TypeError:
        return False
    return True


def timeout(value: object) -> float | None:
    """socket_parse_timeout: None, or seconds >= 0 kept as whole nanoseconds
    (_PyTime_FromSecondsObject with _PyTime_ROUND_TIMEOUT, which rounds away from zero)."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            raise ValueError("Invalid value NaN (not a number)")
        d = value * 1e9
        if not -float(PYTIME_MAX) - 1 <= d < float(PYTIME_MAX) + 1:  # (inf included)
            raise OverflowError("timestamp out of range for platform time_t")
        ns = math.ceil(d) if d >= 0 else math.floor(d)
    else:
        sec = operator.index(value)  # type: ignore[arg-type]
        if not -LONG_MAX - 1 <= sec * 1_000_000_000 <= PYTIME_MAX:
            raise OverflowError(f"timestamp too large to convert to C {PYTIME_NAME}")
        ns = sec * 1_000_000_000
    if ns < 0:
        raise ValueError("Timeout value out of range")
    # _PyTime_AsSecondsDouble
    return float(ns // 1_000_000_000) if ns % 1_000_000_000 == 0 else ns / 1e9
