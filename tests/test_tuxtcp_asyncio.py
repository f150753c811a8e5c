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

pytestmark = pytest.mark.root

CLIENTS = r'''
import hashlib, json, os, socket, sys, threading
addr, port = sys.argv[1], int(sys.argv[2])
for i in range(200):
    with socket.create_connection((addr, port), timeout=5) as c:
        c.sendall(b"ping %d" % i)
        assert c.recv(100) == b"ping %d" % i
data = os.urandom(4 << 20)
s = socket.create_connection((addr, port), timeout=30)
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
h, n = hashlib.sha256(), 0
while True:
    b = s.recv(1 << 16)
    if not b:
        break
    h.update(b)
    n += len(b)
t.join()
print(json.dumps({"n": n, "ok": h.hexdigest() == hashlib.sha256(data).hexdigest()}))
'''


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # a standard asyncio echo handler, as the asyncio documentation writes one
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


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
                    p = await asyncio.create_subprocess_exec(
                        "ip", "netns", "exec", name, sys.executable, "-c", CLIENTS,
                        "198.18.0.2", "7007", stdout=asyncio.subprocess.PIPE)
                    out, _ = await asyncio.wait_for(p.communicate(), 120)
                    assert p.returncode == 0
                    assert server.accepted == 201
                return dict(json.loads(out.decode().strip().splitlines()[-1]))
            finally:
                stack.close()

    assert asyncio.run(main()) == {"n": 4 << 20, "ok": True}
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
