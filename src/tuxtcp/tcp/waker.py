"""What a socket wakes when something changes for its owner (the kernel's sk_state_change,
sk_data_ready and sk_write_space callbacks, as one): `TcpSock.on_wakeup`.

`Waker` is a class with one method rather than a plain callable so that the compiled engine
calls it through the class's method table; a bound method kept as a callable is a new object
where it is taken, and each call goes through the interpreter's generic call with its
argument checks. Front ends subclass it (the simulator's clients and servers); a plain
function goes in a `FunctionWaker`.
"""

from __future__ import annotations

from collections.abc import Callable


class Waker:
    def wake(self) -> None:
        raise NotImplementedError


class FunctionWaker(Waker):
    """Calls `fn()` on each wakeup."""

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn

    def wake(self) -> None:
        self.fn()
