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


# The states as plain ints: a socket's state is compared on every segment, and in the
# compiled build an int compares natively where an IntEnum member is a boxed object going
# through rich comparison. TcpState(n).name spells one.
ESTABLISHED: Final = 1
SYN_SENT: Final = 2
SYN_RECV: Final = 3
FIN_WAIT1: Final = 4
FIN_WAIT2: Final = 5
TIME_WAIT: Final = 6
CLOSE: Final = 7
CLOSE_WAIT: Final = 8
LAST_ACK: Final = 9
LISTEN: Final = 10
CLOSING: Final = 11
NEW_SYN_RECV: Final = 12

# ss(8) spellings
SS_NAMES: Final = {
    ESTABLISHED: "ESTAB", SYN_SENT: "SYN-SENT", SYN_RECV: "SYN-RECV", FIN_WAIT1: "FIN-WAIT-1",
    FIN_WAIT2: "FIN-WAIT-2", TIME_WAIT: "TIME-WAIT", CLOSE: "UNCONN", CLOSE_WAIT: "CLOSE-WAIT",
    LAST_ACK: "LAST-ACK", LISTEN: "LISTEN", CLOSING: "CLOSING", NEW_SYN_RECV: "SYN-RECV",
}
