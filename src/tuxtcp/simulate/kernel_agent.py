"""Processes that run a scenario against the host kernel, inside network namespaces.

`python -m tuxtcp.simulate.kernel_agent ROLE JSON` with ROLE server, client, flood or sampler.
All wait for the same CLOCK_REALTIME start instant, then follow the plan in JSON on their own
clock (time.monotonic) and print one JSON line of results. Real sockets, real kernel.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import select
import socket
import struct
import sys
import time
from typing import Any

from ..host.sockdiag import host_records

TCP_INFO_TOTAL_RETRANS = 100  # offset of tcpi_total_retrans in struct tcp_info
PR_SET_TIMERSLACK = 29  # prctl(2)
NAP_S = 0.0001  # with a deadline under a millisecond away, poll() in turns with naps this long


def _total_retrans(s: socket.socket) -> int:
    """tcpi_total_retrans: the SYNs (or SYN-ACKs) resent for this connection."""
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return int(struct.unpack_from("I", info, TCP_INFO_TOTAL_RETRANS)[0])


def _wait_start(start_wall: float) -> float:
    """Sleep until the shared start instant and return it on this process's monotonic clock.
    The origin is computed from the two clocks read back to back, not taken on waking up: a
    sleep ends tens of microseconds to milliseconds late, differently in each agent, and the
    replay compares a client's instants with the server's on one time line."""
    t0 = time.monotonic() + (start_wall - time.time())
    _sleep_until(t0)
    return t0


def _sleep_until(when: float) -> None:
    """Sleep until `when` (time.monotonic), without spinning: the agents share one CPU, and
    one that spun through the last millisecond before each deadline (as they did on two
    CPUs) kept the other from starting its connects on time (capped-backlog: 32 of 600
    clients more than 5 ms late)."""
    delay = when - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _pin(cpus: list[int] | None) -> None:
    """Run on `cpus`, with a timer slack of 1 ns (a sleep then ends tens of microseconds
    after its deadline). The agents that make the traffic (server, client, flood) share one
    CPU, and with it the softirqs that carry their packets (a veth delivers on the sending
    CPU), so the kernel takes the run's segments one at a time, in the order they were
    sent, as the simulation does. Spread over two CPUs, a client's final ACK and another
    client's resent SYN sent microseconds apart reached the listener in either order, and a
    full accept queue took the one or the other: slow-accept's replay agreed for 87-93% of
    the clients (1,736, 1,808 and 1,850 of 2,000 on three runs), and for 98.4-99.4% pinned.
    The sampler and the reader of the trace run on the other CPUs."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)
    if cpus:
        os.sched_setaffinity(0, cpus)


def server(plan: dict[str, Any]) -> dict[str, Any]:
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((plan["addr"], plan["port"]))
    ls.listen(plan["backlog"])
    ls.setblocking(False)
    t0 = _wait_start(plan["start_wall"])
    duration, workers, service = plan["duration"], plan["workers"], plan["service_time"]
    accept_start = plan["accept_start"]
    busy: list[tuple[float, socket.socket, int]] = []  # (finish time, conn, peer port)
    accepted: list[tuple[float, int, int]] = []  # time, peer port, synack retrans
    response = plan.get("response_bytes", 0)
    chunk = b"\x55" * min(response, 64 << 10)
    writing: dict[int, tuple[socket.socket, list[int]]] = {}  # fd -> (conn, [bytes left])
    written: dict[int, float] = {}  # fd -> when its response was all written, if after accept
    closed: list[tuple[float, int]] = []  # time, peer port: each service's end
    late = 0.0  # how long after its deadline a service was seen to finish
    poller = select.poll()
    listening = False  # the listener is in the poll set only while a worker is free
    for _ in range(10_000_000):
        now = time.monotonic() - t0
        if now >= duration:
            break
        # finish services
        still = []
        for fin, conn, pport in busy:
            if fin <= now and conn.fileno() not in writing:
                late = max(late, now - max(fin, written.pop(conn.fileno(), fin)))
                conn.close()
                # read after close(): the FIN left within the call (a veth hands it to the
                # client's namespace at once), and the replay sends its FIN at this instant
                closed.append((time.monotonic() - t0, pport))
            else:
                still.append((fin, conn, pport))
        busy = still
        while now >= accept_start and len(busy) < workers:
            # the instant is read just before accept(): the kernel dequeues within the call,
            # microseconds later (the loop's `now` can be a close or an accept earlier)
            at = time.monotonic() - t0
            try:
                conn, peer = ls.accept()
            except BlockingIOError:
                break
            retrans = _total_retrans(conn)
            accepted.append((at, peer[1], retrans))
            busy.append((at + service, conn, peer[1]))
            if response:
                conn.setblocking(False)
                writing[conn.fileno()] = (conn, [response])
                if _write(conn, writing[conn.fileno()][1], chunk):
                    del writing[conn.fileno()]
                else:
                    poller.register(conn, select.POLLOUT)
        # Sleep until the next deadline (a service end, the accept start), waking
        # on a queued connection while a worker is free. poll() counts whole milliseconds:
        # the last one is slept in naps of NAP_S between polls (or at once when nothing is
        # polled). An agent that spun (a readable listener with every worker busy wakes
        # poll() at once) took the CPU from the client agent and got itself preempted
        # between reading the clock and calling accept().
        want = now >= accept_start and len(busy) < workers
        if want != listening:
            if want:
                poller.register(ls, select.POLLIN)
            else:
                poller.unregister(ls)
            listening = want
        # (a connection still being written waits for POLLOUT, not for its deadline)
        deadline = min([fin for fin, c, _ in busy if c.fileno() not in writing]
                       + [duration]
                       + ([accept_start] if now < accept_start else []))
        wait = deadline - (time.monotonic() - t0)
        events: list[tuple[int, int]] = []
        if wait >= 0.001:
            events = poller.poll(int(min(wait, 0.05) * 1000))  # whole ms, rounded down
        elif listening or writing:
            events = poller.poll(0)
            if not events and wait > 0:
                time.sleep(min(wait, NAP_S))
        else:
            _sleep_until(t0 + deadline)
        for fd, _ev in events:
            w = writing.get(fd)
            if w is not None and _write(w[0], w[1], chunk):
                poller.unregister(fd)
                del writing[fd]
                written[fd] = time.monotonic() - t0
    for _, conn, _ in busy:
        _abort(conn)
    # (the pid names this agent's accept4 calls in the trace: kernel_trace, accepts)
    return {"accepted": accepted, "closed": closed, "max_late": late, "pid": os.getpid()}


