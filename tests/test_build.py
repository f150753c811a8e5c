"""The compiled build as setup.py makes it: the engine's library exports only its module
initialiser (GCC, link-time optimisation and hidden visibility: calls between its modules are
direct, not through the PLT), and the raw file object under makefile() stays plain Python
(a compiled io.RawIOBase subclass cannot be created on Python 3.12 and later)."""

from __future__ import annotations

import ctypes
import io
from pathlib import Path

import pytest

import tuxtcp.tcp.demux as demux
from tuxtcp.socket import api, sockio

COMPILED = demux.__file__.endswith(".so")


def _engine_library() -> Path:
    site = Path(demux.__file__).parents[2]
    found = sorted(site.glob("tuxtcp_engine__mypyc*.so"))
    assert found, f"no tuxtcp_engine__mypyc library beside {site}"
    return found[0]


@pytest.mark.skipif(not COMPILED, reason="plain-Python install: no compiled library")
def test_the_engine_library_exports_only_its_initialiser() -> None:
    lib = ctypes.CDLL(str(_engine_library()))
    assert hasattr(lib, "PyInit_tuxtcp_engine__mypyc")
    # a compiled engine function, visible by name without -fvisibility=hidden
    with pytest.raises(AttributeError):
        lib.CPyDef_tuxtcp___tcp___demux___tcp_v4_rcv  # noqa: B018
    # (built with TUXTCP_LTO=0 or by another compiler than GCC, this fails: setup.py)


def test_makefile_raw_io_is_plain_python() -> None:
    assert sockio.__file__.endswith(".py")
    assert issubclass(sockio.SocketIO, io.RawIOBase)
    assert api.SocketIO is sockio.SocketIO
