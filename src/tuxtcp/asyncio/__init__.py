"""asyncio on the userspace stack: `start_server` and `open_connection` give the standard
`asyncio.StreamReader`/`StreamWriter` over tuxtcp sockets, and `create_server` /
`create_connection` the Transport/Protocol layer under them, so an asyncio program written
for the standard library runs on tuxtcp with only its import changed.

A `TunStack` attaches a namespace on a TUN device (tunnet.driver.TunDriver) to the running
event loop: the device's descriptor is watched with `loop.add_reader`, the engine's next
timer is a `loop.call_at`, and the sockets' readiness (the engine's wakeups, and send space
for transports that have data waiting) is turned into protocol callbacks after each engine
step, never from inside one.

A `WorldStack` does the same for a host of the simulated World, on a `VirtualTimeLoop`: an
asyncio event loop whose clock is the World's virtual clock, so `asyncio.sleep(60)` and a
minute of retransmissions take no wall time and every run is the same (`run(main(), world)`).
"""

from __future__ import annotations

import asyncio
import errno
import selectors
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from ..socket.api import Socket
from ..socket.selector import EVENT_READ, EVENT_WRITE, readiness
from ..tcp import user
from ..tcp.waker import FunctionWaker
from ..tunnet.driver import TunDriver

HIGH_WATER = 64 * 1024
READ_SIZE = 256 * 1024

__all__ = ["Server", "TunStack", "VirtualTimeLoop", "WorldStack", "create_connection",
           "create_server", "open_connection", "run", "start_server"]


