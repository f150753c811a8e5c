"""Drops and retransmissions by reason and by listener (issue 13, `tuxtcp trace`): from a
simulated host's own tracepoints (`host.drop_tally()`) and from the live kernel's through a
tracefs instance, attributed to listeners through /proc/net/tcp's socket column."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tuxtcp
from tuxtcp.host import netns as hn
from tuxtcp.host import tracefs
from tuxtcp.host.trace_command import proc_listeners
from tuxtcp.net.trace import parse_trace_line
from tuxtcp.observe.trace_tally import TraceTally, listeners_from_proc

LOOPBACK = 0x7F000001


def test_listeners_from_proc_net_tcp() -> None:
    text = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
            "timeout inode\n"
            "   0: 00000000:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0"
            "        0 7413936 4 000000009960479c 100 0 0 10 0\n"
            "   1: 0100007F:8CE0 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0"
            "        0 7413938 2 000000006d4cf34b 20 0 0 10 -1\n")
    assert listeners_from_proc(text) == {0x9960479C: (0, 8080)}


def test_a_full_accept_queue_drops_final_acks_at_its_listener() -> None:
    """listen(4) with four connections queued, then two SYNs at once: both become requests
    (the queue is at, not over, its limit), the first ACK makes the fifth child, the second
    finds the queue full: TCP_LISTEN_OVERFLOW at the listener (tcp_check_req). The request
    stays (acked), its SYN-ACK is retransmitted 1 s later, and the client's answering ACK is
    dropped the same way."""
    w = tuxtcp.World(seed=1)
    srv = w.host("srv", "198.18.0.1")
    cli = w.host("cli", "198.18.0.2")
    w.link(srv, cli, delay=0.001)
    tally = srv.drop_tally()
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(4)
    clients = []
    for _ in range(4):
        c = cli.socket()
        c.setblocking(False)
        c.connect_ex(("198.18.0.1", 80))
        clients.append(c)
        w.run(0.01)
    for _ in range(2):
        c = cli.socket()
        c.setblocking(False)
        c.connect_ex(("198.18.0.1", 80))
        clients.append(c)
    w.run(1.5)
    at_listener = tally.per_listener[(0, 80)]
    assert at_listener.handshakes == 5
    assert at_listener.synack_retrans == 1
    assert at_listener.drops["TCP_LISTEN_OVERFLOW"] == 2
    # the tally saw every drop the namespace counted, under the same reasons
    assert dict(tally.drops) == dict(srv.ns.drops.items())
    assert srv.ns.mib.snapshot()["TcpExt.ListenOverflows"] == 2
    assert ("  0.0.0.0:80            handshakes 5, SYN-ACK retransmits 1, resets 0, drops: "
            "TCP_LISTEN_OVERFLOW 2\n") in tally.summary()


SCENE = r'''
import socket, time, sys
from tuxtcp.wire.ipv4 import Packet, ip_to_int
from tuxtcp.wire.tcp import ACK, SYN, TcpSegment
busy = socket.socket(); busy.bind(("0.0.0.0", 8080)); busy.listen(2)
other = socket.socket(); other.bind(("0.0.0.0", 9090)); other.listen(8)
print("ready", flush=True)
sys.stdin.readline()
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
def send(dport, flags, seq, ack):
    seg = TcpSegment(40000, dport, seq, ack, flags, 64240, mss=1460 if flags & SYN else None)
    raw.sendto(Packet(ip_to_int("198.18.1.2"), ip_to_int("198.18.1.1"), seg).to_bytes(),
               ("198.18.1.1", 0))
send(8080, ACK, 1000, 5000)  # an ACK with no request: TCP_FLAGS and a RST at the listener
send(9090, SYN, 7000, 0)     # a request whose peer never answers: its SYN-ACK is resent
print("sent", flush=True)
time.sleep(30)
'''


@contextlib.contextmanager
def _scene() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    why = hn.available() or tracefs.available()
    if why:
        pytest.skip(why)
    with hn.silent_peer_pair() as ns:
        proc = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-c", SCENE],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            yield ns.name, proc
        finally:
            proc.kill()
            proc.wait()


def _go(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "sent"


@pytest.mark.root
def test_kernel_drops_and_synack_retransmits_by_listener() -> None:
    """The kernel's own tracepoints in a tracefs instance: the bare ACK dies at the 8080
    listener with TCP_FLAGS (rx_sk is that listener's /proc/net/tcp pointer) and the 8080
    listener sends the RST; the 9090 listener resends its SYN-ACK after 1 s. The instance
    is gone afterwards."""
    with _scene() as (name, proc):
        tally = TraceTally(lambda: proc_listeners(name))
        assert set(tally.by_ptr.values()) == {(0, 8080), (0, 9090)}
        with tracefs.trace_session() as session:
            path = session.path
            _go(proc)
            for line in session.lines(1.6):
                ev = parse_trace_line(line)
                if ev is not None:
                    tally.add(ev)
        busy, other = tally.per_listener[(0, 8080)], tally.per_listener[(0, 9090)]
        assert busy.drops["TCP_FLAGS"] == 1 and busy.resets == 1
        assert other.synack_retrans == 1 and not other.drops
    import os

    assert not os.path.exists(path)


@pytest.mark.root
def test_tuxtcp_trace_command_reports_per_listener_json() -> None:
    with _scene() as (name, proc):
        cmd = subprocess.Popen([sys.executable, "-m", "tuxtcp.cli", "trace", "--netns", name,
                                "--duration", "2.5", "--json"], stdout=subprocess.PIPE,
                               text=True)
        time.sleep(0.7)  # the command sets up its instance
        _go(proc)
        out, _ = cmd.communicate(timeout=30)
        assert cmd.returncode == 0
        report = json.loads(out)
        by_port = {entry["port"]: entry for entry in report["listeners"]}
        assert by_port[8080]["drops"] == {"TCP_FLAGS": 1} and by_port[8080]["resets"] == 1
        assert by_port[9090]["synack_retrans"] == 1
        assert report["drops"]["TCP_FLAGS"] >= 1


def _dead_pid() -> int:
    """A PID whose process has exited (and been waited for)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_reap_stale_removes_only_instances_of_dead_tuxtcp_processes(tmp_path: Path) -> None:
    import os

    dead = _dead_pid()
    for name in (f"tuxtcp-{dead}-0", f"tuxtcp-{dead}-3", f"tuxtcp-{os.getpid()}-0",
                 f"tuxtcp-{dead}", "tuxtcp_cap", "someone-else"):
        (tmp_path / name).mkdir()
    assert tracefs.reap_stale(str(tmp_path)) == [f"tuxtcp-{dead}-0", f"tuxtcp-{dead}-3"]
    assert sorted(os.listdir(tmp_path)) == sorted(
        [f"tuxtcp-{os.getpid()}-0", f"tuxtcp-{dead}", "tuxtcp_cap", "someone-else"])
    assert tracefs.reap_stale(str(tmp_path / "absent")) == []


def test_a_session_counts_the_events_its_ring_buffer_lost(tmp_path: Path) -> None:
    """Overwritten events (`overrun`, the ring buffer in overwrite mode) and dropped ones
    (`dropped events`, when it does not overwrite), over every CPU's stats file."""
    (tmp_path / "trace_pipe").write_text("")
    stats = {"cpu0": "entries: 5\noverrun: 3\ncommit overrun: 0\ndropped events: 0\n",
             "cpu1": "entries: 0\noverrun: 0\ndropped events: 2\nread events: 9\n"}
    for cpu, text in stats.items():
        (tmp_path / "per_cpu" / cpu).mkdir(parents=True)
        (tmp_path / "per_cpu" / cpu / "stats").write_text(text)
    session = tracefs.TraceSession(str(tmp_path))
    try:
        assert session.lost() == 5
    finally:
        session.close()


@pytest.mark.root
def test_a_session_removes_the_instance_a_killed_run_left_tracing() -> None:
    """An instance named as a tuxtcp process makes it, whose process is gone, with an event
    enabled (what a SIGKILLed `tuxtcp simulate --target both` leaves): opening a session
    removes it; the session's own instance is gone after it too."""
    import os

    from kernel_tracefs import tracefs_mounted

    why = tracefs.available()
    if why:
        pytest.skip(why)
    stale = f"{tracefs.TRACEFS}/instances/tuxtcp-{_dead_pid()}-0"
    with tracefs_mounted():
        os.mkdir(stale)
        try:
            with open(f"{stale}/events/sock/inet_sock_set_state/enable", "w") as f:
                f.write("1")
            with tracefs.trace_session() as session:
                assert not os.path.exists(stale)
                own = session.path
            assert not os.path.exists(own)
        finally:
            if os.path.exists(stale):
                with open(f"{stale}/events/enable", "w") as f:
                    f.write("0")
                os.rmdir(stale)
