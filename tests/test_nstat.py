"""nstat (issue 13): the counters by nstat's names, as deltas against a history, from a tuxtcp
namespace (`host.nstat()`) or the live kernel (`tuxtcp nstat`), checked against iproute2's
nstat run beside it on the same namespace (output byte for byte, history values)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tuxtcp
from tuxtcp.host import netns as hn
from tuxtcp.observe.nstat import (
    NstatError,
    line,
    parse_args,
    parse_two_line,
    read_history,
    report,
    snapshot,
)

SNMP = """Ip: Forwarding DefaultTTL InReceives
Ip: 2 64 7
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens CurrEstab InSegs
Tcp: 1 200 120000 -1 3 2 9
"""
NETSTAT = """TcpExt: SyncookiesSent ListenOverflows
TcpExt: 0 4
"""


def test_counters_by_nstat_names_without_settings() -> None:
    assert parse_two_line(SNMP)[3] == ("TcpRtoAlgorithm", 1)
    assert parse_two_line(SNMP)[6] == ("TcpMaxConn", (1 << 64) - 1)  # strtoull's -1
    assert snapshot({"snmp": SNMP, "netstat": NETSTAT}) == [
        ("IpInReceives", 7), ("TcpActiveOpens", 3), ("TcpInSegs", 9),
        ("TcpExtSyncookiesSent", 0), ("TcpExtListenOverflows", 4)]


def test_deltas_zeros_patterns_json_and_history() -> None:
    c = snapshot({"snmp": SNMP, "netstat": NETSTAT})
    text, hist = report(c, parse_args([]), {})  # no history: values since boot
    assert text == "#kernel\n" + "".join(line(n, v) + "\n" for n, v in c if v)
    assert line("IpInReceives", 7) == "IpInReceives                    7                  0.0"
    later = [(n, v + (2 if n == "TcpInSegs" else 0)) for n, v in c]
    text, hist2 = report(later, parse_args([]), hist)
    assert text == "#kernel\n" + line("TcpInSegs", 2) + "\n"
    assert report(later, parse_args(["-s"]), hist2)[1] is hist2  # -s keeps the history
    assert report(later, parse_args(["-z", "TcpExt*"]), hist2)[0] == (
        "#kernel\n" + line("TcpExtSyncookiesSent", 0) + "\n"
        + line("TcpExtListenOverflows", 0) + "\n")
    assert report(later, parse_args(["-a", "Tcp*Opens"]), hist2)[0] == (
        "#kernel\n" + line("TcpActiveOpens", 3) + "\n")
    assert report(later, parse_args(["-j"]), hist)[0] == '{"kernel":{"TcpInSegs":2}}\n'
    assert report(later, parse_args(["-n"]), hist)[0] == ""
    with pytest.raises(NstatError):
        parse_args(["-x"])


def test_a_simulated_host_keeps_its_own_history() -> None:
    w = tuxtcp.World(seed=1)
    srv = w.host("srv", "198.18.0.1")
    cli = w.host("cli", "198.18.0.2")
    w.link(srv, cli, delay=0.001)
    srv.nstat("-n")
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(1)
    cli.socket().connect(("198.18.0.1", 80))
    w.run(0.1)
    first = srv.nstat("Tcp*Opens")
    assert first == "#kernel\n" + line("TcpPassiveOpens", 1) + "\n"
    assert srv.nstat("Tcp*Opens") == "#kernel\n"  # nothing new since


@pytest.mark.root
def test_tuxtcp_nstat_prints_what_iproute2_prints(tmp_path: Path) -> None:
    a, b = tmp_path / "iproute2", tmp_path / "tuxtcp"

    def theirs(name: str, *args: str) -> str:
        return subprocess.run(["ip", "netns", "exec", name, "env", f"NSTAT_HISTORY={a}",
                               "nstat", *args], capture_output=True, text=True,
                              check=True).stdout

    def ours(name: str, *args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "tuxtcp.cli", "nstat", "--netns", name,
                            *args], capture_output=True, text=True,
                           env={**os.environ, "NSTAT_HISTORY": str(b)})
        assert r.returncode == 0, r.stderr
        return r.stdout

    why = hn.available()
    if why:
        pytest.skip(why)
    with hn.loopback_ns() as ns:
        name = ns.name
        assert theirs(name, "-n") == ours(name, "-n") == ""
        subprocess.run(["ip", "netns", "exec", name, sys.executable, "-c",
                        "import socket; l = socket.socket(); l.bind(('127.0.0.1', 80)); "
                        "l.listen(1); c = socket.create_connection(('127.0.0.1', 80)); "
                        "c.sendall(b'x' * 1000)"], check=True)
        for args in ([], ["-s"], ["-az"], ["-a"], ["-j"], ["-az", "Tcp*"],
                     ["-z", "TcpExtListen*", "IpIn*"], ["-r"]):
            assert ours(name, *args) == theirs(name, *args), args
        # the history files hold the same values (nstat orders its own file by its merge of
        # old and new entries; each tool reads the other's)
        assert read_history(str(a)) == read_history(str(b))
