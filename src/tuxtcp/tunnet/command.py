"""`tuxtcp serve`: tuxtcp on a TUN device, serving echo and HTTP to the kernel next door."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType

from ..observe.nsview import render_ss
from ..wire.pcap import PcapTap
from .driver import TunDriver
from .netns import SetupError, tun_namespace
from .services import Services


def _status(driver: TunDriver) -> str:
    ns = driver.ns
    lines = [render_ss(ns, "-tan", driver.now()).rstrip()]
    ext = ns.mib.tcp_ext
    lines.append(f"datagrams in {driver.received}, out {driver.sent}; "
                 f"ActiveOpens {ns.mib.tcp.ActiveOpens} PassiveOpens {ns.mib.tcp.PassiveOpens} "
                 f"InErrs {ns.mib.tcp.InErrs} ListenOverflows {ext.ListenOverflows} "
                 f"ListenDrops {ext.ListenDrops}")
    return "\n".join(lines)


def serve(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="tuxtcp serve",
        description="Bring up a network namespace with a TUN device whose far end is tuxtcp, "
                    "and serve echo (port 7) and HTTP (port 80) on tuxtcp sockets to the "
                    "kernel in that namespace. Ctrl-C or SIGTERM tears it all down; SIGUSR1 "
                    "prints the sockets and counters. Root only.")
    ap.add_argument("--netns", default="tuxtcp",
                    help="the namespace (tuxtcp): made and removed again, or, if it exists "
                         "already (made by you), used and left in place")
    ap.add_argument("--addr", default="198.18.0.2", help="tuxtcp's address (198.18.0.2)")
    ap.add_argument("--kernel-addr", default="198.18.0.1",
                    help="the kernel's address on the device (198.18.0.1)")
    ap.add_argument("--device", default="tuxtcp0", help="the TUN device's name (tuxtcp0)")
    ap.add_argument("--echo-port", type=int, default=7, help="0: no echo service")
    ap.add_argument("--http-port", type=int, default=80, help="0: no HTTP service")
    ap.add_argument("--duration", type=float, default=0.0,
                    help="stop after this many seconds (0: until Ctrl-C or SIGTERM)")
    ap.add_argument("--pcap", metavar="FILE", help="record what crosses the device "
                    "(with offloads, super-segments as they cross, checksums completed)")
    ap.add_argument("--offload", choices=("on", "off"), default="on",
                    help="on (default): IFF_VNET_HDR with checksum and TSO offload, so the "
                         "kernel hands over and takes 64 KB TSO packets (GRO'd reads, TSO "
                         "writes); off: one MTU-sized datagram each way, checksums complete")
    args = ap.parse_args(argv)
    stop: list[str] = []
    show: list[bool] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.append(signal.Signals(signum).name)

    def on_usr1(signum: int, frame: FrameType | None) -> None:
        show.append(True)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    old[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, on_usr1)
    try:
        with tun_namespace(args.netns, args.kernel_addr, device=args.device,
                           offload=args.offload == "on") as tun:
            driver = TunDriver(tun, [args.addr], name=args.netns)
            tap = PcapTap(args.pcap) if args.pcap else None
            driver.tap = tap
            services = Services(driver, args.echo_port, args.http_port)
            print(f"tuxtcp is {args.addr} behind {tun.name} in namespace {args.netns} "
                  f"(the kernel there is {args.kernel_addr}). Try:", flush=True)
            if args.http_port:
                port = "" if args.http_port == 80 else f":{args.http_port}"
                print(f"  ip netns exec {args.netns} curl http://{args.addr}{port}/")
            if args.echo_port:
                print(f"  ip netns exec {args.netns} python3 -c \"import socket; "
                      f"s = socket.create_connection(('{args.addr}', {args.echo_port})); "
                      f"s.sendall(b'hello'); print(s.recv(5))\"", flush=True)
            end = time.monotonic() + args.duration if args.duration > 0 else None

            def until() -> bool:
                if show:
                    show.clear()
                    print(_status(driver), flush=True)
                return bool(stop) or (end is not None and time.monotonic() >= end)

            try:
                services.run(until)
            finally:
                services.close()
                if tap is not None:
                    tap.close()
            print(f"stopped ({stop[0] if stop else 'duration over'}): served "
                  f"{services.served['echo']} echo and {services.served['http']} HTTP "
                  f"connections; namespace {args.netns} removed", flush=True)
    except SetupError as e:
        print(f"tuxtcp serve: {e}", file=sys.stderr)
        return 1
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return 0
