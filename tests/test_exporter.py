"""`tuxtcp exporter` (issue 13): per-listener accept queue, backlog and SYN queue and the TCP
counters, scraped over HTTP from a running exporter and parsed with prometheus-client's own
parser. The namespace is the test's own: a listener with listen(2) and four clients (three
queued, backlog + 1, the fourth's SYN dropped: ListenOverflows), and a wildcard listener with
three requests in its SYN queue (SYNs from a peer that never answers, so the SYN-ACKs go
nowhere)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tuxtcp.host import netns as hn
from tuxtcp.host.exporter import listener_rows
from tuxtcp.observe.records import SockRecord

SOCKETS = r'''
import socket, time
l = socket.socket(); l.bind(("127.0.0.1", 8080)); l.listen(2)
cs = []
for i in range(4):
    c = socket.socket(); c.setblocking(False); c.connect_ex(("127.0.0.1", 8080)); cs.append(c)
    time.sleep(0.01)
w = socket.socket(); w.bind(("0.0.0.0", 9090)); w.listen(50)
# three SYNs from the silent peer: the SYN-ACKs go nowhere, the requests stay
from tuxtcp.wire.ipv4 import Packet, ip_to_int
from tuxtcp.wire.tcp import SYN, TcpSegment
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for i in range(3):
    seg = TcpSegment(40000 + i, 9090, 1000 * i, 0, SYN, 64240, mss=1460)
    pkt = Packet(ip_to_int("198.18.1.2"), ip_to_int("198.18.1.1"), seg)
    raw.sendto(pkt.to_bytes(), ("198.18.1.1", 0))
time.sleep(0.1)
print("ready", flush=True)
time.sleep(60)
'''


BARE_ACK = r'''
import socket
from tuxtcp.wire.ipv4 import Packet, ip_to_int
from tuxtcp.wire.tcp import ACK, TcpSegment
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
seg = TcpSegment(41000, 9090, 5, 5, ACK, 64240)
raw.sendto(Packet(ip_to_int("198.18.1.2"), ip_to_int("198.18.1.1"), seg).to_bytes(),
           ("198.18.1.1", 0))
'''


def test_listener_rows_count_the_syn_queue_per_listener() -> None:
    a = 0x7F000001
    recs = [SockRecord(10, a, 80, 0, 0, rqueue=3, wqueue=2),
            SockRecord(10, 0, 90, 0, 0, rqueue=0, wqueue=50),
            SockRecord(3, a, 80, a, 40000), SockRecord(3, a, 90, a, 40001),
            SockRecord(3, 0xC6120001, 90, a, 40002), SockRecord(1, a, 90, a, 40003)]
    assert listener_rows(recs) == [("127.0.0.1", 80, 3, 2, 1), ("0.0.0.0", 90, 0, 50, 2)]


@contextlib.contextmanager
def _scene() -> Iterator[str]:
    """hn.silent_peer_pair (v0 at 198.18.1.1, a peer at 198.18.1.2 that never answers) with
    SOCKETS running in it; yields the namespace's name."""
    why = hn.available()
    if why:
        pytest.skip(why)
    with hn.silent_peer_pair() as ns:
        proc = ns.popen(sys.executable, "-c", SOCKETS)
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            time.sleep(0.1)
            yield ns.name
        finally:
            proc.kill()
            proc.wait()


@pytest.mark.root
def test_a_real_scrape_gives_per_listener_queues_and_counters() -> None:
    with _scene() as name:
        exp = subprocess.Popen([sys.executable, "-m", "tuxtcp.cli", "exporter", "--listen",
                                "127.0.0.1:0", "--netns", name, "--duration", "60"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert exp.stdout is not None
            line = exp.stdout.readline()
            assert line.startswith("serving http://127.0.0.1:"), exp.stderr.read() \
                if exp.stderr else line
            url = line.split()[1]
            # a bare ACK from the peer to the 9090 listener: TCP_FLAGS there; and the three
            # requests' SYN-ACKs go again 3 s after their SYNs (the 1 s round may come before
            # the exporter traces)
            hn.sh("ip", "netns", "exec", name, sys.executable, "-c", BARE_ACK)
            time.sleep(3.2)
            with urllib.request.urlopen(url, timeout=10) as r:
                assert r.status == 200
                assert r.headers["Content-Type"].startswith("text/plain")
                text = r.read().decode()
        finally:
            exp.terminate()
            exp.wait(timeout=10)
        fams = {f.name: f for f in text_string_to_metric_families(text)}
        assert fams["tuxtcp_snmp"].type == "counter"

        def value(metric: str, **labels: str) -> float:
            for s in fams[metric].samples:
                if all(s.labels.get(k) == v for k, v in labels.items()):
                    return s.value
            raise KeyError((metric, labels))

        assert value("tuxtcp_listen_accept_queue", netns=name, port="8080") == 3
        assert value("tuxtcp_listen_backlog", netns=name, port="8080") == 2
        assert value("tuxtcp_listen_backlog", netns=name, address="0.0.0.0",
                     port="9090") == 50
        assert value("tuxtcp_listen_syn_recv", netns=name, port="9090") == 3
        assert value("tuxtcp_listen_syn_recv", netns=name, port="8080") == 0
        assert value("tuxtcp_snmp", netns=name, group="TcpExt",
                     counter="ListenOverflows") >= 1
        assert value("tuxtcp_snmp", netns=name, group="Tcp", counter="ActiveOpens") == 4
        assert all(s.name == "tuxtcp_snmp_total" for s in fams["tuxtcp_snmp"].samples)
        assert value("tuxtcp_tcp_curr_estab", netns=name) == 6  # 3 pairs
        # drops and SYN-ACK retransmissions from the kernel's tracepoints, per listener
        assert value("tuxtcp_listen_drops", netns=name, port="9090", reason="TCP_FLAGS") == 1
        assert value("tuxtcp_skb_drops", reason="TCP_FLAGS") >= 1
        assert value("tuxtcp_listen_synack_retrans", netns=name, port="9090") >= 3
        assert all(s.name.endswith("_total") for s in fams["tuxtcp_listen_drops"].samples)
        # the exporter's own namespace is there too, with the empty label
        assert any(s.labels["netns"] == "" for s in fams["tuxtcp_tcp_curr_estab"].samples)
