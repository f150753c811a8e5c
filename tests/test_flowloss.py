"""Loss decided per flow (link/flowloss.py), the simulation's per-flow link, and the kernel
target's userspace relay that decides the same way (simulate/kernel_relay.py)."""

from __future__ import annotations

import socket
import struct
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuxtcp.link.flowloss import FlowLoss
from tuxtcp.sim.scenario import ScenarioSpec
from tuxtcp.simulate.kernel_relay import Relay, relayed
from tuxtcp.wire.ipv4 import ip_to_int

SRV, CLI = "198.18.0.1", "198.18.0.2"
FLOWS = [(ip_to_int(CLI), 40000 + i, ip_to_int(SRV), 8080) for i in range(4)]


def _fates(loss: FlowLoss, order: list[int], per_flow: int) -> dict[int, list[bool]]:
    out: dict[int, list[bool]] = {i: [] for i in range(len(FLOWS))}
    for i in order:
        if len(out[i]) < per_flow:
            out[i].append(loss.lost(*FLOWS[i]))
    return out


@settings(max_examples=60, deadline=None)
@given(st.permutations([i % len(FLOWS) for i in range(4 * 40)]))
def test_a_flows_fates_do_not_depend_on_how_flows_interleave(order: list[int]) -> None:
    in_turn = _fates(FlowLoss(1, 0.3), sorted(order), 40)
    assert _fates(FlowLoss(1, 0.3), order, 40) == in_turn


def test_the_share_lost_is_the_loss_and_the_seed_decides_which() -> None:
    a, b = FlowLoss(1, 0.05), FlowLoss(2, 0.05)
    fa = [a.lost(*FLOWS[0]) for _ in range(40_000)]
    fb = [b.lost(*FLOWS[0]) for _ in range(40_000)]
    assert 0.045 < sum(fa) / len(fa) < 0.055
    assert fa != fb
    assert not any(FlowLoss(1, 0.0).lost(*FLOWS[0]) for _ in range(1000))
    assert all(FlowLoss(1, 1.0).lost(*FLOWS[0]) for _ in range(1000))
    with pytest.raises(ValueError):
        FlowLoss(1, 1.5)


def _tcp(src: str, dst: str, sport: int, dport: int) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, socket.inet_aton(src),
                     socket.inet_aton(dst))
    return ip + struct.pack("!HHIIBBHHH", sport, dport, 0, 0, 0x50, 0x02, 65535, 0, 0)


def test_the_relay_decides_as_the_simulations_link() -> None:
    relay = Relay([SRV], [CLI], delay=0.02, loss=0.3, seed=7)
    ref = FlowLoss(7, 0.3)
    for n in range(200):
        sport = 40000 + n % 3
        want = None if ref.lost(ip_to_int(CLI), sport, ip_to_int(SRV), 8080) else 0.02
        assert relay.decide(_tcp(CLI, SRV, sport, 8080), from_client=True) == want
        want = None if ref.lost(ip_to_int(SRV), 8080, ip_to_int(CLI), sport) else 0.02
        assert relay.decide(_tcp(SRV, CLI, 8080, sport), from_client=False) == want
    assert relay.stats["lost"] + relay.stats["forwarded"] == 400
    # a spoofed SYN skips the link (as injected in the simulation); the SYN-ACK to its
    # source goes nowhere; so do IPv6 and runts
    assert relay.decide(_tcp("198.19.200.1", SRV, 5555, 8080), from_client=True) == 0.0
    assert relay.decide(_tcp(SRV, "198.19.200.1", 8080, 5555), from_client=False) is None
    assert relay.decide(b"\x60" + bytes(39), from_client=True) is None
    assert relay.decide(b"\x45", from_client=True) is None
    assert relay.stats["spoofed"] == 1 and relay.stats["discarded"] == 3


