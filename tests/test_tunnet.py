"""tuxtcp on a real wire (issue 12): `tuxtcp serve` brings up a namespace with a TUN device
whose far end is the engine, and the kernel in that namespace is the client: curl, Python's
socket module, a thousand connections, 10 MiB each way. Root only (namespaces, /dev/net/tun);
every test tears its namespace down, also when it fails."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from tuxtcp.host.netns import Netns
from tuxtcp.link.tun import Tun
from tuxtcp.tunnet import netns as tn
from tuxtcp.tunnet.driver import TunDriver
from wire_apps import CLIENT

ADDR = "198.18.0.2"

def _snmp(name: str) -> dict[str, int]:
    """The kernel namespace's /proc/net/snmp and /proc/net/netstat as {"Group.Name": n}."""
    return Netns(name).netstat()


@contextlib.contextmanager
def serving(*extra: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`tuxtcp serve` in a namespace of its own; yields (namespace, process). Stopped with
    SIGTERM on the way out, and the namespace checked gone."""
    if tn.why_not() is not None:
        pytest.skip(f"tuxtcp serve {tn.why_not()}")
    tag = uuid.uuid4().hex[:6]
    name = f"tuxtcp_t{tag}"
    cmd = [sys.executable, "-m", "tuxtcp.cli", "serve", "--netns", name, "--device",
           f"tt{tag}", "--duration", "300", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the "tuxtcp is ... Try:" line: up and serving
        assert line.startswith("tuxtcp is "), (line, proc.stderr.read() if proc.stderr else "")
        yield name, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def client(name: str, *args: str, timeout: float = 120) -> dict[str, object]:
    import json

    r = subprocess.run(["ip", "netns", "exec", name, sys.executable, "-c", CLIENT, *args],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-2000:]
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


@contextlib.contextmanager
def wire(letter: str, offload: bool = False) -> Iterator[tuple[str, TunDriver, Tun]]:
    """A namespace with a TUN device (`offload`: TSO/GRO and checksum offload) and the engine
    behind it (tuxtcp is ADDR); yields (namespace, driver, device) and checks the namespace
    gone afterwards."""
    if tn.why_not() is not None:
        pytest.skip(f"the wire {tn.why_not()}")
    tag = uuid.uuid4().hex[:6]
    name = f"tuxtcp_{letter}{tag}"
    with tn.tun_namespace(name, device=f"t{letter}{tag}", offload=offload) as tun:
        yield name, TunDriver(tun, [ADDR], name=name), tun
    assert not tn.namespace_exists(name)


@pytest.mark.root
@pytest.mark.parametrize("offload", ["on", "off"])
def test_kernel_clients_get_echo_and_http_from_tuxtcp(offload: str) -> None:
    """With offloads the kernel's 64 KB TSO packets come in whole (GRO'd, checksums left
    partial) and tuxtcp's go out whole; without, one MTU-sized datagram at a time."""
    with serving("--offload", offload) as (name, proc):
        before = _snmp(name)
        # 1,000 sequential connections, each an echo round trip
        assert client(name, ADDR, "7", "echo-many", "1000") == {"done": 1000}
        # 10 MiB each way, checked end to end
        got = client(name, ADDR, "7", "bulk", str(10 << 20))
        assert got["n"] == 10 << 20 and got["got"] == got["sent"]
        # curl fetching the page
        r = subprocess.run(["ip", "netns", "exec", name, "curl", "-sS", "-m", "10",
                            f"http://{ADDR}/"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "Hello from tuxtcp" in r.stdout, r.stderr
        after = _snmp(name)
        # what tuxtcp sent was well-formed: the kernel found no bad checksum or header
        for counter in ("Tcp.InCsumErrors", "Ip.InHdrErrors", "Ip.InAddrErrors",
                        "TcpExt.TCPAbortOnData"):
            assert after[counter] == before[counter], counter
        assert after["Tcp.ActiveOpens"] - before["Tcp.ActiveOpens"] == 1002
    assert name not in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                      text=True).stdout


@pytest.mark.root
def test_sigterm_tears_down_and_a_crash_is_cleaned_up_on_the_next_start() -> None:
    tag = uuid.uuid4().hex[:6]
    name, dev = f"tuxtcp_c{tag}", f"tc{tag}"
    cmd = [sys.executable, "-m", "tuxtcp.cli", "serve", "--netns", name, "--device", dev,
           "--duration", "60"]
    try:
        # SIGKILL: nothing runs on the way out, the namespace stays behind
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert p.stdout is not None and p.stdout.readline().startswith("tuxtcp is ")
        p.kill()
        p.wait()
        assert tn.namespace_exists(name)
        # the next start finds it without an owner and replaces it; SIGTERM then removes it
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert p.stdout is not None and p.stdout.readline().startswith("tuxtcp is ")
        r = subprocess.run(["ip", "netns", "exec", name, "curl", "-sS", "-m", "10",
                            f"http://{ADDR}/"], capture_output=True, text=True, timeout=30)
        assert "Hello from tuxtcp" in r.stdout, r.stderr
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=20)
        assert p.returncode == 0 and "stopped (SIGTERM)" in out
        assert not tn.namespace_exists(name)
        assert not os.path.exists(tn.PID_DIR / f"{name}.pid")
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        subprocess.run(["ip", "link", "del", dev], capture_output=True)