class _Stack:
    """What both stacks share: endpoints woken by the engine, serviced after its steps."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 new_socket: Callable[[], Socket]) -> None:
        self.loop = loop
        self._new_socket = new_socket
        self._dirty: dict[_Endpoint, None] = {}
        self._writers: dict[_Endpoint, None] = {}
        self._servicing = False

    def close(self) -> None:
        pass

    def _reschedule(self) -> None:
        pass

    def _after_engine(self) -> None:
        """After any engine step: the next timer scheduled, endpoints that were woken, and
        those with data waiting whose socket has send space again, serviced (each may call
        the engine again: loop until quiet, bounded)."""
        if self._servicing:
            return
        self._servicing = True
        try:
            for _ in range(1000):
                work = list(self._dirty) + [w for w in self._writable() if w not in self._dirty]
                self._dirty.clear()
                if not work:
                    break
                for ep in work:
                    ep._service()
        finally:
            self._servicing = False
        self._reschedule()

    def _writable(self) -> list[_Endpoint]:
        """Endpoints with data waiting whose socket takes more now (the engine wakes no one
        when an ACK frees send space: tcp_poll is asked instead, as a selector would)."""
        return [w for w in self._writers if readiness(w.sock) & EVENT_WRITE]

    def busy(self) -> bool:
        """Something is to be serviced: a wakeup, or send space for data waiting."""
        return bool(self._dirty) or bool(self._writers and self._writable())

    def _watch(self, ep: _Endpoint) -> None:
        sock = ep.sock

        def woken() -> None:
            self._dirty[ep] = None

        sock.sk.on_wakeup = FunctionWaker(woken)
        self._dirty[ep] = None

    # -- the API ---------------------------------------------------------------------------------
    async def create_server(self, protocol_factory: Callable[[], asyncio.BaseProtocol],
                            host: str | None = None, port: int = 0, *, backlog: int = 100,
                            reuse_address: bool = True) -> Server:
        sock = self._new_socket()
        if reuse_address:
            sock.setsockopt(1, 2, 1)  # SOL_SOCKET, SO_REUSEADDR
        sock.bind((host or "0.0.0.0", port))
        sock.listen(backlog)
        sock.setblocking(False)
        server = Server(self, sock, protocol_factory)
        self._watch(server)
        self._after_engine()
        return server

    async def create_connection(self, protocol_factory: Callable[[], asyncio.BaseProtocol],
                                host: str, port: int) -> tuple[Transport, asyncio.BaseProtocol]:
        sock = self._new_socket()
        sock.setblocking(False)
        err = sock.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            raise OSError(err, f"connect to {host}:{port} failed")
        waiter: asyncio.Future[None] = self.loop.create_future()
        pending = _Connecting(self, sock, waiter)
        self._watch(pending)
        self._after_engine()
        try:
            await waiter
        except BaseException:
            sock.close()
            raise
        protocol = protocol_factory()
        transport = Transport(self, sock, protocol)
        self._watch(transport)
        transport._start()
        self._after_engine()
        return transport, protocol

    async def start_server(self, client_connected_cb: Callable[..., Any],
                           host: str | None = None, port: int = 0, *,
                           limit: int = 2**16, backlog: int = 100) -> Server:
        loop = self.loop

        def factory() -> asyncio.StreamReaderProtocol:
            reader = asyncio.StreamReader(limit=limit, loop=loop)
            return asyncio.StreamReaderProtocol(reader, client_connected_cb, loop=loop)

        return await self.create_server(factory, host, port, backlog=backlog)

    async def open_connection(self, host: str, port: int, *, limit: int = 2**16
                              ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = self.loop
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        transport, _ = await self.create_connection(lambda: protocol, host, port)
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        return reader, writer


class TunStack(_Stack):
    """A tuxtcp namespace on a TUN device, driven by the running asyncio loop."""

    def __init__(self, driver: TunDriver, loop: asyncio.AbstractEventLoop | None = None
                 ) -> None:
        super().__init__(loop or asyncio.get_running_loop(), driver.socket)
        self.driver = driver
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        driver.on_kick = self._after_engine
        self.loop.add_reader(driver.tun.fd, self._on_readable)

    def close(self) -> None:
        self.loop.remove_reader(self.driver.tun.fd)
        if self._timer is not None:
            self._timer.cancel()
        self.driver.on_kick = None

    def _on_readable(self) -> None:
        self.driver.poll(0)
        self._after_engine()

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.driver.poll(0)
        self._after_engine()

    def _reschedule(self) -> None:
        deadline = self.driver.ns.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            delay = max(deadline - self.driver.now(), 0.0)
            self._timer = self.loop.call_at(self.loop.time() + delay, self._on_timer)


class WorldStack(_Stack):
    """A host of the simulated World, driven by a VirtualTimeLoop over that World."""

    def __init__(self, host: Any, loop: asyncio.AbstractEventLoop | None = None) -> None:
        loop = loop or asyncio.get_running_loop()
        if not isinstance(loop, VirtualTimeLoop):
            raise RuntimeError("a WorldStack needs a VirtualTimeLoop (tuxtcp.asyncio.run)")
        super().__init__(loop, host.socket)
        self.host = host
        loop._stacks.append(self)

    def close(self) -> None:
        loop = self.loop
        assert isinstance(loop, VirtualTimeLoop)
        if self in loop._stacks:
            loop._stacks.remove(self)


class _WorldSelector(selectors.BaseSelector):
    """The loop's selector: its own real descriptors (asyncio's self-pipe) are polled without
    waiting; waiting means running the World's events, in virtual time, until a stack has
    something to service or the timeout is over."""

    def __init__(self, world: Any, loop: VirtualTimeLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._world = world
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        stacks = self._loop._stacks
        if ready or any(st.busy() for st in stacks):
            self._service()
            return ready
        world = self._world
        if timeout is None and not world.pending():
            return self._real.select(None)  # nothing will ever happen in the World
        deadline = None if timeout is None else world.clock + timeout
        world.run_until(lambda: any(st.busy() for st in stacks), deadline)
        self._service()
        return self._real.select(0)

    def _service(self) -> None:
        for st in list(self._loop._stacks):
            st._after_engine()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop whose clock is a simulated World's: time() is the virtual
    clock, and waiting runs the World's events instead of sleeping."""

    def __init__(self, world: Any) -> None:
        self._world = world
        self._stacks: list[WorldStack] = []
        super().__init__(_WorldSelector(world, self))

    def time(self) -> float:
        return float(self._world.clock)


