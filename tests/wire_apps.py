"""What the wire tests run on both sides: the kernel-side client script (Python's socket
module, started in the test's namespace) and the asyncio echo handler the tuxtcp side
serves with."""

from __future__ import annotations

import asyncio

CLIENT = r'''
import hashlib, json, os, socket, sys, threading
addr, port, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = {}
if what == "echo-many":
    n = int(sys.argv[4])
    for i in range(n):
        with socket.create_connection((addr, port), timeout=5) as s:
            msg = b"ping %d" % i
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                chunk = s.recv(100)
                if not chunk:
                    break
                got += chunk
            assert got == msg, (i, got)
    out["done"] = n
elif what == "bulk":
    size = int(sys.argv[4])
    data = os.urandom(size)
    s = socket.create_connection((addr, port), timeout=30)
    def send():
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=send)
    t.start()
    h = hashlib.sha256()
    n = 0
    while True:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    t.join()
    s.close()
    out["sent"] = hashlib.sha256(data).hexdigest()
    out["got"] = h.hexdigest()
    out["n"] = n
print(json.dumps(out))
'''


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A standard asyncio echo handler, as the asyncio documentation writes one."""
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()
