"""The raw file object under `Socket.makefile()`, as socket.SocketIO is under Python's.

Kept out of the compiled modules (setup.py's NOT_COMPILED): mypyc compiles a subclass of
io.RawIOBase into a type that Python 3.12 and later refuse to create ("type has the
Py_TPFLAGS_MANAGED_DICT flag but tp_dictoffset is set"), so the compiled socket API failed to
import on those versions; it is not on any hot path.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import Socket


class SocketIO(io.RawIOBase):
    """socket.SocketIO for tuxtcp sockets."""

    def __init__(self, sock: Socket, reading: bool, writing: bool) -> None:
        super().__init__()
        self._sock = sock
        self._reading = reading
        self._writing = writing

    def readinto(self, b: Any) -> int:
        return self._sock.recv_into(memoryview(b).cast("B"))

    def write(self, b: Any) -> int:
        return self._sock.send(bytes(b))

    def readable(self) -> bool:
        return self._reading

    def writable(self) -> bool:
        return self._writing
