"""Echo over a real wire, side by side in one run: the same kernel client (Python's socket
module, in a namespace) against tuxtcp behind a TUN device (`tuxtcp serve`'s echo service)
and against the kernel's own stack behind a veth pair (an echo server written the same way,
on the kernel's sockets). Both servers are the same Python application code on one thread;
what differs is the TCP stack under it. Root only.

    python bench/wire_echo.py [--conns 1000] [--conns-large 100000] [--mib 50] [--pings 2000]
                              [--offload on|off ...]

Prints one JSON object: connections per second (connect, 1-byte echo, close) over 1,000 and
over 100,000 sequential connections (and the last tenth of those), bulk MB/s each way (the
client sends and receives at once), and 1-byte ping-pong round trips (p50/p99 us); tuxtcp with
and without offloads, the kernel over veth.
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import subprocess
import sys
import time
import uuid

from tuxtcp.host.netns import veth_pair
from tuxtcp.tunnet.driver import TunDriver
from tuxtcp.tunnet.netns import tun_namespace
from tuxtcp.tunnet.services import Services

CLIENT = r'''
import json, os, socket, statistics, sys, threading, time
addr = sys.argv[1]
port, conns, mib, pings, large = (int(a) for a in sys.argv[2:7])
out = {}
def connections(n):
    """n sequential connections (connect, 1-byte echo, close); the rate over all of them and
    over the last tenth"""
    t0 = time.perf_counter()
    tail = t0
    for i in range(n):
        if i == n - n // 10:
            tail = time.perf_counter()
        with socket.create_connection((addr, port), timeout=10) as c:
            c.sendall(b"x")
            assert c.recv(1) == b"x"
    end = time.perf_counter()
    return round(n / (end - t0)), round((n // 10) / (end - tail)) if n >= 10 else 0
out["conns_per_s"], _ = connections(conns)
if large:
    out["conns_per_s_large"], out["conns_per_s_large_last_tenth"] = connections(large)
data = os.urandom(mib << 20)
s = socket.create_connection((addr, port), timeout=60)
t0 = time.perf_counter()
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
n = 0
while True:
    b = s.recv(1 << 18)
    if not b:
        break
    n += len(b)
t.join()
assert n == len(data)
out["bulk_mb_s_each_way"] = round(len(data) / (time.perf_counter() - t0) / 1e6, 1)
s.close()
with socket.create_connection((addr, port), timeout=10) as c:
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts = []
    for _ in range(pings):
        t0 = time.perf_counter()
        c.sendall(b"p")
        c.recv(1)
        rtts.append((time.perf_counter() - t0) * 1e6)
    rtts.sort()
    out["rtt_p50_us"] = round(rtts[len(rtts) // 2])
    out["rtt_p99_us"] = round(rtts[int(len(rtts) * 0.99)])
print(json.dumps(out))
'''

KERNEL_ECHO = r'''
import selectors, socket, sys
sel = selectors.DefaultSelector()
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", int(sys.argv[1])))
l.listen(128)
l.setblocking(False)
sel.register(l, selectors.EVENT_READ)
out = {}
while True:
    for key, ev in sel.select():
        s = key.fileobj
        if s is l:
            try:
                c, _ = l.accept()
            except BlockingIOError:
                continue
            c.setblocking(False)
            out[c] = [bytearray(), False]
            sel.register(c, selectors.EVENT_READ)
            continue
        buf, eof = out[s]
        if ev & selectors.EVENT_READ and not eof:
            try:
                b = s.recv(65536)
            except BlockingIOError:
                b = None
            except OSError:
                b = b""
            if b == b"":
                eof = out[s][1] = True  # finish echoing what is owed, then close
            elif b:
                buf += b
        while buf:
            try:
                n = s.send(bytes(buf[:65536]))
            except BlockingIOError:
                break
            del buf[:n]
        if eof and not buf:
            sel.unregister(s); s.close(); del out[s]; continue
        sel.modify(s, (0 if eof else selectors.EVENT_READ)
                   | (selectors.EVENT_WRITE if buf else 0) or selectors.EVENT_WRITE)
'''


def run_client(ns: str, addr: str, port: int, args: argparse.Namespace,
               pump: object = None) -> dict[str, object]:
    # the client closes first, so each connection leaves a TIME_WAIT on its side: with
    # tcp_tw_reuse=1 a port is taken again once its TIME_WAIT is a second old, as load
    # generators run (28k ports last 100k connections at these rates)
    subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w",
                    "net.ipv4.tcp_tw_reuse=1"], check=True)
    proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, addr,
                             str(port), str(args.conns), str(args.mib), str(args.pings),
                             str(args.conns_large)],
                            stdout=subprocess.PIPE, text=True)
    if pump is not None:
        assert isinstance(pump, Services)
        next_check = [0.0]

        def client_done() -> bool:
            # asked after every turn of the serving loop: look at the child only every 10 ms
            # (a waitpid each turn would cost the server more than its TCP work)
            now = time.monotonic()
            if now < next_check[0]:
                return False
            next_check[0] = now + 0.01
            return proc.poll() is not None

        pump.run(client_done, tick=0.05)
    out, _ = proc.communicate(timeout=600)
    return dict(json.loads(out.strip().splitlines()[-1]))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--conns-large", type=int, default=100_000,
                    help="a second, longer run of sequential connections (0: none), to see "
                         "whether the rate stays flat")
    ap.add_argument("--mib", type=int, default=50)
    ap.add_argument("--pings", type=int, default=2000)
    ap.add_argument("--offload", choices=("on", "off"), action="append",
                    help="tuxtcp's device with offloads (IFF_VNET_HDR: TSO/GRO super-segments, "
                         "checksums left partial) or without; repeat for both (the default)")
    args = ap.parse_args(argv)
    args.offload = args.offload or ["off", "on"]
    result: dict[str, object] = {}
    for offload in args.offload:
        name = f"tuxtcp_w{uuid.uuid4().hex[:6]}"
        with tun_namespace(name, device=f"tw{name[-6:]}", offload=offload == "on") as tun:
            driver = TunDriver(tun, ["198.18.0.2"], name=name)
            services = Services(driver, echo_port=7, http_port=0)
            try:
                result[f"tuxtcp_tun_offload_{offload}"] = run_client(name, "198.18.0.2", 7,
                                                                     args, services)
            finally:
                services.close()
    with veth_pair() as (srv, cli):
        server = subprocess.Popen(["ip", "netns", "exec", srv.name, sys.executable, "-c",
                                   KERNEL_ECHO, "7"])
        try:
            time.sleep(0.3)
            result["kernel_veth"] = run_client(cli.name, "198.18.0.1", 7, args)
        finally:
            server.kill()
            server.wait()
    k = result["kernel_veth"]
    assert isinstance(k, dict)
    for offload in args.offload:
        t = result[f"tuxtcp_tun_offload_{offload}"]
        assert isinstance(t, dict)
        result[f"offload_{offload}_over_kernel"] = {key: round(t[key] / k[key], 2)
                                                    for key in t}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    del socket, selectors
    sys.exit(main(sys.argv[1:]))