def sampler(plan: dict[str, Any]) -> dict[str, Any]:
    """The listener's queues every sample_interval, from a process of its own on the CPUs the
    other agents leave: a sock_diag dump walks every socket of the namespace (thousands of
    TIME_WAITs late in a run) without yielding the CPU, and in the server agent it held
    back the client agent on their shared CPU (slow-accept: 17 connects more than 5 ms late,
    32 ms at worst, against 2 without sampling)."""
    t0 = _wait_start(plan["start_wall"])
    interval, duration = plan["sample_interval"], plan["duration"]
    samples: list[tuple[float, int, int]] = []
    for k in range(min(int(duration / interval) + 1, 1_000_000)):
        if k * interval >= duration:
            break
        _sleep_until(t0 + k * interval)
        samples.append((time.monotonic() - t0, *_queues(plan["port"])))
    return {"samples": samples}


def _write(conn: socket.socket, left: list[int], chunk: bytes) -> bool:
    """Write what the send buffer takes of the response; True once all of it is written (or
    the connection failed: nothing more can be)."""
    while left[0]:
        try:
            n = conn.send(chunk if left[0] >= len(chunk) else chunk[:left[0]])
        except BlockingIOError:
            return False
        except OSError:
            n = left[0]
        left[0] -= n
    return True


def _abort(s: socket.socket) -> None:
    """Close with a RST (SO_LINGER 0) at the end of the run: a graceful close would leave an
    orphan resending its FIN for seconds after the namespaces are gone from `ip netns`, into
    the next run's window (kfree_skb counts machine-wide: one NO_SOCKET in each of three
    capped-backlog runs of a CI, from the run before)."""
    with contextlib.suppress(OSError):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def _queues(port: int) -> tuple[int, int]:
    """(SYN_RECV requests, accept-queue length) for our port, through sock_diag asking the
    kernel for listeners and requests only: cheap however many TIME_WAIT sockets the run
    leaves (a /proc/net/tcp scan walks them all and took CPU from the agents measuring)."""
    synq = accq = 0
    for r in host_records(None, states=(1 << 10) | (1 << 3), brief=True):
        if r.sport == port:
            if r.state == 10:
                accq = r.rqueue
            else:
                synq += 1
    return synq, accq


