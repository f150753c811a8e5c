"""Coverage-guided fuzzing with atheris (`make fuzz`), on the plain-Python build so that every
branch of the engine is instrumented. Two targets:

- wire: the input is one IPv4 datagram from a real wire, into a namespace with a listener, a
  request sock, an accepted connection and a client in SYN_SENT: the checked parse counts and
  drops what is malformed; nothing may raise. Half the inputs (first byte odd) are taken as a
  TCP segment from the peer's address and get a valid IPv4 header and TCP checksum, so the
  fuzzer gets past the checksums into option parsing and the state machine.
- engine: the input drives the stateful fuzzer's choices (tests/test_fuzz_states.py): which
  state to bring a connection into, then every choice of each segment (sequence numbers around
  the window, ACKs around snd_una/snd_nxt, SACK blocks, flags, sizes, timestamps, waits) is
  read from the input instead of a seeded generator, so coverage feedback steers segments into
  the code they reach. The fuzzer's invariants are checked after every segment.

    python fuzz/atheris_targets.py wire -max_total_time=300
    python fuzz/atheris_targets.py engine -max_total_time=300 -atheris_runs=100000
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

with atheris.instrument_imports(include=["tuxtcp"]):
    import states as S
    import test_fuzz_states as F
    from helpers import Harness
    from tuxtcp.wire.checksum import internet_checksum, pseudo_header_sum

CASES = [*F.STATES, "syn_recv"]


class InputRandom(random.Random):
    """random.Random whose bits come from the fuzzer's input (zeros once it is used up)."""

    def __init__(self, fdp: atheris.FuzzedDataProvider) -> None:
        super().__init__(0)
        self.fdp = fdp

    def random(self) -> float:
        return float(self.fdp.ConsumeProbability())

    def getrandbits(self, k: int) -> int:
        return int(self.fdp.ConsumeIntInRange(0, (1 << k) - 1)) if k else 0


def engine(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    case = CASES[fdp.ConsumeIntInRange(0, len(CASES) - 1)]
    n = fdp.ConsumeIntInRange(1, 48)
    if case == "syn_recv":
        rf = F.RequestFuzzer(S.syn_recv(), seed=0)
        rf.rng = InputRandom(fdp)
        rf.run(n)
        return
    c = F.STATES[case]()
    c.take()
    f = F.Fuzzer(c, seed=0)
    f.rng = InputRandom(fdp)
    f.run(n)


_WIRE: list[Harness] = []


def _busy() -> Harness:
    h = Harness()
    lst = S.listen(h, port=8080, backlog=2)
    r = S.syn_recv(listener=lst)
    r.complete()
    S.syn_recv(listener=lst, sport=40001)
    S.syn_sent(h)
    lst.sock.accept()
    return h


PEER = 0xC6120002  # 198.18.0.2, the harness's peer
LOCAL = 0xC6120001  # 198.18.0.1


def with_checksums(tcp: bytes) -> bytes:
    """An IPv4 datagram peer -> local carrying `tcp`, its header and TCP checksums valid."""
    seg = bytearray(tcp)
    if len(seg) >= 18:
        seg[16:18] = b"\0\0"
        csum = internet_checksum(bytes(seg), pseudo_header_sum(PEER, LOCAL, 6, len(seg)))
        seg[16:18] = csum.to_bytes(2, "big")
    hdr = bytearray(20)
    hdr[0], hdr[8], hdr[9] = 0x45, 64, 6
    hdr[2:4] = (20 + len(seg)).to_bytes(2, "big")
    hdr[12:16], hdr[16:20] = PEER.to_bytes(4, "big"), LOCAL.to_bytes(4, "big")
    hdr[10:12] = internet_checksum(bytes(hdr)).to_bytes(2, "big")
    return bytes(hdr + seg)


def wire(data: bytes) -> None:
    if not _WIRE or _WIRE[0].now > 1e6:
        _WIRE[:] = [_busy()]
    h = _WIRE[0]
    if data and data[0] & 1 and len(data) <= 65515:
        data = with_checksums(data[1:])
    h.ns.receive_bytes(data, h.now)
    h.advance(h.now + 0.01)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("wire", "engine"):
        sys.exit("usage: atheris_targets.py wire|engine [libFuzzer options]")
    target = wire if sys.argv[1] == "wire" else engine
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
