"""`netstat -s` (issue 13): the counters in net-tools' words, from a tuxtcp namespace
(`host.netstat()`) and from the live kernel (`tuxtcp netstat -s`), checked against the
installed net-tools netstat: on a kernel namespace side by side, and on a simulated host's
/proc files (netstat run in a private mount namespace whose /proc holds them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tuxtcp
from tuxtcp.host import netns as hn
from tuxtcp.observe.netstat_s import parse_args, render

SNMP = """Ip: Forwarding DefaultTTL InReceives InHdrErrors ForwDatagrams OutTransmits
Ip: 2 64 7 0 0 5
Icmp: InMsgs InErrors InCsumErrors InDestUnreachs OutMsgs OutErrors OutDestUnreachs
Icmp: 1 0 0 1 0 0 0
IcmpMsg: InType3
IcmpMsg: 1
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens CurrEstab
Tcp: 1 200 120000 -1 3 2
"""
NETSTAT = """TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPTimeouts BeyondWindow
TcpExt: 0 4 4 6 0
IpExt: InOctets
IpExt: -1
"""


def test_sentences_kinds_indents_and_netstats_quirks() -> None:
    assert render([SNMP, NETSTAT]) == (
        "Ip:\n"
        "    Forwarding: 2\n"  # bsearch misses it in net-tools' unsorted table
        "    7 total packets received\n"
        "    0 forwarded\n"  # always shown; InHdrErrors 0 is not
        "    OutTransmits: 5\n"  # no sentence: "Name: value"
        "Icmp:\n"
        "    1 ICMP messages received\n"
        "    0 input ICMP message failed\n"
        "    ICMP input histogram:\n"
        "        destination unreachable: 1\n"
        "    0 ICMP messages sent\n"
        "    0 ICMP messages failed\n"
        "    ICMP output histogram:\n"  # the title even with nothing under it
        "IcmpMsg:\n"
        "        InType3: 1\n"  # the histogram's indent carries over
        "Tcp:\n"
        "    3 active connection openings\n"
        "    2 connections established\n"  # RtoMin, MaxConn -1 never shown
        "TcpExt:\n"
        "    4 times the listen queue of a socket overflowed\n"
        "    4 SYNs to LISTEN sockets dropped\n"
        "    TCPTimeouts: 6\n"
        "IpExt:\n"
        "    InOctets: 18446744073709551615\n")
    # -t: Tcp and TcpExt, and the groups without a table (their headers always)
    assert render([SNMP, NETSTAT], parse_args(["-st"])).startswith(
        "IcmpMsg:\n    InType3: 1\nTcp:\n")
    with pytest.raises(ValueError):
        parse_args(["-t"])


def _overflowed_host() -> tuxtcp.Host:
    """listen(1) and six clients at once on a simulated link: ListenOverflows and drops."""
    w = tuxtcp.World(seed=1)
    srv = w.host("srv", "198.18.0.1")
    cli = w.host("cli", "198.18.0.2")
    w.link(srv, cli, delay=0.001)
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(1)
    for _ in range(6):
        c = cli.socket()
        c.setblocking(False)
        c.connect_ex(("198.18.0.1", 80))
    w.run(0.5)
    return srv


def test_a_simulated_host_says_how_often_its_listen_queue_overflowed() -> None:
    srv = _overflowed_host()
    counters = srv.ns.mib.snapshot()
    text = srv.netstat("-st")
    overflows = counters["TcpExt.ListenOverflows"]
    assert overflows > 0
    assert f"    {overflows} times the listen queue of a socket overflowed\n" in text
    assert f"    {counters['TcpExt.ListenDrops']} SYNs to LISTEN sockets dropped\n" in text


@pytest.mark.root
def test_net_tools_prints_the_same_from_a_simulated_hosts_proc_files(tmp_path: Path) -> None:
    why = hn.available()
    if why:
        pytest.skip(why)
    if shutil.which("netstat") is None or shutil.which("unshare") is None:
        pytest.skip("net-tools netstat or unshare is not installed")
    srv = _overflowed_host()
    net = tmp_path / "net"
    net.mkdir()
    (net / "snmp").write_text(srv.proc("net/snmp"))
    (net / "netstat").write_text(srv.proc("net/netstat"))
    for args in (["-s"], ["-st"], ["-su"]):
        # a private mount namespace with a tmpfs /proc holding only the two files
        script = (f"mount -t tmpfs none /proc && mkdir /proc/net && cp {net}/snmp {net}/netstat "
                  f"/proc/net/ && exec netstat {' '.join(args)}")
        theirs = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                 script], capture_output=True, text=True, check=True).stdout
        assert srv.netstat(" ".join(args)) == theirs, args


@pytest.mark.root
def test_tuxtcp_netstat_prints_what_net_tools_prints() -> None:
    why = hn.available()
    if why:
        pytest.skip(why)
    if shutil.which("netstat") is None:
        pytest.skip("net-tools netstat is not installed")
    with hn.loopback_ns() as ns:
        subprocess.run(["ip", "netns", "exec", ns.name, sys.executable, "-c",
                        "import socket; l = socket.socket(); l.bind(('127.0.0.1', 80)); "
                        "l.listen(0); cs = [socket.socket() for _ in range(4)]\n"
                        "for c in cs: c.setblocking(False); c.connect_ex(('127.0.0.1', 80))\n"
                        "import time; time.sleep(0.2)"], check=True)
        for args in (["-s"], ["-st"], ["-s", "-u"], ["-sw"]):
            theirs = ns.run("netstat", *args)
            r = subprocess.run([sys.executable, "-m", "tuxtcp.cli", "netstat", "--netns",
                                ns.name, *args], capture_output=True, text=True,
                               env=dict(os.environ))
            assert r.returncode == 0, r.stderr
            assert r.stdout == theirs, args
        assert "times the listen queue of a socket overflowed" in ns.run("netstat", "-st")