def client(plan: dict[str, Any]) -> dict[str, Any]:
    t0 = _wait_start(plan["start_wall"])
    starts: list[float] = plan["starts"]
    addr = (plan["addr"], plan["port"])
    pending: dict[int, tuple[int, socket.socket, float]] = {}  # fd -> (index, sock, start)
    done: dict[int, tuple[int, socket.socket]] = {}  # fd -> (index, sock)
    results: list[dict[str, Any]] = [{"start": s, "port": 0, "established": None, "error": 0,
                                      "syn_retrans": 0, "closed": None, "received": 0}
                                     for s in starts]
    poller = select.poll()
    reading = plan.get("response_bytes", 0) > 0
    i = 0
    late = 0.0
    for _ in range(10_000_000):
        now = time.monotonic() - t0
        if now >= plan["duration"]:
            break
        if i < len(starts) and 0 < starts[i] - now < 0.0015:
            _sleep_until(t0 + starts[i])  # poll() counts whole milliseconds
            now = time.monotonic() - t0
        while i < len(starts) and starts[i] <= now:
            s = socket.socket()
            s.setblocking(False)
            now = time.monotonic() - t0
            late = max(late, now - starts[i])
            results[i]["start"] = now
            err = s.connect_ex(addr)
            results[i]["port"] = s.getsockname()[1]
            if err not in (0, errno.EINPROGRESS):
                results[i]["error"] = err
                s.close()
            else:
                pending[s.fileno()] = (i, s, starts[i])
                poller.register(s, select.POLLOUT)
            i += 1
        wait = 0.002 if i < len(starts) else 0.05
        if i < len(starts):
            wait = max(0.0, min(wait, starts[i] - now - 0.001))
        for fd, _ev in poller.poll(int(wait * 1000)):  # whole ms, rounded down
            if fd in pending:
                idx, s, _ = pending.pop(fd)
                t = time.monotonic() - t0
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                results[idx]["syn_retrans"] = _total_retrans(s)
                if err:
                    results[idx]["error"] = err
                    poller.unregister(fd)
                    s.close()
                else:
                    results[idx]["established"] = t
                    poller.modify(fd, select.POLLIN)
                    done[fd] = (idx, s)
            elif fd in done:
                idx, s = done[fd]
                # without a response the FIN is left unread, as the simulation's client does
                # (reading it would consume the FIN's skb, which close() otherwise purges)
                if not reading or _drain(s, results[idx]):
                    del done[fd]
                    poller.unregister(fd)
                    results[idx]["closed"] = time.monotonic() - t0
                    s.close()  # the server closed: close our side
    for idx, s, _ in pending.values():
        results[idx]["syn_retrans"] = _total_retrans(s)  # still connecting: SYNs resent so far
        s.close()
    for _, s in done.values():
        _abort(s)
    return {"clients": results, "max_late": late, "t0_ns": int(t0 * 1e9)}


def _drain(s: socket.socket, result: dict[str, Any]) -> bool:
    """Read what has arrived of the response; True at its end (EOF, or the connection
    failed)."""
    for _ in range(1 << 20):
        try:
            data = s.recv(1 << 16)
        except BlockingIOError:
            return False
        except OSError:
            return True
        if not data:
            return True
        result["received"] += len(data)
    return False


def flood(plan: dict[str, Any]) -> dict[str, Any]:
    import random

    from ..wire.ipv4 import Packet, ip_to_int
    from ..wire.tcp import SYN, TcpSegment

    rng = random.Random(plan["seed"])
    dst = ip_to_int(plan["addr"])
    base = ip_to_int("198.19.128.0")
    n = int(round(plan["rate"] * plan["duration"]))
    frames = []
    for _ in range(n):
        seg = TcpSegment(rng.randrange(1024, 65536), plan["port"], rng.getrandbits(32), 0, SYN,
                         64240, mss=1460, wscale=7, sack_perm=True, tsval=rng.getrandbits(32),
                         tsecr=0)
        frames.append(Packet(base | rng.getrandbits(15), dst, seg).to_bytes())
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    t0 = _wait_start(plan["start_wall"]) + plan["start"]
    interval = 1.0 / plan["rate"]
    sent = 0
    behind = 0
    for k, frame in enumerate(frames):
        due = t0 + k * interval
        delay = due - time.monotonic()
        if delay > 0.0005:
            time.sleep(delay)
            behind = 0
        elif delay < 0:
            behind += 1
            if behind > 2:  # late: catch up gently rather than in one burst
                time.sleep(interval / 4)
                behind = 0
        for _ in range(1000):
            try:
                raw.sendto(frame, (plan["addr"], 0))
                sent += 1
                break
            except OSError as e:
                if e.errno != errno.ENOBUFS:
                    raise
                time.sleep(0.0001)
    return {"sent": sent}


def main() -> None:
    role, plan = sys.argv[1], json.loads(sys.argv[2])
    # the flood sender shares its CPU with the agents that measure: let the measuring agents
    # run first (we are root here) so their timestamps are the kernel's, not the scheduler's
    # (the sampler has CPUs of its own, and no instant to keep)
    with contextlib.suppress(OSError):
        os.nice(5 if role in ("flood", "sampler") else -10)
    _pin(plan.get("cpus"))
    fn = {"server": server, "client": client, "flood": flood, "sampler": sampler}[role]
    out = fn(plan)
    out["cpus"] = sorted(os.sched_getaffinity(0))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
