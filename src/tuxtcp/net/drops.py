"""Why a packet died: Linux's `enum skb_drop_reason` (include/net/dropreason-core.h), by name.

Every receive path that frees a segment without consuming it returns one of these names (the
kernel's reason without the SKB_DROP_REASON_ prefix) where the kernel calls kfree_skb_reason at
the same point; a consumed segment returns CONSUMED (""). The demux counts them per namespace in
`ns.drops` and emits skb:kfree_skb for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

CONSUMED: Final = ""  # consume_skb: not a drop

NOT_SPECIFIED: Final = "NOT_SPECIFIED"
NO_SOCKET: Final = "NO_SOCKET"
PKT_TOO_SMALL: Final = "PKT_TOO_SMALL"
TCP_CSUM: Final = "TCP_CSUM"
OTHERHOST: Final = "OTHERHOST"
IP_CSUM: Final = "IP_CSUM"
IP_INHDR: Final = "IP_INHDR"
IP_NOPROTO: Final = "IP_NOPROTO"
IP_INADDRERRORS: Final = "IP_INADDRERRORS"
FRAG_REASM_TIMEOUT: Final = "FRAG_REASM_TIMEOUT"
TCP_FLAGS: Final = "TCP_FLAGS"
TCP_ABORT_ON_DATA: Final = "TCP_ABORT_ON_DATA"
TCP_ZEROWINDOW: Final = "TCP_ZEROWINDOW"
TCP_OLD_DATA: Final = "TCP_OLD_DATA"
TCP_OVERWINDOW: Final = "TCP_OVERWINDOW"
TCP_OFOMERGE: Final = "TCP_OFOMERGE"
TCP_RFC7323_PAWS: Final = "TCP_RFC7323_PAWS"
TCP_RFC7323_PAWS_ACK: Final = "TCP_RFC7323_PAWS_ACK"
TCP_RFC7323_TW_PAWS: Final = "TCP_RFC7323_TW_PAWS"
TCP_RFC7323_TSECR: Final = "TCP_RFC7323_TSECR"
TCP_LISTEN_OVERFLOW: Final = "TCP_LISTEN_OVERFLOW"
TCP_OLD_SEQUENCE: Final = "TCP_OLD_SEQUENCE"
TCP_INVALID_SEQUENCE: Final = "TCP_INVALID_SEQUENCE"
TCP_INVALID_END_SEQUENCE: Final = "TCP_INVALID_END_SEQUENCE"
TCP_INVALID_ACK_SEQUENCE: Final = "TCP_INVALID_ACK_SEQUENCE"
TCP_RESET: Final = "TCP_RESET"
TCP_INVALID_SYN: Final = "TCP_INVALID_SYN"
TCP_CLOSE: Final = "TCP_CLOSE"
TCP_OLD_ACK: Final = "TCP_OLD_ACK"
TCP_TOO_OLD_ACK: Final = "TCP_TOO_OLD_ACK"
TCP_ACK_UNSENT_DATA: Final = "TCP_ACK_UNSENT_DATA"
TCP_OFO_DROP: Final = "TCP_OFO_DROP"
TCP_MINTTL: Final = "TCP_MINTTL"
SOCKET_RCVBUFF: Final = "SOCKET_RCVBUFF"
PROTO_MEM: Final = "PROTO_MEM"
QUEUE_PURGE: Final = "QUEUE_PURGE"


class DropCounts:
    """Per-namespace drop counts by reason name: a read-only mapping like `host.counters`
    (registered as collections.abc.Mapping); `count(reason)` is the engine's hot path."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def count(self, reason: str) -> None:
        c = self._counts
        c[reason] = c.get(reason, 0) + 1

    def __getitem__(self, reason: str) -> int:
        return self._counts.get(reason, 0)

    def __iter__(self) -> Iterator[str]:
        return iter(self._counts)

    def __len__(self) -> int:
        return len(self._counts)

    def __contains__(self, reason: object) -> bool:
        return reason in self._counts

    def get(self, reason: str, default: int = 0) -> int:
        return self._counts.get(reason, default)

    def keys(self) -> list[str]:
        return list(self._counts)

    def items(self) -> list[tuple[str, int]]:
        return sorted(self._counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def snapshot(self) -> dict[str, int]:
        return dict(self._counts)

    def __repr__(self) -> str:
        return f"DropCounts({dict(self.items())})"


Mapping.register(DropCounts)
