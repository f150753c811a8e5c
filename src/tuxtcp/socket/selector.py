"""A selectors.BaseSelector over tuxtcp sockets: readiness without file descriptors.

`select(timeout)` advances the driver's clock (virtual time in the simulation) until a
registered socket is ready or the timeout passes, so event loops written for the standard
library's selectors run unchanged on the simulated network.
"""

from __future__ import annotations

import selectors
from collections.abc import Mapping
from typing import Any, Final

from ..tcp import user
from .api import SS_UNCONNECTED, Socket
from .driver import DriverLike

EVENT_READ: Final = selectors.EVENT_READ
EVENT_WRITE: Final = selectors.EVENT_WRITE


def readiness(sock: Socket) -> int:
    """The poll(2) events a socket would report (tcp_poll), as selector event bits."""
    if sock._closed:
        return 0
    ev = user.tcp_poll(sock.sk, sock.sock_state != SS_UNCONNECTED)
    return ((EVENT_READ if ev & user.EPOLLIN else 0)
            | (EVENT_WRITE if ev & user.EPOLLOUT else 0))


class _Map(Mapping[Any, selectors.SelectorKey]):
    def __init__(self, sel: SimSelector) -> None:
        self._sel = sel

    def __len__(self) -> int:
        return len(self._sel._keys)

    def __getitem__(self, fileobj: Any) -> selectors.SelectorKey:
        return self._sel._keys[fileobj.fileno() if hasattr(fileobj, "fileno") else fileobj]

    def __iter__(self) -> Any:
        return iter(self._sel._keys)


class SimSelector(selectors.BaseSelector):
    def __init__(self, driver: DriverLike) -> None:
        self.driver = driver
        self._keys: dict[int, selectors.SelectorKey] = {}

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        if not isinstance(fileobj, Socket):
            raise ValueError(f"not a tuxtcp socket: {fileobj!r}")
        if not events or events & ~(EVENT_READ | EVENT_WRITE):
            raise ValueError(f"Invalid events: {events!r}")
        fd = fileobj.fileno()
        if fd < 0:
            raise ValueError("closed socket")
        if fd in self._keys:
            raise KeyError(f"{fileobj!r} (FD {fd}) is already registered")
        key = selectors.SelectorKey(fileobj, fd, events, data)
        self._keys[fd] = key
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        fd = fileobj.fileno() if isinstance(fileobj, Socket) else fileobj
        for k, key in list(self._keys.items()):
            if key.fileobj is fileobj or k == fd:
                return self._keys.pop(k)
        raise KeyError(f"{fileobj!r} is not registered")

    def _ready(self) -> list[tuple[selectors.SelectorKey, int]]:
        out = []
        for key in self._keys.values():
            sock = key.fileobj
            assert isinstance(sock, Socket)
            ev = readiness(sock) & key.events
            if ev:
                out.append((key, ev))
        return out

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._ready()
        if ready or (timeout is not None and timeout <= 0):
            return ready
        self.driver.wait(lambda: bool(self._ready()), timeout)
        return self._ready()

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return _Map(self)

    def close(self) -> None:
        self._keys.clear()
