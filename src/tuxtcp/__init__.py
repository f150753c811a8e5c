"""tuxtcp: Linux's TCP connection machinery, packet for packet, in Python.

The names below load on first use (PEP 562), so a command that needs none of the engine
(`tuxtcp ss` on the host) starts without importing it."""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # typing stays unimported at run time: `tuxtcp ss` starts sooner
if TYPE_CHECKING:
    from typing import Any

    from .sim.world import Host, World
    from .socket.api import Socket
    from .tcp.engine import Namespace
    from .wire.ipv4 import Packet, parse_packet
    from .wire.tcp import TcpSegment, parse_tcp

__version__ = "0.1.0"
__all__ = ["Host", "Namespace", "Packet", "Socket", "TcpSegment", "World", "parse_packet",
           "parse_tcp"]
_HOME = {"Host": ".sim.world", "World": ".sim.world", "Socket": ".socket.api",
         "Namespace": ".tcp.engine", "Packet": ".wire.ipv4", "parse_packet": ".wire.ipv4",
         "TcpSegment": ".wire.tcp", "parse_tcp": ".wire.tcp"}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'tuxtcp' has no attribute {name!r}")
    value = getattr(import_module(home, __name__), name)
    globals()[name] = value
    return value
