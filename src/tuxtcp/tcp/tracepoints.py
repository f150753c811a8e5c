"""The kernel's TCP tracepoints, emitted from the engine's objects (filled in below)."""

from __future__ import annotations

from ..net.namespace import NetNamespace
from ..wire.ipv4 import Packet


def kfree_skb(ns: NetNamespace, pkt: Packet | None, reason: str, now: float) -> None:
    """skb:kfree_skb."""
