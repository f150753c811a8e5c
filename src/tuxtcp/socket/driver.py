"""What a socket needs of whatever runs its namespace: the clock, a kick after each engine call
(send what it queued, note its next timer), waits that advance time, host names and
descriptor numbers.

`Driver` is a class, not only a protocol, so that the compiled socket calls these through the
class's method table: a call through a protocol is a generic attribute lookup and a call with
its arguments boxed (the socket of a simulated connection makes about ten: 3% of a slow-accept
run's instructions). The simulated World subclasses it. Any other object with the same five
methods (the TUN driver, packetdrill's, a test's) is wrapped by `as_driver` in one that
forwards to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..tcp.engine import Namespace


class DriverLike(Protocol):
    def now(self) -> float: ...
    def kick(self, ns: Namespace) -> None: ...
    def wait(self, ready: Callable[[], bool], timeout: float | None) -> bool: ...
    def resolve(self, name: str) -> int | None: ...
    def alloc_fd(self) -> int: ...


class Driver:
    """The five calls a socket makes of its driver; subclasses give them."""

    def now(self) -> float:
        raise NotImplementedError

    def kick(self, ns: Namespace) -> None:
        raise NotImplementedError

    def wait(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        raise NotImplementedError

    def resolve(self, name: str) -> int | None:
        raise NotImplementedError

    def alloc_fd(self) -> int:
        raise NotImplementedError


class _Forwarding(Driver):
    """A Driver that passes each call to an object with the same methods."""

    def __init__(self, target: DriverLike) -> None:
        self.target = target

    def now(self) -> float:
        return self.target.now()

    def kick(self, ns: Namespace) -> None:
        self.target.kick(ns)

    def wait(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        return self.target.wait(ready, timeout)

    def resolve(self, name: str) -> int | None:
        return self.target.resolve(name)

    def alloc_fd(self) -> int:
        return self.target.alloc_fd()


def as_driver(driver: Driver | DriverLike) -> Driver:
    """`driver` itself if it is a Driver, else one that forwards to it."""
    return driver if isinstance(driver, Driver) else _Forwarding(driver)