@pytest.mark.root
def test_a_namespace_of_the_users_is_used_and_left_in_place() -> None:
    if tn.why_not() is not None:
        pytest.skip(f"tuxtcp serve {tn.why_not()}")
    tag = uuid.uuid4().hex[:6]
    name = f"tuxtcp_u{tag}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        cmd = [sys.executable, "-m", "tuxtcp.cli", "serve", "--netns", name, "--device",
               f"tu{tag}", "--duration", "60"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline().startswith("tuxtcp is ")
            r = subprocess.run(["ip", "netns", "exec", name, "curl", "-sS", "-m", "10",
                                f"http://{ADDR}/"], capture_output=True, text=True, timeout=30)
            assert "Hello from tuxtcp" in r.stdout, r.stderr
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        assert tn.namespace_exists(name)  # still there: it is the user's
        links = subprocess.run(["ip", "-n", name, "-o", "link"], capture_output=True,
                               text=True).stdout
        assert f"tu{tag}" not in links  # the device went with the run
        assert not (tn.PID_DIR / f"{name}.pid").exists()
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.mark.root
def test_a_namespace_in_use_is_refused() -> None:
    with serving() as (name, _):
        r = subprocess.run([sys.executable, "-m", "tuxtcp.cli", "serve", "--netns", name,
                            "--device", "tx" + name[-6:], "--duration", "1"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1
        assert f"namespace {name!r} is in use by process" in r.stderr
        time.sleep(0.1)
        assert tn.namespace_exists(name)  # the running one is untouched


def test_without_root_serve_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from tuxtcp.cli import main

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert tn.why_not() == "needs root (network namespaces and a TUN device)"
    assert main(["serve", "--duration", "1"]) == 1


BACKLOG_CLIENTS = r'''
import socket, subprocess, sys, time
socks = []
for i in range(6):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((sys.argv[1], 8080))
    socks.append(s)
    time.sleep(0.05)
time.sleep(3.4)  # past the third SYN retransmission (1, 2, 3 s: tcp_syn_linear_timeouts)
print(subprocess.run(["ss", "-tnoH", "state", "syn-sent"], capture_output=True,
                     text=True).stdout)
print("ESTAB", len(subprocess.run(["ss", "-tnH", "state", "established"], capture_output=True,
                                  text=True).stdout.splitlines()))
'''


@pytest.mark.root
def test_backlog_over_the_wire_three_complete_three_retransmit_their_syn() -> None:
    # a tuxtcp listener with listen(2) that never accepts, six kernel clients: the accept
    # queue takes backlog + 1 = 3 (sk_acceptq_is_full), the other three SYNs are dropped
    # (ListenOverflows) and the kernel clients retransmit them at 1, 2 and 3 s
    import re

    with wire("b") as (name, driver, tun):
        ls = driver.socket()
        ls.bind(("0.0.0.0", 8080))
        ls.listen(2)
        proc = subprocess.Popen(["ip", "netns", "exec", name, sys.executable, "-c",
                                 BACKLOG_CLIENTS, ADDR], stdout=subprocess.PIPE, text=True)
        try:
            end = time.monotonic() + 10
            while proc.poll() is None and time.monotonic() < end:
                driver.poll(0.01)
            out, _ = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        syn_sent = [ln for ln in out.splitlines() if "timer:(on," in ln]
        assert len(syn_sent) == 3, out
        # ss's timer:(on,<left>,<retransmits>): three SYN retransmissions each
        assert all(re.search(r"timer:\(on,[^,]+,3\)", ln) for ln in syn_sent), out
        assert "ESTAB 3" in out
        counters = driver.ns.mib.tcp_ext
        assert counters.ListenOverflows == 12 and counters.ListenDrops == 12  # 3 SYNs x 4
        assert driver.listeners() == [(8080, 3, 2)]
        ls.close()
    # the kernel as the server, the same clients, over a veth pair: the same picture
    from tuxtcp.host.netns import veth_pair

    server = ("import socket, time; l = socket.socket(); l.bind(('0.0.0.0', 8080)); "
              "l.listen(2); time.sleep(8)")
    with veth_pair() as (srv, cli):
        sp = subprocess.Popen(["ip", "netns", "exec", srv.name, sys.executable, "-c", server])
        try:
            time.sleep(0.3)
            kernel_out = subprocess.run(
                ["ip", "netns", "exec", cli.name, sys.executable, "-c", BACKLOG_CLIENTS,
                 "198.18.0.1"], capture_output=True, text=True, timeout=30).stdout
        finally:
            sp.kill()
            sp.wait()
    kernel_syn_sent = [ln for ln in kernel_out.splitlines() if "timer:(on," in ln]
    assert len(kernel_syn_sent) == 3 and "ESTAB 3" in kernel_out, kernel_out
    assert all(re.search(r"timer:\(on,[^,]+,3\)", ln) for ln in kernel_syn_sent)


KERNEL_ECHO = r'''
import socket, threading
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 9007))
l.listen(128)
def serve(c):
    with c:
        while True:
            b = c.recv(1 << 16)
            if not b:
                break
            c.sendall(b)
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'''


@pytest.mark.root
@pytest.mark.parametrize("offload", [True, False], ids=["offload", "plain"])
def test_tuxtcp_clients_talk_to_a_kernel_server(offload: bool) -> None:
    # the reverse direction: tuxtcp connects (active open over the wire) to an echo server
    # the kernel runs in the namespace; 1,000 connections with a round trip, 10 MiB each way
    import hashlib

    with wire("a", offload) as (name, driver, tun):
        server = subprocess.Popen(["ip", "netns", "exec", name, sys.executable, "-c",
                                   KERNEL_ECHO])
        try:
            time.sleep(0.3)
            before = _snmp(name)
            for i in range(1000):
                s = driver.socket()
                s.settimeout(5)
                s.connect(("198.18.0.1", 9007))
                s.sendall(b"ping %d" % i)
                got = b""
                while len(got) < len(b"ping %d" % i):
                    got += s.recv(100)
                assert got == b"ping %d" % i
                s.close()
            data = os.urandom(10 << 20)
            s = driver.socket()
            s.settimeout(30)
            s.connect(("198.18.0.1", 9007))
            s.setblocking(False)
            sent, h, n = 0, hashlib.sha256(), 0
            end = time.monotonic() + 60
            while n < len(data) and time.monotonic() < end:
                if sent < len(data):
                    with contextlib.suppress(BlockingIOError):
                        sent += s.send(data[sent:sent + (1 << 16)])
                with contextlib.suppress(BlockingIOError):
                    chunk = s.recv(1 << 16)
                    h.update(chunk)
                    n += len(chunk)
                driver.poll(0.001)
            assert n == len(data) and h.hexdigest() == hashlib.sha256(data).hexdigest()
            s.close()
            after = _snmp(name)
            assert after["Tcp.PassiveOpens"] - before["Tcp.PassiveOpens"] == 1001
            for counter in ("Tcp.InCsumErrors", "Ip.InHdrErrors", "Ip.InAddrErrors"):
                assert after[counter] == before[counter], counter
            assert driver.ns.mib.tcp.ActiveOpens == 1001
        finally:
            server.kill()
            server.wait()


SYN_FLOOD = r'''
import random, socket, sys, time
from tuxtcp.wire.ipv4 import Packet, ip_to_int
from tuxtcp.wire.tcp import SYN, TcpSegment
n = int(sys.argv[2])
dst = ip_to_int(sys.argv[1])
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
rng = random.Random(7)
for i in range(n):
    src = ip_to_int("198.18.0.%d" % rng.randrange(10, 250))
    seg = TcpSegment(rng.randrange(1024, 65535), 80, rng.getrandbits(32), 0, SYN, 64240,
                     mss=1460, sack_perm=True, wscale=7)
    raw.sendto(Packet(src, dst, seg).to_bytes(), (sys.argv[1], 0))
# a real client in the middle of it
s = socket.create_connection((sys.argv[1], 80), timeout=10)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
reply = b""
while b := s.recv(4096):
    reply += b
print("REPLY", reply.split(b"\r\n")[0].decode())
'''


@pytest.mark.root
def test_a_syn_flood_gets_linux_cookies_and_a_real_client_still_connects() -> None:
    from tuxtcp.tcp.syncookies import cookie_v4_check
    from tuxtcp.tunnet.services import Services
    from tuxtcp.wire.ipv4 import parse_packet
    from tuxtcp.wire.tcp import ACK, SYN
    with wire("f") as (name, driver, tun):
        sent: list[bytes] = []
        write = tun.write

        def capture(datagram: bytes) -> None:
            sent.append(datagram)
            write(datagram)

        tun.write = capture  # type: ignore[method-assign]
        services = Services(driver, echo_port=0, http_port=80)
        proc = subprocess.Popen(["ip", "netns", "exec", name, sys.executable, "-c",
                                 SYN_FLOOD, ADDR, "3000"], stdout=subprocess.PIPE, text=True)
        try:
            end = time.monotonic() + 60
            services.run(lambda: proc.poll() is not None or time.monotonic() > end, 0.05)
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            services.close()
        assert "REPLY HTTP/1.1 200 OK" in out, out
        ext = driver.ns.mib.tcp_ext
        # past the SYN queue (128) every SYN got a cookie; the TUN device's queue (500)
        # drops some of a flood this fast before they reach the stack
        assert ext.SyncookiesSent >= 1000
        now = driver.now()
        checked = 0
        for raw in sent:
            pkt = parse_packet(raw)
            seg = pkt.seg
            if seg.flags != SYN | ACK:
                continue
            # the kernel's __cookie_v4_check accepts it (the restored MSS, from msstab)
            mss = cookie_v4_check(driver.ns.syncookie_secret, pkt.dst, pkt.src, seg.dport,
                                  seg.sport, (seg.seq + 1) & 0xFFFFFFFF, seg.ack,
                                  driver.ns.clock.cookie_time(now))
            checked += mss == 1460
        assert checked == ext.SyncookiesSent