def test_the_relay_names_each_delivered_packet_by_flow_and_index() -> None:
    # what link_lags keys a packet's lag by: the same index FlowLoss gives the simulation's
    # link (-1 there for a lost packet, and the relay names none)
    relay = Relay([SRV], [CLI], delay=0.02, loss=0.3, seed=7)
    ref = FlowLoss(7, 0.3)
    for _ in range(50):
        n = ref.take(ip_to_int(CLI), 40000, ip_to_int(SRV), 8080)
        after = relay.decide(_tcp(CLI, SRV, 40000, 8080), from_client=True)
        assert (after is None) == (n < 0)
        assert relay.last == (None if n < 0 else
                              (ip_to_int(CLI), 40000, ip_to_int(SRV), 8080, n))
    relay.decide(b"\x60" + bytes(39), from_client=True)
    assert relay.last is None


def test_link_lags_pair_the_relays_reads_with_the_kernels_queueings() -> None:
    from tuxtcp.simulate.kernel import link_lags

    c, s = ip_to_int(CLI), ip_to_int(SRV)
    reads = [
        [1, 60, 0.9],  # read before the trace began: no queueing of its own
        [1, 60, 1.000040, 1.020050, c, 40000, s, 8080, 0],  # SYN: queued at 1.000010
        [0, 60, 1.020100, 1.040300, s, 8080, c, 40000, 0],  # SYN-ACK: queued at 1.020080
        [1, 52, 1.040400],  # an IPv6 packet: read, not delivered
        [1, 52, 1.040400, 1.060421, c, 40000, s, 8080, 1],  # ACK, read in the same batch
        [1, 40, 2.0, None, c, 40000, s, 8080, 2],  # still in flight at the end
    ]
    queued = [[(1.020080, 60)],
              [(0.95, 90), (1.000010, 60), (1.040390, 52), (1.040401, 52), (2.0, 40)]]
    # the kernel took the SYN in 6 us into its write, the SYN-ACK's reception was not
    # traced (the write's own instant stands), the ACK 3 us in; one packet it took in
    # before the relay wrote anything of that length there is no write's
    received = [[(1.020056, 60), (1.060424, 52)], [(1.040250, 60)]]
    lags = {(a, ap, b, bp, n): (lag, sent) for a, ap, b, bp, n, lag, sent in
            link_lags(reads, queued, received, 0.02, 1.0)}
    assert lags == {(c, 40000, s, 8080, 0): (pytest.approx(0.000046), pytest.approx(0.00001)),
                    (s, 8080, c, 40000, 0): (pytest.approx(0.00022), pytest.approx(0.02008)),
                    (c, 40000, s, 8080, 1): (pytest.approx(0.000023),
                                             pytest.approx(0.040401))}


def test_a_replayed_link_delivers_each_packet_as_late_as_recorded_in_order() -> None:
    from tuxtcp.link.memory import Link, LinkParams

    flow = (ip_to_int(CLI), 40000, ip_to_int(SRV), 8080)
    back = (ip_to_int(SRV), 8080, ip_to_int(CLI), 40000)
    link = Link("cli", "srv", LinkParams(delay=0.02, per_flow=True), seed=1,
                lags={(*flow, 0): (0.0003, 0.5), (*flow, 1): (0.0001, 0.5),
                      (*back, 0): (0.002, 0.5)})
    assert not link.plain
    assert link.arrivals(1.0, src="cli", flow=flow) == [pytest.approx(1.0203)]
    # the next one was less late, but a relay delivers one way in order: not before it
    assert link.arrivals(1.00005, src="cli", flow=flow) == [pytest.approx(1.0203)]
    assert link.arrivals(1.001, src="cli", flow=flow) == [pytest.approx(1.021)]  # no lag
    assert link.arrivals(1.0, src="srv", flow=back) == [pytest.approx(1.022)]  # other way
    assert Link("cli", "srv", LinkParams(delay=0.02, per_flow=True)).plain


def test_a_replayed_packet_sent_with_its_recorded_one_arrives_when_that_one_did() -> None:
    # the kernel sent it at 1.000030 (its answer to a packet it had taken in 30 us before,
    # which the simulation answers at once) and took it in at 1.020080; sent at 1.0 here, it
    # arrives then too, where its lag alone would bring it 30 us early. One sent more than
    # REPLAY_SAME_S off its recording's instant (a step apart) keeps only the lag.
    from tuxtcp.link.memory import REPLAY_SAME_S, Link, LinkParams

    flow = (ip_to_int(CLI), 40000, ip_to_int(SRV), 8080)
    lags = {(*flow, 0): (0.00005, 1.000030), (*flow, 1): (0.00005, 1.000030)}
    link = Link("cli", "srv", LinkParams(delay=0.02, per_flow=True), seed=1, lags=lags)
    assert link.arrivals(1.0, src="cli", flow=flow) == [pytest.approx(1.020080)]
    late = Link("cli", "srv", LinkParams(delay=0.02, per_flow=True), seed=1, lags=lags)
    at = 1.000030 + 2 * REPLAY_SAME_S
    assert late.arrivals(at, src="cli", flow=flow) == [pytest.approx(at + 0.02005)]


