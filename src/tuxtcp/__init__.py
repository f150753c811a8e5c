"""tuxtcp: Linux's TCP connection machinery, packet for packet, in Python."""

from .sim.world import Host, World
from .socket.api import Socket
from .tcp.engine import Namespace
from .wire.ipv4 import Packet, parse_packet
from .wire.tcp import TcpSegment, parse_tcp

__version__ = "0.1.0"
__all__ = ["Host", "Namespace", "Packet", "Socket", "TcpSegment", "World", "parse_packet",
           "parse_tcp"]
