"""include/net/tcp_states.h."""

from enum import IntEnum
from typing import Final


class TcpState(IntEnum):
    ESTABLISHED = 1
    SYN_SENT = 2
    SYN_RECV = 3
    FIN_WAIT1 = 4
    FIN_WAIT2 = 5
    TIME_WAIT = 6
    CLOSE = 7
    CLOSE_WAIT = 8
    LAST_ACK = 9
    LISTEN = 10
    CLOSING = 11
    NEW_SYN_RECV = 12


ESTABLISHED: Final = TcpState.ESTABLISHED
SYN_SENT: Final = TcpState.SYN_SENT
SYN_RECV: Final = TcpState.SYN_RECV
FIN_WAIT1: Final = TcpState.FIN_WAIT1
FIN_WAIT2: Final = TcpState.FIN_WAIT2
TIME_WAIT: Final = TcpState.TIME_WAIT
CLOSE: Final = TcpState.CLOSE
CLOSE_WAIT: Final = TcpState.CLOSE_WAIT
LAST_ACK: Final = TcpState.LAST_ACK
LISTEN: Final = TcpState.LISTEN
CLOSING: Final = TcpState.CLOSING
NEW_SYN_RECV: Final = TcpState.NEW_SYN_RECV

# ss(8) spellings
SS_NAMES: Final = {
    ESTABLISHED: "ESTAB", SYN_SENT: "SYN-SENT", SYN_RECV: "SYN-RECV", FIN_WAIT1: "FIN-WAIT-1",
    FIN_WAIT2: "FIN-WAIT-2", TIME_WAIT: "TIME-WAIT", CLOSE: "UNCONN", CLOSE_WAIT: "CLOSE-WAIT",
    LAST_ACK: "LAST-ACK", LISTEN: "LISTEN", CLOSING: "CLOSING", NEW_SYN_RECV: "SYN-RECV",
}
