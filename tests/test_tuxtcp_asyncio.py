"""asyncio on the userspace stack (issue 12): a plain asyncio streams echo server, unchanged
but for where start_server comes from, serving kernel clients over the TUN device; and
open_connection from tuxtcp to a kernel server. Root only; every namespace is removed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import uuid

import pytest

import tuxtcp.asyncio as tio
from tuxtcp.tunnet import netns as tn
from tuxtcp.tunnet.driver import TunDriver
from wire_apps import CLIENT, handle

pytestmark = pytest.mark.root

def _names() -> tuple[str, str]:
    if tn.why_not() is not None:
        pytest.skip(f"the wire {tn.why_not()}")
    tag = uuid.uuid4().hex[:6]
    return f"tuxtcp_y{tag}", f"ty{tag}"


def test_an_asyncio_echo_server_serves_kernel_clients() -> None:
    name, dev = _names()

    async def main() -> dict[str, object]:
        with tn.tun_namespace(name, device=dev) as tun:
            stack = tio.TunStack(TunDriver(tun, ["198.18.0.2"], name=name))
            try:
                server = await tio.start_server(handle, "0.0.0.0", 7007, stack=stack)
                async with server:
                    results = []
                    for args in (("echo-many", "200"), ("bulk", str(4 << 20))):
                        p = await asyncio.create_subprocess_exec(
                            "ip", "netns", "exec", name, sys.executable, "-c", CLIENT,
                            "198.18.0.2", "7007", *args, stdout=asyncio.subprocess.PIPE)
                        out, _ = await asyncio.wait_for(p.communicate(), 120)
                        assert p.returncode == 0
                        results.append(json.loads(out.decode().strip().splitlines()[-1]))
                    assert server.accepted == 201
                return {**results[0], **results[1]}
            finally:
                stack.close()

    got = asyncio.run(main())
    assert got["done"] == 200 and got["n"] == 4 << 20 and got["got"] == got["sent"]
    assert not tn.namespace_exists(name)


KERNEL_SERVER = r'''
import socket
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 9008))
l.listen(8)
c, _ = l.accept()
with c:
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        c.sendall(bytes(x ^ 0x5A for x in b))
'''


def test_open_connection_reaches_a_kernel_server() -> None:
    name, dev = _names()
    data = os.urandom(1 << 20)

    async def main() -> bytes:
        with tn.tun_namespace(name, device=dev) as tun:
            stack = tio.TunStack(TunDriver(tun, ["198.18.0.2"], name=name))
            server = subprocess.Popen(["ip", "netns", "exec", name, sys.executable, "-c",
                                       KERNEL_SERVER])
            try:
                await asyncio.sleep(0.3)
                reader, writer = await tio.open_connection("198.18.0.1", 9008, stack=stack)
                assert writer.get_extra_info("peername") == ("198.18.0.1", 9008)
                got = bytearray()
                for off in range(0, len(data), 4096):  # the server answers each piece, XORed
                    piece = data[off:off + 4096]
                    writer.write(piece)
                    await writer.drain()
                    got += await reader.readexactly(len(piece))
                writer.write_eof()
                assert await reader.read() == b""
                writer.close()
                await writer.wait_closed()
                return bytes(got)
            finally:
                server.kill()
                server.wait()
                stack.close()

    got = asyncio.run(main())
    expect = bytes(x ^ 0x5A for x in data)
    assert hashlib.sha256(got).digest() == hashlib.sha256(expect).digest()
    assert not tn.namespace_exists(name)


def test_connection_refused_is_raised() -> None:
    name, dev = _names()

    async def main() -> None:
        with tn.tun_namespace(name, device=dev) as tun:
            stack = tio.TunStack(TunDriver(tun, ["198.18.0.2"], name=name))
            try:
                with pytest.raises(ConnectionRefusedError):
                    await tio.open_connection("198.18.0.1", 9009, stack=stack)
            finally:
                stack.close()

    asyncio.run(main())
