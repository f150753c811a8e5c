"""packetdrill scripts run on target tuxtcp (issue 11): the project's own scripts for each
construct pass, scripts that must fail fail with packetdrill's message, and the shared corpus's
Linux-passing scripts pass except the ones listed with the feature tuxtcp lacks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_packetdrill_parser import CORPUS, DEFINES
from tuxtcp.packetdrill import parse_file, parse_text
from tuxtcp.packetdrill.command import DEFAULT_DEFINES, packetdrill, run_script
from tuxtcp.packetdrill.shell import CommandFailed, Shell, UnsupportedCommand
from tuxtcp.packetdrill.target_kernel import jiffy_edge_ns
from tuxtcp.packetdrill.target_tuxtcp import Result, TuxtcpRun, run_tuxtcp
from tuxtcp.tcp.engine import Namespace
from tuxtcp.tcp.metrics import get_metrics

OWN = sorted((Path(__file__).parent / "packetdrill").glob("*.pkt"))
KERNEL_ONLY = Path(__file__).parent / "packetdrill-kernel" / "kernel-calls.pkt"
# Reno packet for packet against the kernel set to reno (both targets)
RENO = sorted((Path(__file__).parent / "packetdrill-reno").glob("*.pkt"))
# CUBIC and HyStart packet for packet, cwnd and ssthresh after every ACK (both targets)
CUBIC = sorted((Path(__file__).parent / "packetdrill-cubic").glob("*.pkt"))


@pytest.mark.parametrize("path", OWN, ids=lambda p: p.name)
def test_own_scripts_pass_on_tuxtcp(path: Path) -> None:
    r = run_tuxtcp(parse_file(path))
    assert r.passed, r.error
    assert r.wall_seconds < 5 and r.script_seconds < 10


# what the kernel counts for each mechanism in a script that passes on both targets, as
# tuxtcp counts it (the packets and states are checked on both; the counts here)
COUNTED = {
    # old (below rcv_nxt) or out-of-order D-SACKs as tcp_dsack_set bumps them, and
    # DelayedACKLost for a whole duplicate
    "dsack-receiver.pkt": {"TCPDSACKOldSent": 4, "TCPDSACKOfoSent": 3, "DelayedACKLost": 2},
    # three Recoveries, each one segment resent (two by the REO timer, one at once), one
    # reordering seen, no probe and no lost retransmission
    "rack-reo-timer.pkt": {"TCPSACKReorder": 1, "TCPSackRecovery": 3, "TCPFastRetrans": 3,
                           "TCPLostRetransmit": 0, "TCPLossProbes": 0},
    # one undo at the end of Recovery, one on a D-SACK within it
    "undo-dsack.pkt": {"TCPFullUndo": 1, "TCPDSACKUndo": 1, "TCPDSACKRecv": 2,
                       "TCPLossUndo": 0, "TCPPartialUndo": 0, "TCPSackRecovery": 2},
    # two RTOs, the first found spurious by F-RTO and undone; four retransmissions in Loss
    # (one per RTO, two after the real one)
    "frto.pkt": {"TCPSpuriousRTOs": 1, "TCPLossUndo": 1, "TCPTimeouts": 2,
                 "TCPSlowStartRetrans": 4},
    # the duplicate ACK on a connection whose SYN-ACKs were resent: an undo without any
    # D-SACK (6.18 counted the same, read from the namespace's /proc/net/netstat)
    "handshake-cwnd-synack-resent.pkt": {"TCPDSACKUndo": 1, "TCPDSACKRecv": 0,
                                         "TCPFullUndo": 0},
    # a needless SYN resend shown by the SYN-ACK's echo: nothing counted (6.18: likewise)
    "handshake-cwnd-syn-spurious.pkt": {"TCPLossUndo": 0, "TCPDSACKUndo": 0,
                                        "TCPSynRetrans": 2},
}


@pytest.mark.parametrize("name", list(COUNTED))
def test_each_mechanism_is_counted_as_the_kernel_does(name: str) -> None:
    run = TuxtcpRun(parse_file(Path(__file__).parent / "packetdrill" / name))
    r = run.run()
    assert r.passed, r.error
    ext = run.ns.mib.tcp_ext
    assert {k: getattr(ext, k) for k in COUNTED[name]} == COUNTED[name]


# Kernel runs of a script, at most, before a test gives up on the kernel target: three were
# not enough on a host that stole its virtual CPUs for a 4 ms tick at a time (three CI runs
# on 2026-12-03, each with a CUBIC script a jiffy late on every attempt; the same scripts
# failed the same way on the session's starting commit, and passed minutes later).
KERNEL_RUNS = 5


@pytest.mark.root
@pytest.mark.parametrize("path", OWN + RENO + CUBIC, ids=lambda p: p.name)
def test_own_scripts_pass_on_the_kernel(netns_ok: None, path: Path) -> None:
    # (the Reno scripts set the kernel to reno, as tuxtcp; the CUBIC ones leave its default)
    r = run_script(path, "kernel", DEFAULT_DEFINES, [])
    # The kernel runs in real time on a shared 2-CPU machine, and some checks read real time
    # through the kernel: CUBIC's cwnd counts jiffies since its epoch (script time 0 sits at a
    # fixed place in a jiffy on both targets, runner.JIFFY_PHASE_USECS), HyStart's ACK-train
    # test compares the spacing of ACKs in microseconds (a busy machine once spread the train:
    # cubic-hystart-ack-train.pkt left slow start elsewhere and had an RTO at 0.31 s), and
    # tcpi_delivery_rate divides by the measured interval (tcp-info-counters.pkt once read
    # 18,880 B/s for 20,000: an interval 6 ms longer, in a CI run). A late packet within the
    # timing tolerance moves them, so any failure is measured again, up to KERNEL_RUNS runs in
    # all; a script wrong for the kernel fails every one (and timing errors are retried inside
    # run_script already).
    for _ in range(KERNEL_RUNS - 1):
        if r.passed:
            break
        r = run_script(path, "kernel", DEFAULT_DEFINES, [])
    assert r.passed, r.error


@pytest.mark.parametrize("path", RENO + CUBIC, ids=lambda p: p.name)
def test_congestion_control_scripts_on_tuxtcp(path: Path) -> None:
    r = run_script(path, "tuxtcp", DEFAULT_DEFINES, [])
    assert r.passed, r.error
    if path in CUBIC:
        assert not r.unmodelled, r.unmodelled  # everything these scripts set is modelled


# cubic-loss-concave-convex.pkt at 2.403 s (its cwnd check there): the ACK that ends a round
# comes 3 ms after the last cnt computation. When that is the same jiffy (script time 0 less
# than 1 ms after an edge), bictcp_update keeps the old cnt and cwnd grows one ACK early: 33
# where the script, written for mid-jiffy, has 32. The kernel does the same (test below).
JIFFY_SCRIPT = Path(__file__).parent / "packetdrill-cubic" / "cubic-loss-concave-convex.pkt"
JIFFY_LINE = JIFFY_SCRIPT.read_text().splitlines().index(
    "2.4030 %{ assert tcpi_snd_cwnd == 32, tcpi_snd_cwnd }%") + 1
JIFFY_BOUND = (JIFFY_SCRIPT.name, 1000, f":{JIFFY_LINE}: error in Python code: AssertionError: 33")


@pytest.mark.parametrize("path", CUBIC, ids=lambda p: p.name)
def test_cubic_scripts_across_the_jiffies_phase(path: Path) -> None:
    # the kernel's jiffies tick at their own phase against the script's clock, and CUBIC
    # counts its epoch and its last update in jiffies: each script holds wherever a 4 ms
    # jiffy starts, but for the one named above, which fails, as the kernel does, early on
    for phase in range(0, 4000, 250):
        r = run_script(path, "tuxtcp", DEFAULT_DEFINES, [("jiffy_phase_usecs", str(phase))])
        name, bound, error = JIFFY_BOUND
        if path.name == name and phase < bound:
            assert not r.passed and r.error.endswith(error), (phase, r.error)
        else:
            assert r.passed, f"clock {phase} us into a jiffy: {r.error}"


@pytest.mark.root
def test_cubic_counts_its_last_update_in_jiffies_as_the_kernel_does(netns_ok: None) -> None:
    # both targets with script time 0 on a jiffy edge: the same cwnd one ACK early at the same
    # line (a microsecond last_time, as a 2024 patch proposed, would pass here). The window is
    # the jiffy's first millisecond and the kernel target's lateness only adds to the phase
    # (at 0.25 ms a noisy CI run's ACKs left it), so the edge leaves the most margin; a kernel
    # run the machine delayed past it is measured again
    name, _, error = JIFFY_BOUND
    path = Path(__file__).parent / "packetdrill-cubic" / name
    options: list[tuple[str, str | None]] = [("jiffy_phase_usecs", "0")]
    tux = run_script(path, "tuxtcp", DEFAULT_DEFINES, options)
    assert not tux.passed and tux.error.endswith(error), tux.error
    for _ in range(KERNEL_RUNS):
        kernel = run_script(path, "kernel", DEFAULT_DEFINES, options)
        if kernel.error == tux.error:
            break
    assert kernel.error == tux.error


def test_the_kernel_target_finds_jiffy_edges() -> None:
    # script time 0 is put JIFFY_PHASE_USECS after an edge found through times(2): edges found
    # one after another lie whole jiffies (4 ms) apart, to within a tick's interrupt latency.
    # A tick the host held back (steal on this shared VM) moves one edge by milliseconds:
    # such a set is measured again, three sets in all (a CI run of 69f58fa lost this test
    # to one such edge)
    gaps: list[float] = []
    for _ in range(3):
        edges = [jiffy_edge_ns() for _ in range(4)]
        assert None not in edges
        gaps = [(b - a) / 1000 for a, b in zip(edges, edges[1:], strict=False)
                if a is not None and b is not None]
        if all(g > 0 and abs(g - 4000 * round(g / 4000)) < 500 for g in gaps):
            break
    assert len(gaps) == 3 and all(g > 0 and abs(g - 4000 * round(g / 4000)) < 500
                                  for g in gaps), gaps


def test_a_kernel_timing_error_is_run_again_after_a_pause(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the kernel target's timers are real: a script that misses its timing is run again,
    # after a pause, up to five runs in all; any other error is final at once
    from tuxtcp.packetdrill import command

    late = "x.pkt:16: timing error: expected system call return at 0.010652 sec but " \
           "happened at 0.016345 sec; tolerance 0.004000 sec"
    for errors, runs, passed in (([late] * 4 + [""], 5, True), ([late] * 9, 5, False),
                                 (["x.pkt:3: bad value"], 1, False), ([""], 1, True)):
        left = list(errors)
        calls: list[str] = []
        pauses: list[float] = []

        def fake(path: Path, defines: object, options: object,
                 _left: list[str] = left, _calls: list[str] = calls) -> Result:
            err = _left.pop(0)
            _calls.append(err)
            return Result(str(path), "kernel", not err, err)

        monkeypatch.setattr(command, "run_kernel", fake)
        monkeypatch.setattr(command.time, "sleep", pauses.append)
        r = run_script(Path("x.pkt"), "kernel", {}, [])
        assert (len(calls), r.passed) == (runs, passed)
        assert pauses == [command.KERNEL_RETRY_PAUSE_S] * (runs - 1)


def test_a_jiffy_edge_seen_across_a_preemption_is_not_trusted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # times(2) moved on while 2 ms passed around the call (the process was held): that edge's
    # instant is unknown to 2 ms, so the next edge, bracketed within 4 us, is the one returned
    import os
    from types import SimpleNamespace

    ticks = iter([1.0, 1.0, 1.01, 1.01, 1.02])
    clock = iter([0, 2_000, 2_002_000, 2_004_000, 2_008_000])
    monkeypatch.setattr(os, "times", lambda: SimpleNamespace(elapsed=next(ticks)))
    monkeypatch.setattr(time, "monotonic_ns", lambda: next(clock))
    assert jiffy_edge_ns() == 2_006_000
    # every edge held within the limit: the last one seen is taken (not none at all), moved
    # on by whole 4 ms jiffies to the last edge before the spin ended (at 60 ms: 59 ms)
    ticks = iter([1.0, 1.01, 1.02, 1.02])
    clock = iter([0, 2_000_000, 4_000_000, 60_000_000])
    assert jiffy_edge_ns(limit_ns=50_000_000) == 59_000_000


@pytest.mark.parametrize(("name", "train", "delay", "cwnd"), [
    ("cubic-hystart-ack-train.pkt", 1, 0, 28), ("cubic-hystart-delay.pkt", 0, 1, 36)])
def test_hystart_counts_its_exit(name: str, train: int, delay: int, cwnd: int) -> None:
    run = TuxtcpRun(parse_file(Path(__file__).parent / "packetdrill-cubic" / name))
    assert run.run().passed
    ext = run.ns.mib.tcp_ext
    assert (ext.TCPHystartTrainDetect, ext.TCPHystartDelayDetect) == (train, delay)
    assert ext.TCPHystartTrainCwnd + ext.TCPHystartDelayCwnd == cwnd


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


@pytest.mark.root
def test_sigterm_during_a_kernel_run_leaves_no_namespace(netns_ok: None) -> None:
    before = _namespaces()
    tuxtcp = Path(sys.executable).parent / "tuxtcp"  # the command of this environment
    proc = subprocess.Popen([str(tuxtcp), "packetdrill", "--target", "kernel", str(RENO[0])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (_namespaces() - before) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _namespaces() - before, "the run never made its namespace"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _namespaces() - before == set()


@pytest.mark.root
def test_poll_sendmsg_icmp_and_disconnect_on_the_kernel(netns_ok: None) -> None:
    r = run_script(KERNEL_ONLY, "kernel", DEFAULT_DEFINES, [])
    assert r.passed, r.error


def test_what_target_tuxtcp_lacks_is_named() -> None:
    r = run_script(KERNEL_ONLY, "tuxtcp", DEFAULT_DEFINES, [])
    assert r.error == f"{KERNEL_ONLY}:13: poll() on target tuxtcp"


@pytest.mark.root
def test_a_script_that_must_fail_fails_the_same_on_the_kernel(netns_ok: None,
                                                             tmp_path: Path) -> None:
    bad = tmp_path / "bad.pkt"
    bad.write_text(PASSIVE + "   +0 > S. 0:0(0) ack 1 <mss 1400,nop,wscale 7>\n")
    k = run_script(bad, "kernel", {}, [])
    t = run_script(bad, "tuxtcp", {}, [])
    assert not k.passed and not t.passed
    first = f"{bad}:6: error handling packet: bad value outbound TCP option 2"
    assert k.error.splitlines()[0] == t.error.splitlines()[0] == first
    bad.write_text("0 socket(..., SOCK_STREAM|SOCK_NONBLOCK, IPPROTO_TCP) = 3\n"
                   "+0 listen(3, 1) = 0\n"
                   "+0 accept(3, ..., ...) = -1 EBADF (Bad file descriptor)\n")
    k = run_script(bad, "kernel", {}, [])
    assert k.error == (f"{bad}:3: runtime error in accept call: Expected errno 9 (Bad file "
                       "descriptor) but got 11 (Resource temporarily unavailable)")


PASSIVE = """
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 65535 <mss 1000,nop,wscale 7>
"""


def fails(text: str) -> Result:
    r = run_tuxtcp(parse_text(text, "bad.pkt"))
    assert not r.passed
    return r


def test_a_wrong_expected_packet_fails_with_the_field() -> None:
    r = fails(PASSIVE + "   +0 > S. 0:0(0) ack 1 <mss 1400,nop,wscale 7>\n")
    assert r.error.splitlines()[0] == "bad.pkt:6: error handling packet: bad value outbound " \
                                      "TCP option 2"
    assert r.error.splitlines()[1] == ("script packet:  0.000000 S. 0:0(0) ack 1 "
                                       "<mss 1400,nop,wscale 7>")
    assert r.error.splitlines()[2].startswith("actual packet:  0.000000 S. ")
    r = fails(PASSIVE + "   +0 > S 0:0(0) <...>\n")
    assert r.error.splitlines()[0] == ("bad.pkt:6: error handling packet: live packet field "
                                       "tcp_ack: expected: 0 (0x0) vs actual: 1 (0x1)")


def test_a_wrong_errno_or_result_fails() -> None:
    r = fails("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
              "+0 listen(3, 1) = 0\n"
              "+0 accept(3, ..., ...) = -1 EBADF (Bad file descriptor)\n")
    # a listener with nothing queued, blocking: accept() waits (packetdrill would wait
    # forever); made non-blocking it is EAGAIN
    assert r.error == ("bad.pkt:3: a call blocks and nothing in the script wakes it (waited "
                       "600 s of script time)")
    r = fails("0 socket(..., SOCK_STREAM|SOCK_NONBLOCK, IPPROTO_TCP) = 3\n"
              "+0 listen(3, 1) = 0\n"
              "+0 accept(3, ..., ...) = -1 EBADF (Bad file descriptor)\n")
    assert r.error == ("bad.pkt:3: runtime error in accept call: Expected errno 9 (Bad file "
                       "descriptor) but got 11 (Resource temporarily unavailable)")
    r = fails("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 listen(3, 1) = 1\n")
    assert r.error == ("bad.pkt:2: runtime error in listen call: Expected result 1 but got 0 "
                       "with errno 0 (Success)")


def test_a_late_packet_fails_with_a_timing_error() -> None:
    r = fails(PASSIVE + "  +.5 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 10>\n")
    assert r.error == ("bad.pkt:6: timing error: expected outbound packet at 0.500000 sec but "
                       "happened at 0.000000 sec; tolerance 0.062500 sec")
    # and one that never comes: the SYN-ACK's retransmission is 1 s later, not 0.1 s
    r = fails(PASSIVE + "   +0 > S. 0:0(0) ack 1 <...>\n"
              "  +.1 > S. 0:0(0) ack 1 <...>\n")
    assert r.error.startswith("bad.pkt:7: timing error: expected outbound packet at "
                              "0.100000 sec but happened at 1.0")


def test_a_failing_code_block_fails_the_script_after_the_run() -> None:
    r = fails(PASSIVE + "   +0 > S. 0:0(0) ack 1 <...>\n"
              "  +.1 < . 1:1(0) ack 1 win 100\n"
              "   +0 accept(3, ..., ...) = 4\n"
              "   +0 %{ assert tcpi_state == TCP_CLOSE, tcpi_state }%\n")
    assert r.error == "bad.pkt:9: error in Python code: AssertionError: 1"


def test_unsupported_constructs_name_themselves() -> None:
    r = fails("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 getsockname(3, ..., ...) = 0\n")
    assert r.error == "bad.pkt:2: Unknown system call: 'getsockname'"
    r = fails("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
              "+0 sendto(3, ..., 100, MSG_FASTOPEN, ..., ...) = 100\n")
    assert r.error == "bad.pkt:2: TCP Fast Open is not implemented in tuxtcp"
    r = fails("0 `modprobe tcp_bbr`\n")
    assert r.error == "bad.pkt:1: shell command 'modprobe' (in 'modprobe tcp_bbr')"
    r = fails(PASSIVE + "   +0 < udp (100)\n")
    assert r.error == "bad.pkt:6: UDP packets are not supported by target tuxtcp (TCP only)"


def test_a_script_that_needs_fast_open_says_so() -> None:
    r = fails(PASSIVE.replace("<mss 1000,nop,wscale 7>", "<mss 1000,nop,wscale 7,FO abcd1234>")
              + "   +0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7,FO abcd1234,nop,nop>\n")
    assert r.error.endswith("(the script uses TCP Fast Open, which tuxtcp does not implement)")


def test_shell_lines_become_sysctl_writes() -> None:
    ns = Namespace("sh", ["198.18.0.1"])
    sh = Shell(ns.sysctl, ns.tcp_metrics, Path("."))
    get_metrics(ns, 1, 2, True)
    sh.run('sysctl -q net.ipv4.tcp_rmem="4096 $((4*1024)) $((15*1024*1024))"  # comment\n'
           "ip tcp_metrics flush all > /dev/null 2>&1\n"
           "sysctl -q net.ipv4.tcp_congestion_control=cubic\n"
           "tc qdisc add dev tun0 root pfifo\n"
           "sysctl -q net.ipv4.tcp_fastopen=0x70403\n"
           "set_sysctls.py /proc/sys/net/ipv4/tcp_timestamps=0 \\\n"
           "  /proc/sys/net/ipv4/tcp_sack=0\n")
    assert ns.sysctl["net.ipv4.tcp_rmem"] == (4096, 4096, 15728640)
    assert ns.sysctl["net.ipv4.tcp_timestamps"] == 0 and ns.sysctl["net.ipv4.tcp_sack"] == 0
    assert ns.sysctl["net.ipv4.tcp_fastopen"] == 0x70403  # proc_dointvec reads any base
    assert ns.tcp_metrics == {}
    assert ns.sysctl["net.ipv4.tcp_congestion_control"] == "cubic" and sh.unmodelled == {}
    sh.run("sysctl -q net.ipv4.tcp_congestion_control=bbr\n")  # the kernel's; not tuxtcp's
    assert sh.unmodelled == {"net.ipv4.tcp_congestion_control=bbr": "tuxtcp has reno and cubic; "
                                                                    "cubic stays"}
    with pytest.raises(CommandFailed):  # ENOENT, as the kernel answers
        sh.run("sysctl -q net.ipv4.tcp_congestion_control=nosuch\n")
    with pytest.raises(UnsupportedCommand):
        sh.run("iptables -A INPUT -j DROP")


# The shared corpus: every Linux-passing script outside Fast Open, and what tuxtcp lacks for
# the ones it does not pass yet (the test fails when one of these starts passing, so the list
# stays true).
NOT_YET: dict[str, str] = {}


def corpus_goal(fast_open: bool = False) -> list[str]:
    assert CORPUS is not None
    rows = [line.split("\t") for line in
            (CORPUS / "linux-6.18-results.tsv").read_text().splitlines()[1:]]
    return [f"{r[0].replace('/', '+')}/{r[1]}" for r in rows
            if r[3] == "pass" and ("fastopen" in r[1]) == fast_open]


# Fast Open scripts the interpreter does not yet run as packetdrill does on the kernel
KERNEL_FO_NOT_YET: dict[str, str] = {}


@pytest.mark.skipif(CORPUS is None, reason="the shared packetdrill corpus is not here "
                    "(set TUXTCP_PACKETDRILL_CORPUS to its folder)")
@pytest.mark.root
def test_the_fast_open_corpus_on_the_kernel(netns_ok: None) -> None:
    assert CORPUS is not None
    goal = corpus_goal(fast_open=True)
    assert len(goal) == 63
    results = {rel: run_script(CORPUS / rel, "kernel", DEFINES, []) for rel in goal}
    failing = {rel for rel, r in results.items() if not r.passed}
    assert failing == set(KERNEL_FO_NOT_YET), {
        rel: results[rel].error for rel in failing ^ set(KERNEL_FO_NOT_YET)}


@pytest.mark.skipif(CORPUS is None, reason="the shared packetdrill corpus is not here "
                    "(set TUXTCP_PACKETDRILL_CORPUS to its folder)")
@pytest.mark.root
def test_the_shared_corpus_on_the_kernel(netns_ok: None) -> None:
    # every Linux-passing script passes on target kernel, or the interpreter is wrong (a
    # timing error is tried again: the kernel's timers run in real time on a busy machine)
    assert CORPUS is not None
    results = {rel: run_script(CORPUS / rel, "kernel", DEFINES, []) for rel in corpus_goal()}
    failing = {rel: r.error for rel, r in results.items() if not r.passed}
    assert failing == {}


@pytest.mark.skipif(CORPUS is None, reason="the shared packetdrill corpus is not here "
                    "(set TUXTCP_PACKETDRILL_CORPUS to its folder)")
def test_the_shared_corpus_on_tuxtcp() -> None:
    assert CORPUS is not None
    goal = corpus_goal()
    assert len(goal) == 42
    results = {rel: run_tuxtcp(parse_file(CORPUS / rel, DEFINES)) for rel in goal}
    failing = {rel for rel, r in results.items() if not r.passed}
    assert failing == set(NOT_YET), {rel: results[rel].error for rel in failing ^ set(NOT_YET)}


def test_the_command_prints_a_summary_per_folder_and_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.pkt"
    bad.write_text(PASSIVE + "   +0 > S. 0:0(0) ack 1 <mss 1400,nop,wscale 7>\n")
    good = OWN[0]
    assert packetdrill([str(good), str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"PASS [tuxtcp] {good} (")
    assert out[1].startswith(f"FAIL [tuxtcp] {bad} (")
    assert out[2] == f"  {bad}:6: error handling packet: bad value outbound TCP option 2"
    table = out[out.index(next(x for x in out if x.startswith("folder"))):]
    rows = {x.split()[0]: x.split()[1:] for x in table[1:4]}
    assert rows == {str(good.parent): ["1", "1"], str(tmp_path): ["1", "0"], "all": ["2", "1"]}
    assert packetdrill(["--json", str(good)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["script"], row["target"], row["passed"]) == (str(good), "tuxtcp", True)


@pytest.mark.root
def test_a_script_named_by_a_relative_path_finds_its_helpers(netns_ok: None, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    # the init command runs in the script's folder; a helper found there (without its
    # execute bit, as in the read-only corpus) is handed to its interpreter by a path that
    # must not be relative to that folder a second time
    folder = tmp_path / "scripts"
    folder.mkdir()
    # (the SYN-ACK's wscale 7 shows it ran: the default tcp_rmem gives 10)
    (folder / "setup.sh").write_text('sysctl -q net.ipv4.tcp_rmem="4096 131072 6291456"\n')
    (folder / "s.pkt").write_text("`setup.sh`\n" + PASSIVE.lstrip("\n")
                                  + "   +0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>\n")
    monkeypatch.chdir(tmp_path)
    r = run_script(Path("scripts/s.pkt"), "kernel", {}, [])
    assert r.passed, r.error


@pytest.mark.root
def test_a_kernel_run_leaves_no_sysctl_restore_script(netns_ok: None, tmp_path: Path) -> None:
    # packetdrill's convention (set_sysctls.py): a helper writes the commands that undo its
    # sysctl writes to /tmp/sysctl_restore_${PACKETDRILL_PID}.sh, the script runs it last;
    # the namespace they were written in is gone after the run, and so must the file be
    (tmp_path / "setup.sh").write_text(
        'echo "echo 1 > /proc/sys/net/ipv4/tcp_timestamps" '
        '> /tmp/sysctl_restore_${PACKETDRILL_PID}.sh\n'
        'echo 0 > /proc/sys/net/ipv4/tcp_timestamps\n')
    (tmp_path / "s.pkt").write_text(
        "`setup.sh`\n"
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
        "+0 `sh /tmp/sysctl_restore_${PPID}.sh`\n")
    before = set(Path("/tmp").glob("sysctl_restore_*.sh"))
    r = run_script(tmp_path / "s.pkt", "kernel", {}, [])
    assert r.passed, r.error
    assert set(Path("/tmp").glob("sysctl_restore_*.sh")) == before


# Own scripts with the mechanism they pin switched off by a sysctl: each must then fail, the
# way the kernel would fail it (the sixth packet, the cwnd, the REO timer come otherwise)
WITHOUT = [
    # cwnd stays 20 over the idle second, so the write's sixth packet leaves at once (1.2 s)
    # where the script (and the kernel, checked) has it wait for the ACK a round trip later
    ("slow-start-after-idle.pkt", "net.ipv4.tcp_slow_start_after_idle=0",
     "expected outbound packet at 1.300000 sec but happened at 1.200000 sec"),
    # a zero window opening after the idle RTO: without the restart cwnd stays 20
    ("slow-start-after-idle-window.pkt", "net.ipv4.tcp_slow_start_after_idle=0",
     "AssertionError: (20, 2147483647)"),
    # no cut for the application-limited period: the write after it may send 20 segments, so
    # the sixteenth leaves at once, not after the ACK a round trip later
    ("cwnd-application-limited.pkt", "net.ipv4.tcp_slow_start_after_idle=0",
     "expected outbound packet at 0.650000 sec but happened at 0.550000 sec"),
    # TCP_RACK_STATIC_REO_WND: the D-SACK does not widen RACK's window, so the last hole is
    # resent one step after its SACK (on the wheel's tick, 32 ms here), not two
    ("rack-reo-wnd-dsack.pkt", "net.ipv4.tcp_recovery=3",
     "expected outbound packet in relative time range +0.052000~+0.056000 sec but happened "
     "at +0.032000 sec"),
    # a divisor of 6 makes one segment a sixth of cwnd 6: that share goes at once, so the
    # second ACK's segment is not held back and the next two leave one by one, the first
    # without PSH (packetdrill checks the TCP_INFO block only at the script's end)
    ("tso-defer-cwnd.pkt", "net.ipv4.tcp_tso_win_divisor=6",
     "live packet field tcp_psh: expected: 1 (0x1) vs actual: 0 (0x0)\n"
     "script packet:  0.412000 P. 21001:23001(2000)"),
]


@pytest.mark.parametrize(("name", "sysctl", "error"), WITHOUT, ids=[w[0] for w in WITHOUT])
def test_without_the_mechanism_the_script_fails(name: str, sysctl: str, error: str) -> None:
    text = (Path(__file__).parent / "packetdrill" / name).read_text()
    text = text.replace("net.ipv4.tcp_timestamps=0", f"net.ipv4.tcp_timestamps=0 {sysctl}", 1)
    assert sysctl in text
    r = run_tuxtcp(parse_text(text, name))
    assert error in r.error, r.error
