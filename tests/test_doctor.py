"""`tuxtcp doctor` (issue 13): an overflowing accept queue, a SYN flood with cookies on and
off, and a backlog capped by somaxconn each give their diagnosis, on a simulated host
(`host.doctor()`) and on the kernel (`tuxtcp doctor --netns`); a healthy server gives none."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time

import pytest

import tuxtcp
from tuxtcp.doctor.whatif import WhatIfError, baseline_spec, parse_change, render, what_if
from tuxtcp.host import netns as hn


def _server(backlog: int, clients: int, somaxconn: int | None = None,
            syncookies: int | None = None) -> tuxtcp.Host:
    w = tuxtcp.World(seed=1)
    srv = w.host("srv", "198.18.0.1")
    cli = w.host("cli", "198.18.0.2")
    w.link(srv, cli, delay=0.001)
    if somaxconn is not None:
        srv.ns.sysctl["net.core.somaxconn"] = somaxconn
    if syncookies is not None:
        srv.ns.sysctl["net.ipv4.tcp_syncookies"] = syncookies
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(backlog)
    for _ in range(clients):
        c = cli.socket()
        c.setblocking(False)
        c.connect_ex(("198.18.0.1", 80))
    return srv


def test_an_accept_queue_that_overflows() -> None:
    r = _server(2, 10).doctor(2.0)
    assert r.kinds() == ["accept-queue-overflow", "syn-cookies"]
    assert r.findings[0].listener == "0.0.0.0:80"
    (lv,) = r.listeners
    assert (lv.backlog, lv.max_accept_queue) == (2, 3) and lv.full_samples == lv.samples
    assert r.deltas["ListenOverflows"] == 7
    assert "1. [0.0.0.0:80] the accept queue overflowed 7 times" in r.render()


def test_a_syn_burst_without_cookies_drops_syns() -> None:
    r = _server(2, 10, syncookies=0).doctor(2.0)
    assert "syn-queue-drop" in r.kinds() and "syn-cookies" not in r.kinds()
    assert r.deltas["TCPReqQFullDrop"] > 0


def test_a_backlog_capped_by_somaxconn() -> None:
    r = _server(128, 20, somaxconn=4).doctor(2.0)
    assert r.kinds()[:2] == ["accept-queue-overflow", "somaxconn-cap"]
    assert r.listeners[0].backlog == 4


def test_a_healthy_server_gets_no_diagnosis() -> None:
    w = tuxtcp.World(seed=1)
    srv = w.host("srv", "198.18.0.1")
    cli = w.host("cli", "198.18.0.2")
    w.link(srv, cli, delay=0.001)
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(128)
    for _ in range(10):
        c = cli.socket()
        c.setblocking(False)
        c.connect_ex(("198.18.0.1", 80))
    w.run(0.1)
    for _ in range(10):
        ls.accept()
    r = srv.doctor(1.0)
    assert r.findings == [] and "diagnosis: healthy" in r.render()


def _steady_overload() -> tuxtcp.Host:
    """Clients at 200/s, an application that accepts one connection every 10 ms, listen(128)
    capped by net.core.somaxconn = 16."""
    w = tuxtcp.World(seed=1)
    srv = w.host("srv", "198.18.0.1")
    cli = w.host("cli", "198.18.0.2")
    w.link(srv, cli, delay=0.001)
    srv.ns.sysctl["net.core.somaxconn"] = 16
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(128)
    ls.setblocking(False)
    keep = []

    def arrive(now: float) -> None:
        c = cli.socket()
        c.setblocking(False)
        c.connect_ex(("198.18.0.1", 80))
        keep.append(c)
        if now < 6:
            w.call_at(now + 0.005, arrive)

    def serve(now: float) -> None:
        with contextlib.suppress(BlockingIOError):
            keep.append(ls.accept()[0])
        if now < 6:
            w.call_at(now + 0.01, serve)

    w.call_at(0.0, arrive)
    w.call_at(0.0, serve)
    w.run(1.0)
    return srv


def test_what_if_raising_somaxconn_ends_the_stalls() -> None:
    """The doctor sees the capped queue; the what-if models the application from what it
    saw (one accept every 10 ms) and predicts the 1 s / 3 s stalls gone with somaxconn
    raised."""
    report = _steady_overload().doctor(4.0, 40)
    assert report.kinds()[:2] == ["accept-queue-overflow", "somaxconn-cap"]
    spec, how = baseline_spec(report, rate=200)
    assert spec.backlog == 4096 and spec.rate == 200  # listen()'s argument is unknown
    assert abs(spec.service_time - 0.010) < 0.001, how
    result = what_if(report, ["net.core.somaxconn=4096"], rate=200)
    before, after = result["before"], result["after"]
    assert before["ListenOverflows"] > 0 and before["p99_s"] > 1.0
    assert after["ListenOverflows"] == 0 and after["p99_s"] < 0.01
    assert after["connected"] == after["clients"] == 800
    text = render(result)
    assert "connect p99" in text and "net.core.somaxconn=4096" in text


@pytest.mark.parametrize("bad", ["backlog", "backlog=x", "speed=3", "=4"])
def test_what_if_refuses_what_it_cannot_apply(bad: str) -> None:
    with pytest.raises(WhatIfError):
        parse_change(bad)


CLIENTS = r'''
import socket, sys, time
n, backlog = int(sys.argv[1]), int(sys.argv[2])
l = socket.socket(); l.bind(("127.0.0.1", 8080)); l.listen(backlog)
print("ready", flush=True)
sys.stdin.readline()
cs = []
for i in range(n):
    c = socket.socket(); c.setblocking(False); c.connect_ex(("127.0.0.1", 8080)); cs.append(c)
    time.sleep(0.01)
if len(sys.argv) > 3:  # a healthy server: accept them all
    for i in range(n):
        l.accept()[0].close()
time.sleep(30)
'''

FLOOD = r'''
import socket, sys, time
from tuxtcp.wire.ipv4 import Packet, ip_to_int
from tuxtcp.wire.tcp import SYN, TcpSegment
l = socket.socket(); l.bind(("0.0.0.0", 9090)); l.listen(4)
print("ready", flush=True)
sys.stdin.readline()
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for i in range(20):
    seg = TcpSegment(40000 + i, 9090, 1000 * i, 0, SYN, 64240, mss=1460)
    raw.sendto(Packet(ip_to_int("198.18.1.2"), ip_to_int("198.18.1.1"), seg).to_bytes(),
               ("198.18.1.1", 0))
time.sleep(30)
'''


def _kernel_doctor(ns: hn.Netns, script: str, *args: str,
                   doctor_args: tuple[str, ...] = ()) -> dict[str, object]:
    """Run `script` in the namespace, start `tuxtcp doctor --netns` over 2 s, then let the
    script make its traffic; the doctor's JSON report."""
    proc = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-c", script,
                             *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "ready"
        doc = subprocess.Popen([sys.executable, "-m", "tuxtcp.cli", "doctor", "--netns",
                                ns.name, "--interval", "2", "--samples", "40", "--json",
                                *doctor_args],
                               stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out, _ = doc.communicate(timeout=60)
        assert doc.returncode == 0
        report: dict[str, object] = json.loads(out)
        return report
    finally:
        proc.kill()
        proc.wait()


def _kinds(report: dict[str, object]) -> list[str]:
    return [f["kind"] for f in report["findings"]]  # type: ignore[attr-defined, index]


@pytest.mark.root
def test_the_kernel_accept_queue_overflow_and_somaxconn_cap() -> None:
    why = hn.available()
    if why:
        pytest.skip(why)
    with hn.loopback_ns() as ns:
        r = _kernel_doctor(ns, CLIENTS, "8", "2")
        assert _kinds(r)[0] == "accept-queue-overflow", r
        ns.sysctl("net.core.somaxconn", 4)
        r = _kernel_doctor(ns, CLIENTS.replace("8080", "8081"), "12", "128",
                           doctor_args=("--what-if", "net.core.somaxconn=4096", "--rate",
                                        "100"))
        assert _kinds(r)[:2] == ["accept-queue-overflow", "somaxconn-cap"], r
        # the what-if replays the observed load on the simulator: the raised cap ends the
        # overflows the capped backlog had
        wi = r["what_if"]
        assert wi["before"]["ListenOverflows"] > 0, wi  # type: ignore[index]
        assert wi["after"]["ListenOverflows"] == 0, wi  # type: ignore[index]


@pytest.mark.root
def test_the_kernel_healthy_server_gets_no_diagnosis() -> None:
    why = hn.available()
    if why:
        pytest.skip(why)
    with hn.loopback_ns() as ns:
        r = _kernel_doctor(ns, CLIENTS, "8", "128", "accept")
        assert _kinds(r) == [], r


@pytest.mark.root
@pytest.mark.parametrize(("cookies", "kind"), [(1, "syn-cookies"), (0, "syn-queue-drop")])
def test_the_kernel_syn_flood_with_cookies_on_and_off(cookies: int, kind: str) -> None:
    why = hn.available()
    if why:
        pytest.skip(why)
    with hn.silent_peer_pair() as ns:
        ns.sysctl("net.ipv4.tcp_syncookies", cookies)
        r = _kernel_doctor(ns, FLOOD)
        assert kind in _kinds(r), r
        assert "accept-queue-overflow" not in _kinds(r)