def test_a_scenario_is_relayed_when_a_veth_cannot_give_its_link() -> None:
    assert not relayed(ScenarioSpec(delay=0.0005))
    assert relayed(ScenarioSpec(delay=0.02))
    assert relayed(ScenarioSpec(delay=0.0005, loss=0.01))


def test_the_scenario_link_loses_a_clients_packets_whatever_the_others_send() -> None:
    from tuxtcp.sim.scenario import run_scenario

    base = dict(clients=30, arrival="poisson", rate=50.0, backlog=128, workers=2,
                service_time=0.002, loss=0.1, delay=0.02, duration=10.0, uptime0=987.0)
    full = run_scenario(ScenarioSpec(**base))  # type: ignore[arg-type]
    # the same clients, from the same ports, with every other one left out
    half = run_scenario(ScenarioSpec(**{
        **base, "clients": 15, "replay_starts": [c.start for c in full.clients[::2]],
        "replay_ports": [c.port for c in full.clients[::2]]}))  # type: ignore[arg-type]
    for a, b in zip(full.clients[::2], half.clients, strict=True):
        assert (a.syn_retrans, a.synack_retrans) == (b.syn_retrans, b.synack_retrans)
    assert any(c.syn_retrans for c in full.clients)  # some SYNs were lost


@pytest.mark.root
def test_the_kernel_link_delays_and_loses_as_asked(netns_ok: None, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two namespaces joined by the relay: a connect takes the round trip the spec asks for;
    with every packet lost nothing gets through, and the relay says so. Its pcap holds what
    it read, the lost packets too: the handshake, or the client's SYN and its resend."""
    import dpkt

    from tuxtcp.simulate.kernel import two_hosts

    for loss, expect in ((0.0, True), (1.0, False)):
        spec = ScenarioSpec(delay=0.05, loss=loss, duration=5.0)
        pcap = str(tmp_path / f"relay-{loss}.pcap")
        with two_hosts(spec, pcap) as (srv, cli, link):
            p_srv = srv.popen("python3", "-c", (
                "import socket,time\n"
                "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                f"s.bind(('{SRV}', 8080)); s.listen(); time.sleep(3)\n"))
            time.sleep(0.5)
            out = cli.run("python3", "-c", (
                "import socket,time\n"
                "s=socket.socket(); s.settimeout(1.5); t=time.monotonic()\n"
                f"try:\n    s.connect(('{SRV}', 8080)); print('ok', time.monotonic()-t)\n"
                "except OSError as e:\n    print('failed', e)\n"))
            p_srv.kill()
            p_srv.communicate()  # (reaps it and closes its pipes)
        word, _, rest = out.strip().partition(" ")
        if expect:
            assert word == "ok", out
            assert 0.1 <= float(rest) < 0.2, out  # one round trip: 2 x 50 ms, then some
            assert link["forwarded"] >= 3 and link["lost"] == 0
        else:
            assert word == "failed", out
            assert link["forwarded"] == 0 and link["lost"] >= 2  # the SYN and its resend
        assert link["worst_late_ms"] < 50
        with open(pcap, "rb") as f:
            tcp = [dpkt.ip.IP(data).data for _, data in dpkt.pcap.Reader(f)
                   if dpkt.ip.IP(data).p == 6]
        syn, synack = dpkt.tcp.TH_SYN, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK
        flags = [t.flags & (syn | synack) for t in tcp if t.dport == 8080 or t.sport == 8080]
        if expect:
            assert flags[:3] == [syn, synack, dpkt.tcp.TH_ACK], flags
        else:
            assert flags[:2] == [syn, syn] and synack not in flags, flags
