"""Hostile input never crashes the engine: random segments and random bytes at every state."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import Harness
from states import listen, syn_recv, syn_sent
from tuxtcp.wire.tcp import TcpSegment

u32 = st.integers(0, 2**32 - 1)
u16 = st.integers(0, 2**16 - 1)

segments = st.builds(
    lambda sport, dport, seq, ack, flags, win, payload, mss, ws, sp, ts, sack: TcpSegment(
        sport, dport, seq, ack, flags, win, payload, mss=mss, wscale=ws, sack_perm=sp,
        tsval=ts[0] if ts else None, tsecr=ts[1] if ts else 0, sack=sack),
    st.sampled_from([40000, 40001, 40002, 5555]), st.sampled_from([8080, 80, 9]),
    u32, u32, st.integers(0, 255), u16, st.binary(max_size=40),
    st.none() | u16, st.none() | st.integers(0, 255), st.booleans(),
    st.none() | st.tuples(u32, u32),
    st.just(()) | st.lists(st.tuples(u32, u32), min_size=1, max_size=3).map(tuple),
)


def _busy_harness() -> tuple[Harness, list[TcpSegment]]:
    """A listener with a request, an accepted connection, and a client socket in SYN_SENT."""
    h = Harness()
    lst = listen(h, port=8080, backlog=2)
    r = syn_recv(listener=lst)
    r.complete()
    syn_recv(listener=lst, sport=40001)
    syn_sent(h)
    lst.sock.accept()
    assert r.synack is not None
    return h, [r.synack]


@given(st.lists(st.tuples(segments, st.floats(0, 5)), max_size=30))
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_segments_never_crash(events: list[tuple[TcpSegment, float]]) -> None:
    h, _ = _busy_harness()
    for seg, dt in events:
        h.send(seg)
        h.advance(h.now + dt)
    h.advance(h.now + 200)  # every timer runs out without error
    h.ns.run_timers(h.now)


@given(st.lists(st.binary(max_size=80), max_size=20))
@settings(max_examples=300, deadline=None)
def test_random_bytes_never_crash(frames: list[bytes]) -> None:
    h, _ = _busy_harness()
    for f in frames:
        h.ns.receive_bytes(f, h.now)
    received = h.counter("Ip.InReceives")
    assert received >= len(frames)


def test_socket_api_after_close_raises_ebadf() -> None:
    h = Harness()
    s = h.socket()
    s.close()
    for call in (lambda: s.bind(("127.0.0.1", 0)), lambda: s.listen(1),
                 lambda: s.connect(("127.0.0.1", 1)), lambda: s.send(b"x"),
                 lambda: s.recv(1), lambda: s.getsockname()):
        try:
            call()
        except OSError as e:
            assert e.errno == 9
        else:
            raise AssertionError("expected EBADF")
    s.close()  # closing twice is fine, as in Python
    assert s.fileno() == -1