def run(main: Awaitable[Any], world: Any) -> Any:
    """asyncio.run(main) on a VirtualTimeLoop over `world`."""
    loop = VirtualTimeLoop(world)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


class _Endpoint:
    """Something the stack services after engine steps: a listener, a connect in progress,
    a connection."""

    sock: Socket

    def _service(self) -> None:
        raise NotImplementedError


class _Connecting(_Endpoint):
    def __init__(self, stack: _Stack, sock: Socket, waiter: asyncio.Future[None]) -> None:
        self.stack = stack
        self.sock = sock
        self.waiter = waiter

    def _service(self) -> None:
        if self.waiter.done():
            return
        if user.connecting(self.sock.sk):
            return
        err = int(self.sock.getsockopt(1, 4))  # SOL_SOCKET, SO_ERROR
        if err:
            self.waiter.set_exception(OSError(err, errno.errorcode.get(err, str(err))))
        else:
            self.waiter.set_result(None)


class Transport(_Endpoint, asyncio.Transport):
    """asyncio.Transport over one tuxtcp connection."""

    def __init__(self, stack: _Stack, sock: Socket, protocol: asyncio.BaseProtocol) -> None:
        asyncio.Transport.__init__(self)
        self.stack = stack
        self.sock = sock
        self._protocol = protocol
        self._out = bytearray()
        self._reading = True
        self._closing = False
        self._eof_written = False
        self._lost = False
        self._paused_writing = False
        self._high = HIGH_WATER
        self._low = HIGH_WATER // 4
        self._extra: dict[str, Any] = {"socket": sock}
        try:
            self._extra["peername"] = sock.getpeername()
            self._extra["sockname"] = sock.getsockname()
        except OSError:
            pass

    def _start(self) -> None:
        self._protocol.connection_made(self)

    # -- asyncio.Transport ----------------------------------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def is_closing(self) -> bool:
        return self._closing or self._lost

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._reading = False
        self._mark()

    def abort(self) -> None:
        self._out.clear()
        self._finish(None, linger0=True)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def is_reading(self) -> bool:
        return self._reading

    def pause_reading(self) -> None:
        self._reading = False

    def resume_reading(self) -> None:
        if not self._reading and not self._closing:
            self._reading = True
            self._mark()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._eof_written:
            raise RuntimeError("Cannot call write() after write_eof()")
        if self._lost or self._closing or not data:
            return
        self._out += data
        self._mark()
        self._maybe_pause()

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def write_eof(self) -> None:
        if self._eof_written or self._closing:
            return
        self._eof_written = True
        self._mark()

    def can_write_eof(self) -> bool:
        return True

    def get_write_buffer_size(self) -> int:
        return len(self._out)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low, self._high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None
                                ) -> None:
        self._high = HIGH_WATER if high is None else high
        self._low = self._high // 4 if low is None else low
        self._maybe_pause()

    # -- servicing --------------------------------------------------------------------------------
    def _mark(self) -> None:
        self.stack._dirty[self] = None
        self.stack.loop.call_soon(self.stack._after_engine)

    def _maybe_pause(self) -> None:
        if not self._paused_writing and len(self._out) > self._high:
            self._paused_writing = True
            self._protocol.pause_writing()

    def _service(self) -> None:
        if self._lost:
            return
        sock = self.sock
        ready = readiness(sock)
        if self._reading and ready & EVENT_READ:
            self._read()
            if self._lost:
                return
        if self._out and ready & EVENT_WRITE:
            self._flush()
            if self._lost:
                return
        if self._out:
            self.stack._writers[self] = None
        else:
            self.stack._writers.pop(self, None)
            if self._paused_writing and len(self._out) <= self._low:
                self._paused_writing = False
                self._protocol.resume_writing()
            if self._eof_written and not sock._closed and not sock.sk.snd_shutdown:
                sock.shutdown(1)  # SHUT_WR
            if self._closing:
                self._finish(None)

    def _read(self) -> None:
        for _ in range(64):
            try:
                data = self.sock.recv(READ_SIZE)
            except BlockingIOError:
                return
            except OSError as e:
                self._finish(e)
                return
            if not data:
                keep_open = isinstance(self._protocol, asyncio.Protocol) and \
                    self._protocol.eof_received()
                self._reading = False
                if not keep_open:
                    self.close()
                return
            if isinstance(self._protocol, asyncio.Protocol):
                self._protocol.data_received(data)
            if not self._reading:
                return

    def _flush(self) -> None:
        while self._out:
            try:
                n = self.sock.send(bytes(self._out[:READ_SIZE]))
            except BlockingIOError:
                return
            except OSError as e:
                self._finish(e)
                return
            del self._out[:n]

    def _finish(self, exc: Exception | None, linger0: bool = False) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        self.stack._writers.pop(self, None)
        self.stack._dirty.pop(self, None)
        sock = self.sock
        if not sock._closed:
            if linger0:
                sock.setsockopt(1, 13, struct.pack("ii", 1, 0))  # SO_LINGER {1, 0}: RST
            sock.sk.on_wakeup = None
            sock.close()
        self.stack.loop.call_soon(self._protocol.connection_lost, exc)


