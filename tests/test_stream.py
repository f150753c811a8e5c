"""The byte stream: every byte arrives intact through loss, reordering and duplication."""

import hashlib
import random
import socket

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tuxtcp
from states import pair
from tuxtcp.net.namespace import NetNamespace


def transfer(size: int, loss: float = 0.0, reorder: float = 0.0, duplicate: float = 0.0,
             seed: int = 1, chunk: int = 65536, isn: int | None = None,
             sack: bool = True, recv_size: int = 1 << 20, lossy_handshake: bool = False,
             cc: str = "cubic") -> tuple[bytes, bytes, tuxtcp.Host, tuxtcp.Host]:
    # the handshake crosses a clean link unless asked; the loss, reordering and duplication
    # start with the transfer. (A lossy handshake can fail for good, on the kernel too: every
    # ACK of the client lost, the server gives up after tcp_synack_retries while the client,
    # established and silent, never sends again, so accept() waits forever. Hypothesis found
    # such a seed.)
    bad = (loss, reorder, duplicate) if lossy_handshake else (0.0, 0.0, 0.0)
    w, srv, cli = pair(seed, "wheel", delay=0.001, loss=bad[0], reorder=bad[1],
                       duplicate=bad[2])
    if not sack:
        cli.sysctl["net.ipv4.tcp_sack"] = 0
    for host in (srv, cli):
        host.sysctl["net.ipv4.tcp_congestion_control"] = cc
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(5)
    c = cli.socket()
    c.settimeout(3600)
    if isn is not None:
        cli.ns.clock.realtime0_ns = 0  # so the ISN is the hash part only; then force it below
    c.setblocking(False)
    c.connect_ex(("198.18.0.1", 80))
    if isn is not None:
        sk = c.sk
        # move the whole connection to an ISN near 2**32 before the SYN-ACK comes back
        delta = (isn - sk.iss) & 0xFFFFFFFF
        sk.iss = isn
        sk.snd_una = isn
        sk.snd_nxt = sk.write_seq = (isn + 1) & 0xFFFFFFFF
        sk.rtx_queue[0].seq = isn
        sk.rtx_queue[0].end = (isn + 1) & 0xFFFFFFFF
        cli.ns.outbox.clear()
        w._events.clear()
        from tuxtcp.tcp.output import transmit
        from tuxtcp.wire.tcp import SYN

        transmit(sk, SYN, isn, b"", w.clock)
        w.kick(cli.ns)
        assert delta >= 0
    # a blocking connect() waits for the handshake started above (with a timeout, CPython
    # would wait only for a connect that started in that call: EALREADY, as on Linux)
    c.settimeout(None)
    assert c.connect_ex(("198.18.0.1", 80)) == 0
    c.settimeout(3600)
    conn, _ = ls.accept()
    conn.settimeout(3600)
    link = cli._links_to[srv]
    link.params.loss, link.params.reorder, link.params.duplicate = loss, reorder, duplicate
    rng = random.Random(seed)
    data = rng.randbytes(size)
    view = memoryview(data)
    got = bytearray()
    sent = 0
    c.setblocking(False)
    for _ in range(10_000_000):
        while sent < size:
            try:
                sent += c.send(view[sent:sent + chunk])
            except BlockingIOError:
                break
            if sent == size:
                c.shutdown(socket.SHUT_WR)
        while True:
            try:
                piece = conn.recv(recv_size, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            if not piece:
                if isn is not None:
                    assert c.tcp_info().snd_una < isn  # the sequence space wrapped past 2**32
                return data, bytes(got), srv, cli
            got += piece
        w.run(0.005)
    raise AssertionError("transfer did not finish")


@pytest.mark.parametrize("size", [1 << 20, 10 << 20])
@pytest.mark.parametrize("loss", [0.0, 0.01, 0.1])
@pytest.mark.parametrize("cc", ["reno", "cubic"])
def test_bulk_transfer_intact(size: int, loss: float, cc: str) -> None:
    data, got, srv, cli = transfer(size, loss=loss, reorder=0.01, duplicate=0.01, cc=cc)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    if loss:
        assert cli.counters["Tcp.RetransSegs"] > 0


@pytest.mark.parametrize("loss", [0.0, 0.01, 0.1])
def test_100mib(loss: float) -> None:
    data, got, _, _ = transfer(100 << 20, loss=loss, reorder=0.01, duplicate=0.01,
                               chunk=1 << 20)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


def test_without_sack_too() -> None:
    data, got, _, cli = transfer(1 << 20, loss=0.05, sack=False)
    assert got == data
    assert cli.counters["TCPRenoRecovery"] + cli.counters["TCPTimeouts"] > 0


def test_sack_recovery_used_under_loss() -> None:
    _, _, srv, cli = transfer(2 << 20, loss=0.02)
    assert cli.counters["TCPSackRecovery"] > 0 and cli.counters["TCPFastRetrans"] > 0
    assert srv.counters["TCPOFOQueue"] > 0


def test_a_receiver_short_of_memory_collapses_before_it_prunes() -> None:
    # the same one-byte transfer (one-byte segments: truesize many times the data): over
    # rcvbuf, tcp_prune_queue collapses the receive queue into dense skbs (TCPRcvCollapsed)
    # before anything destructive; this run needs no out-of-order pruning at all (before
    # collapsing was modelled it pruned, and the sender met a reneging receiver: that case is
    # tests/packetdrill/sack-reneging.pkt, on both targets)
    # (which seeds run short depends on the sender's packets: since TSO deferral, 10022813's
    # no longer does; 3 collapses 115 times)
    data, got, srv, cli = transfer(300_000, reorder=0.05, duplicate=0.02, seed=3,
                                   chunk=1, recv_size=1, lossy_handshake=True, cc="reno")
    assert got == data
    assert srv.counters["TCPRcvCollapsed"] >= 1 and srv.counters["OfoPruned"] == 0


def test_sequence_wraparound_10mib() -> None:
    data, got, _, _ = transfer(10 << 20, loss=0.01, isn=0xFFFFFFFF - 5000)
    assert got == data


@given(st.integers(0, 2**31), st.floats(0.0, 0.2), st.integers(1, 70000),
       st.integers(1, 100000))
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
# one-byte writes and reads: the receiver's truesize-charged buffer fills with out-of-order
# data and is pruned (OfoPruned), reneging on SACKed data; without tcp_timeout_mark_lost's
# reneging case the sender waited forever with a SACKed head
@example(seed=10022813, loss=0.0, chunk=1, recv_size=1)
@example(seed=269691, loss=0.125, chunk=1, recv_size=1)  # every handshake ACK was lost
def test_random_loss_and_sizes(seed: int, loss: float, chunk: int, recv_size: int) -> None:
    data, got, _, _ = transfer(300_000, loss=loss, reorder=0.05, duplicate=0.02, seed=seed,
                               chunk=chunk, recv_size=recv_size)
    assert got == data


def test_default_congestion_control_is_cubic() -> None:
    """Linux's built-in default (CONFIG_DEFAULT_TCP_CONG), and the lists /proc shows."""
    sysctl = NetNamespace("cc").sysctl
    assert sysctl["net.ipv4.tcp_congestion_control"] == "cubic"
    assert sysctl.render("net.ipv4.tcp_available_congestion_control") == "reno cubic"
