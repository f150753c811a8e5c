"""Delivery rate sampling (tcp_rate.c, tcp/rate.py) on the simulated link: what TCP_INFO's
tcpi_delivery_rate reports is the bottleneck's rate once the sender fills the pipe, and an
application that writes little is flagged application-limited."""

import contextlib
import socket

import pytest

import tuxtcp
from states import connected


def _sender(rate: float) -> tuple[tuxtcp.World, tuxtcp.Socket, tuxtcp.Socket]:
    w = tuxtcp.World(seed=3)
    srv, cli = w.host("srv", "198.18.0.1"), w.host("cli", "198.18.0.2")
    w.link(srv, cli, delay=0.005, rate=rate, queue=10_000)
    _, c, conn = connected(srv, cli)
    return w, c, conn


@pytest.mark.parametrize("mbit", [10, 50])
def test_a_bulk_sender_measures_the_bottleneck(mbit: int) -> None:
    w, c, conn = _sender(mbit * 1e6)
    c.setblocking(False)
    conn.setblocking(False)
    data = bytes(4 << 20)
    sent = got = 0
    for _ in range(200_000):
        while sent < len(data):
            try:
                sent += c.send(data[sent:sent + (1 << 20)])
            except BlockingIOError:
                break
        with contextlib.suppress(BlockingIOError):
            got += len(conn.recv(1 << 20, socket.MSG_DONTWAIT))
        if got == len(data):
            break
        w.run(0.001)
    assert got == len(data)
    w.run(0.1)  # the last ACKs come back
    info = c.tcp_info()
    payload_rate = mbit * 1e6 / 8 * 1448 / (1448 + 52)  # bytes/s of payload on the wire
    assert abs(info.tcpi_delivery_rate - payload_rate) <= 0.05 * payload_rate, (
        info.tcpi_delivery_rate, payload_rate)
    assert info.tcpi_delivered == info.tcpi_data_segs_out + 1  # every segment and the SYN
    assert info.tcpi_bytes_sent == len(data) and info.tcpi_bytes_retrans == 0


def test_a_small_writer_is_application_limited() -> None:
    w, c, conn = _sender(10e6)
    for _ in range(5):
        c.send(b"x" * 100)
        w.run(0.05)
        assert conn.recv(1000) == b"x" * 100
    info = c.tcp_info()
    assert info.tcpi_delivery_rate_app_limited == 1
    # one segment per round trip (10 ms and the link's 80 us per 100 bytes), counted as the
    # kernel counts it: delivered segments times the MSS (1448), not the bytes they held
    assert 1448 / 0.0102 <= info.tcpi_delivery_rate <= 1448 / 0.01
    # the SYN and five writes delivered; the SYN, the handshake's ACK and five writes sent
    assert (info.tcpi_delivered, info.tcpi_segs_out, info.tcpi_data_segs_out) == (6, 7, 5)
