"""Which ACK gives an RTT sample (tcp_input.c: tcp_clean_rtx_queue, tcp_sacktag_one,
tcp_ack_update_rtt, tcp_rtt_tsopt_us).

- The sequence sample is timed from the oldest newly acknowledged segment that was sent once
  and not SACKed earlier (first_ackt). An ACK covering any retransmitted segment gives none
  (Karn, FLAG_RETRANS_DATA_ACKED): the backed-off RTO stays as it is.
- Without a sequence sample, a SACK sample (the oldest newly SACKed segment sent once), else,
  for an ACK that moves snd_una, the timestamp echo in whole milliseconds (at least 1).
- Only a valid sample resets the backoff.

Before this, a segment sent once but acknowledged only after a hole below it had been repaired
by RTO gave a sample of the whole repair time: under 10% loss the RTO climbed to TCP_RTO_MAX
and a 100 MiB transfer was given up (tests/test_stream.py::test_100mib). The root test runs
the Karn case on the host kernel.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

import states as S
from tuxtcp.host.netns import veth_pair
from tuxtcp.wire.tcp import ACK


def nodelay() -> S.Conn:
    """An established connection (active open) that sends small segments at once (no Nagle),
    the peer without timestamps."""
    c = S.established_active()
    c.h.sysctl["net.ipv4.tcp_early_retrans"] = 0  # RTOs only, as the root test runs
    c.take()
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.ts_base = None
    return c


def retransmitted_twice() -> S.Conn:
    """100 bytes sent at 1.0 s to a silent peer: RTO retransmissions at 1.2 and 1.6 s
    (backoff 2, RTO 0.8 s). The first RTT sample of the connection is still to come (the
    handshake's SYN-ACK came back at once: srtt 0)."""
    c = S.established_active()
    c.h.sysctl["net.ipv4.tcp_early_retrans"] = 0  # RTOs only, as the root test runs
    c.take()
    c.h.advance(1.0)
    c.sock.send(b"x" * 100)
    assert [len(p.seg.payload) for p in c.take()] == [100]
    assert [(t, len(p.seg.payload)) for t, p in c.advance(1.6)] == [(1.2, 100), (1.6, 100)]
    i = c.sock.tcp_info()
    assert (i.tcpi_backoff, i.tcpi_rto, i.tcpi_retransmits) == (2, 800_000, 2)
    return c


def test_ack_of_retransmitted_data_without_timestamps_gives_no_sample() -> None:
    c = retransmitted_twice()
    c.ts_base = None  # the peer's ACK carries no timestamp: nothing to time it by
    assert c.send(ACK, ack=c.nxt) == []
    i = c.sock.tcp_info()
    # Karn: the RTO stays backed off until a valid sample; retransmits is reset by the ACK
    assert (i.tcpi_backoff, i.tcpi_rto, i.tcpi_retransmits, i.tcpi_rtt) == (2, 800_000, 0, 0)
    # the next segment is timed with the backed-off RTO: its retransmission comes 0.8 s later
    c.sock.send(b"y" * 10)
    c.take()
    t0 = c.h.now
    assert [(round(t - t0, 6), len(p.seg.payload)) for t, p in c.advance(t0 + 0.9)] == [
        (0.8, 10)]


def test_ack_of_retransmitted_data_is_timed_by_the_timestamp_echo() -> None:
    c = retransmitted_twice()
    # the peer echoes the retransmission's TSval (it updated ts_recent from it), at once: a
    # 0 ms echo counts as 1 ms (tcp_rtt_tsopt_us), and the backoff is reset
    assert c.send(ACK, ack=c.nxt) == []
    i = c.sock.tcp_info()
    assert (i.tcpi_backoff, i.tcpi_retransmits, i.tcpi_rtt, i.tcpi_rttvar) == (0, 0, 1000, 500)
    assert i.tcpi_rto == 201_000  # srtt + max(4 * rttvar, 200 ms)


def test_the_oldest_newly_acked_segment_times_the_sample() -> None:
    c = nodelay()
    c.h.advance(1.0)
    c.sock.send(b"a" * 100)
    assert [len(p.seg.payload) for p in c.take()] == [100]
    c.h.advance(1.05)
    c.sock.send(b"b" * 100)
    assert [len(p.seg.payload) for p in c.take()] == [100]
    c.h.advance(1.15)
    c.send(ACK, ack=c.nxt)  # both at once: first_ackt is the one sent at 1.0 s
    assert c.sock.tcp_info().tcpi_rtt == 150_000


def test_a_segment_sacked_earlier_gives_no_sample_when_cumulatively_acked() -> None:
    # a handshake of 100 ms (a minimum RTT RACK's reordering window is a quarter of)
    c = S.syn_sent()
    c.h.advance(0.1)
    c.send(S.SYN | ACK, window=65160, mss=1460, wscale=7, sack_perm=True)
    assert c.sock.connect_ex((S.PEER, S.PEER_PORT)) == 0
    c.ts_base = None
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.take()
    c.h.advance(1.0)
    c.sock.send(b"a" * 100)
    c.sock.send(b"b" * 100)
    sent = c.take()
    assert [len(p.seg.payload) for p in sent] == [100, 100]
    una = sent[0].seg.seq
    # at 1.05 s the peer SACKs the second segment (the first is missing): the SACK sample
    c.h.advance(1.05)
    c.send(ACK, ack=una, sack=((una + 100, una + 200),))
    srtt = 0.875 * 0.1 + 0.125 * 0.05
    assert c.sock.tcp_info().tcpi_rtt == round(srtt * 1e6)
    # at 1.06 s, inside RACK's reordering window (min_rtt / 4: it would resend the first at
    # 1.066 s), the first arrives late and both are acknowledged; the sequence sample is the
    # first segment's (0.06 s), not the SACKed one's
    c.h.advance(1.06)
    assert c.take() == []
    c.send(ACK, ack=una + 200)
    srtt = 0.875 * srtt + 0.125 * 0.06
    assert c.sock.tcp_info().tcpi_rtt == round(srtt * 1e6)


def test_sample_after_a_hole_repaired_by_rto_is_not_the_repair_time() -> None:
    # no SACK, no timestamps: segment 1 is lost, 2 arrives; segment 1 is retransmitted at
    # +0.2 s and acknowledged with 2 at +0.5 s. That ACK covers retransmitted data: no sample
    # (before, segment 2 gave one of 0.5 s)
    c = nodelay()
    c.h.advance(1.0)
    c.sock.send(b"a" * 100)
    c.sock.send(b"b" * 100)
    assert [len(p.seg.payload) for p in c.take()] == [100, 100]
    assert [len(p.seg.payload) for _, p in c.advance(1.2)] == [100]  # the head again
    c.h.advance(1.5)
    c.send(ACK, ack=c.nxt)
    i = c.sock.tcp_info()
    assert (i.tcpi_rtt, i.tcpi_backoff, i.tcpi_rto) == (0, 1, 400_000)


# --- the Karn case on the host kernel ------------------------------------------------------
CLIENT = r'''
import json, socket, struct, sys, time
s = socket.create_connection(("198.18.0.2", 7000), timeout=5)
print("connected", flush=True)
sys.stdin.readline()
s.send(b"x" * 100)
sys.stdin.readline()
t0 = time.monotonic()
info = b""
while time.monotonic() - t0 < 5:
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    if struct.unpack_from("I", info, 24)[0] == 0:  # tcpi_unacked
        break
    time.sleep(0.01)
rto, = struct.unpack_from("I", info, 8)
unacked, = struct.unpack_from("I", info, 24)
print(json.dumps({"retransmits": info[2], "backoff": info[4], "rto": rto,
                  "unacked": unacked}), flush=True)
'''
SERVER = ("import socket, time\n"
          "l = socket.socket(); l.bind(('198.18.0.2', 7000)); l.listen()\n"
          "c, _ = l.accept(); time.sleep(20)\n")


def kernel_karn(timestamps: int) -> dict[str, int]:
    """The client's 100 bytes reach the server but its ACKs are blackholed for 0.3 s: the RTO
    retransmission at about 0.2 s is lost the same way, the one at about 0.6 s is answered.
    TCP_INFO once everything is acknowledged."""
    with veth_pair() as (a, b):
        a.sysctl("net.ipv4.tcp_early_retrans", 0)  # no loss probe: RTOs only, as above
        a.sysctl("net.ipv4.tcp_timestamps", timestamps)
        procs = [b.popen(sys.executable, "-c", SERVER)]
        try:
            time.sleep(0.3)
            cli = subprocess.Popen(["ip", "netns", "exec", a.name, sys.executable, "-c", CLIENT],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            procs.append(cli)
            assert cli.stdout is not None and cli.stdin is not None
            assert cli.stdout.readline().strip() == "connected"
            b.run("ip", "route", "add", "blackhole", "198.18.0.1/32")
            cli.stdin.write("send\n")
            cli.stdin.flush()
            time.sleep(0.3)
            b.run("ip", "route", "del", "blackhole", "198.18.0.1/32")
            cli.stdin.write("read\n")
            cli.stdin.flush()
            result: dict[str, int] = json.loads(cli.stdout.readline())
            return result
        finally:
            for p in procs:
                p.kill()
                p.wait(timeout=10)


@pytest.mark.root
@pytest.mark.parametrize("timestamps", [0, 1])
def test_the_host_kernel_takes_the_same_samples(netns_ok: None, timestamps: int) -> None:
    k = kernel_karn(timestamps)
    c = retransmitted_twice()
    if not timestamps:
        c.ts_base = None
    c.send(ACK, ack=c.nxt)
    i = c.sock.tcp_info()
    assert k["unacked"] == 0
    assert (k["retransmits"], k["backoff"]) == (i.tcpi_retransmits, i.tcpi_backoff)
    # the kernel's RTO floor on veth is 204 ms (its rttvar floor plus a tiny srtt), tuxtcp's
    # 200: without timestamps both stay backed off to four times it
    assert i.tcpi_rto * 1.0 <= k["rto"] <= i.tcpi_rto * 1.05
    if not timestamps:
        assert k["rto"] >= 800_000 and i.tcpi_rto == 800_000