class Server(_Endpoint):
    """What create_server/start_server return: asyncio.Server's interface."""

    def __init__(self, stack: _Stack, sock: Socket,
                 protocol_factory: Callable[[], asyncio.BaseProtocol]) -> None:
        self.stack = stack
        self.sock = sock
        self._factory = protocol_factory
        self._serving = True
        self._closed: asyncio.Future[None] = stack.loop.create_future()
        self.accepted = 0

    @property
    def sockets(self) -> tuple[Socket, ...]:
        return () if self.sock._closed else (self.sock,)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self.stack.loop

    def is_serving(self) -> bool:
        return self._serving

    def _service(self) -> None:
        if not self._serving:
            return
        for _ in range(256):
            try:
                sock, _ = self.sock.accept()
            except BlockingIOError:
                return
            except OSError:
                return
            sock.setblocking(False)
            self.accepted += 1
            transport = Transport(self.stack, sock, self._factory())
            self.stack._watch(transport)
            transport._start()

    def close(self) -> None:
        if not self._serving:
            return
        self._serving = False
        self.sock.sk.on_wakeup = None
        self.sock.close()
        if not self._closed.done():
            self._closed.set_result(None)

    async def wait_closed(self) -> None:
        await self._closed

    async def start_serving(self) -> None:
        return None

    async def serve_forever(self) -> None:
        await self._closed

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await self.wait_closed()


async def start_server(client_connected_cb: Callable[..., Awaitable[None] | None],
                       host: str | None = None, port: int = 0, *, stack: _Stack,
                       **kwds: Any) -> Server:
    """asyncio.start_server on `stack` (a TunStack or a WorldStack)."""
    return await stack.start_server(client_connected_cb, host, port, **kwds)


async def open_connection(host: str, port: int, *, stack: _Stack, **kwds: Any
                          ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """asyncio.open_connection on `stack` (a TunStack or a WorldStack)."""
    return await stack.open_connection(host, port, **kwds)


async def create_server(protocol_factory: Callable[[], asyncio.BaseProtocol],
                        host: str | None = None, port: int = 0, *, stack: _Stack,
                        **kwds: Any) -> Server:
    """loop.create_server on `stack` (a TunStack or a WorldStack)."""
    return await stack.create_server(protocol_factory, host, port, **kwds)


async def create_connection(protocol_factory: Callable[[], asyncio.BaseProtocol], host: str,
                            port: int, *, stack: _Stack
                            ) -> tuple[Transport, asyncio.BaseProtocol]:
    """loop.create_connection on `stack` (a TunStack or a WorldStack)."""
    return await stack.create_connection(protocol_factory, host, port)
