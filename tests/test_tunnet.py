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

from tuxtcp.tunnet import netns as tn

ADDR = "198.18.0.2"

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


def _snmp(name: str) -> dict[str, int]:
    """The kernel namespace's /proc/net/snmp and /proc/net/netstat as {"Group.Name": n}."""
    out: dict[str, int] = {}
    for f in ("/proc/net/snmp", "/proc/net/netstat"):
        text = subprocess.run(["ip", "netns", "exec", name, "cat", f], capture_output=True,
                              text=True, check=True).stdout.splitlines()
        for head, vals in zip(text[0::2], text[1::2], strict=False):
            g, names = head.split(":", 1)
            _, values = vals.split(":", 1)
            for k, v in zip(names.split(), values.split(), strict=False):
                out[f"{g}.{k}"] = int(v)
    return out


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


@pytest.mark.root
def test_kernel_clients_get_echo_and_http_from_tuxtcp() -> None:
    with serving() as (name, proc):
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


def test_software_gso_cuts_a_tso_packet_as_the_kernel_does() -> None:
    from tuxtcp.tunnet.gso import segment
    from tuxtcp.wire.ipv4 import Packet, parse_packet
    from tuxtcp.wire.tcp import ACK, CWR, PSH, TcpSegment

    data = bytes(range(256)) * 20  # 5120 bytes: three 1448-byte pieces and a 776-byte one
    seg = TcpSegment(80, 40000, 1000, 7, ACK | PSH | CWR, 502, data, tsval=5, tsecr=6)
    big = Packet(0xC6120002, 0xC6120001, seg, ip_id=100)
    pieces = segment(big, 1500)
    assert [len(p.seg.payload) for p in pieces] == [1448, 1448, 1448, 776]
    assert [p.seg.seq for p in pieces] == [1000, 2448, 3896, 5344]
    assert [p.ip_id for p in pieces] == [100, 101, 102, 103]
    assert [p.seg.flags for p in pieces] == [ACK | CWR, ACK, ACK, ACK | PSH]
    assert all((p.seg.tsval, p.seg.tsecr, p.seg.window) == (5, 6, 502) for p in pieces)
    assert b"".join(p.seg.payload for p in pieces) == data
    raw = [p.to_bytes() for p in pieces]
    assert max(len(r) for r in raw) == 1500
    assert [parse_packet(r).seg.payload for r in raw] == [p.seg.payload for p in pieces]
    small = Packet(1, 2, TcpSegment(1, 2, 3, 4, ACK, 5, b"x" * 1448, tsval=1, tsecr=2))
    assert segment(small, 1500) == [small]
