"""asyncio on the simulated World (issue 12): the same tuxtcp.asyncio API as on the TUN
device, on a VirtualTimeLoop whose clock is the World's. An unchanged asyncio echo handler
serves concurrent clients over a lossy link; sleeps and retransmission timeouts take no wall
time, and a run is the same every time."""

from __future__ import annotations

import asyncio

import pytest

import tuxtcp
import tuxtcp.asyncio as tio
from wire_apps import handle


def echo_run(seed: int, loss: float) -> tuple[list[bool], float, int, float]:
    world = tuxtcp.World(seed=seed)
    srv = world.host("srv", "198.18.0.1")
    cli = world.host("cli", "198.18.0.2")
    world.link(srv, cli, delay=0.005, loss=loss)

    async def main() -> tuple[list[bool], float, int, float]:
        loop = asyncio.get_running_loop()
        server_stack, client_stack = tio.WorldStack(srv), tio.WorldStack(cli)
        server = await tio.start_server(handle, "0.0.0.0", 7, stack=server_stack)
        t0 = loop.time()
        await asyncio.sleep(60)  # a virtual minute
        slept = loop.time() - t0

        async def client(i: int) -> bool:
            reader, writer = await tio.open_connection("198.18.0.1", 7, stack=client_stack)
            data = bytes([i]) * 100_000
            writer.write(data)
            await writer.drain()
            writer.write_eof()
            got = await reader.read()
            writer.close()
            await writer.wait_closed()
            return got == data

        t1 = loop.time()
        oks = await asyncio.gather(*(client(i) for i in range(20)))
        took = loop.time() - t1
        server.close()
        await server.wait_closed()
        return list(oks), took, server.accepted, slept

    return tio.run(main(), world)  # type: ignore[no-any-return]


def test_an_asyncio_echo_server_on_the_virtual_clock() -> None:
    oks, took, accepted, slept = echo_run(1, 0.01)
    assert oks == [True] * 20 and accepted == 20
    assert slept == 60.0  # asyncio.sleep(60) is a virtual minute
    assert 0.05 < took < 10  # virtual seconds: round trips of 10 ms, some losses repaired
    assert echo_run(1, 0.01)[1] == took  # deterministic


def test_a_wrong_loop_is_refused() -> None:
    world = tuxtcp.World(seed=1)
    host = world.host("h", "198.18.0.1")

    async def main() -> None:
        tio.WorldStack(host)

    with pytest.raises(RuntimeError, match="VirtualTimeLoop"):
        asyncio.run(main())


def test_a_writer_waiting_for_send_space_is_woken_by_the_acks() -> None:
    # 8 MiB written at once: far more than the socket's send buffer, so the transport holds
    # most of it and drain() waits; the engine wakes nobody when ACKs free send space, the
    # stack asks tcp_poll (before, the virtual loop spun without letting the World run)
    world = tuxtcp.World(seed=3)
    srv = world.host("srv", "198.18.0.1")
    cli = world.host("cli", "198.18.0.2")
    world.link(srv, cli, delay=0.005)
    data = bytes(range(256)) * (8 << 12)

    async def main() -> bytes:
        server = await tio.start_server(handle, "0.0.0.0", 7, stack=tio.WorldStack(srv))
        reader, writer = await tio.open_connection("198.18.0.1", 7, stack=tio.WorldStack(cli))

        async def send() -> None:
            writer.write(data)
            await writer.drain()
            writer.write_eof()

        sending = asyncio.ensure_future(send())
        got = await reader.read()
        await sending
        server.close()
        return got

    assert tio.run(main(), world) == data
