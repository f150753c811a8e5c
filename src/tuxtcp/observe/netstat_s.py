"""`netstat -s` as net-tools 2.10 prints it (statistics.c), from the two-line /proc/net/snmp and
/proc/net/netstat texts of a tuxtcp namespace or of the live kernel.

What decides the output (checked against the installed netstat fed crafted /proc files):
- Groups and counters come in the files' order; the tables below only give each known
  counter its sentence. Ip, Icmp, Tcp, Udp and TcpExt have tables; every other group
  (IcmpMsg, UdpLite, IpExt, MPTcpExt) has its header printed whatever the -t/-u/-w selection
  and its counters printed as "Name: value" when non-zero.
- Kinds: N always printed (0 too), O only when non-zero, S never (settings such as DefaultTTL,
  RtoMin, MaxConn), I/U the ICMP input/output histograms (only when > 0, eight spaces in, the
  histogram's title printed when the first histogram entry of a kind is reached, even at 0).
- A counter not found in its group's table is printed as "Name: value" when non-zero, indented
  as the last found entry left it (so IcmpMsg sits eight spaces in after the ICMP output
  histogram with plain -s, four with -st: entering a known group resets the indent even when
  the group is not shown). The lookup is glibc's bsearch over tables that are not all sorted,
  so some known names are never found (Forwarding, TCPTimeouts, TCPDSACKOldSent, ...) and come
  out as "Name: value"; the search below walks the tables the same way.
- Values are unsigned 64-bit (strtoull): -1 prints as 18446744073709551615.
"""

from __future__ import annotations

from typing import Final

# group -> ((counter, kind, sentence), ...) in net-tools' order (the order bsearch probes)
TABLES: Final[dict[str, tuple[tuple[str, str, str], ...]]] = {
    'Ip': (
        ('DefaultTTL', 'S', 'Default TTL is %llu'),
        ('Forwarding', 'S', 'Forwarding is %s'),
        ('ForwDatagrams', 'N', '%llu forwarded'),
        ('FragCreates', 'O', '%llu fragments created'),
        ('FragFails', 'O', '%llu outgoing packets failed fragmentation'),
        ('FragOKs', 'O', '%llu outgoing packets fragmented ok'),
        ('InAddrErrors', 'O', '%llu with invalid addresses'),
        ('InDelivers', 'N', '%llu incoming packets delivered'),
        ('InDiscards', 'N', '%llu incoming packets discarded'),
        ('InHdrErrors', 'O', '%llu with invalid headers'),
        ('InReceives', 'N', '%llu total packets received'),
        ('InUnknownProtos', 'O', '%llu with unknown protocol'),
        ('OutDiscards', 'O', '%llu outgoing packets dropped'),
        ('OutNoRoutes', 'O', '%llu dropped because of missing route'),
        ('OutRequests', 'N', '%llu requests sent out'),
        ('ReasmFails', 'O', '%llu packet reassemblies failed'),
        ('ReasmOKs', 'O', '%llu packets reassembled ok'),
        ('ReasmReqds', 'O', '%llu reassemblies required'),
        ('ReasmTimeout', 'O', '%llu fragments dropped after timeout'),
    ),
    'Icmp': (
        ('InAddrMaskReps', 'I', 'address mask replies: %llu'),
        ('InAddrMasks', 'I', 'address mask request: %llu'),
        ('InDestUnreachs', 'I', 'destination unreachable: %llu'),
        ('InEchoReps', 'I', 'echo replies: %llu'),
        ('InEchos', 'I', 'echo requests: %llu'),
        ('InErrors', 'N', '%llu input ICMP message failed'),
        ('InMsgs', 'N', '%llu ICMP messages received'),
        ('InParmProbs', 'I', 'wrong parameters: %llu'),
        ('InRedirects', 'I', 'redirects: %llu'),
        ('InSrcQuenchs', 'I', 'source quenches: %llu'),
        ('InTimeExcds', 'I', 'timeout in transit: %llu'),
        ('InTimestampReps', 'I', 'timestamp reply: %llu'),
        ('InTimestamps', 'I', 'timestamp request: %llu'),
        ('OutAddrMaskReps', 'U', 'address mask replies: %llu'),
        ('OutAddrMasks', 'U', 'address mask requests: %llu'),
        ('OutDestUnreachs', 'U', 'destination unreachable: %llu'),
        ('OutEchoReps', 'U', 'echo replies: %llu'),
        ('OutEchos', 'U', 'echo requests: %llu'),
        ('OutErrors', 'N', '%llu ICMP messages failed'),
        ('OutMsgs', 'N', '%llu ICMP messages sent'),
        ('OutParmProbs', 'U', 'wrong parameters: %llu'),
        ('OutRedirects', 'U', 'redirect: %llu'),
        ('OutSrcQuenchs', 'U', 'source quench: %llu'),
        ('OutTimeExcds', 'U', 'time exceeded: %llu'),
        ('OutTimestampReps', 'U', 'timestamp replies: %llu'),
        ('OutTimestamps', 'U', 'timestamp requests: %llu'),
    ),
    'Tcp': (
        ('ActiveOpens', 'N', '%llu active connection openings'),
        ('AttemptFails', 'N', '%llu failed connection attempts'),
        ('CurrEstab', 'N', '%llu connections established'),
        ('EstabResets', 'N', '%llu connection resets received'),
        ('InErrs', 'N', '%llu bad segments received'),
        ('InSegs', 'N', '%llu segments received'),
        ('MaxConn', 'S', ''),
        ('OutRsts', 'N', '%llu resets sent'),
        ('OutSegs', 'N', '%llu segments sent out'),
        ('PassiveOpens', 'N', '%llu passive connection openings'),
        ('RetransSegs', 'N', '%llu segments retransmitted'),
        ('RtoAlgorithm', 'S', 'RTO algorithm is %s'),
        ('RtoMax', 'S', ''),
        ('RtoMin', 'S', ''),
    ),
    'Udp': (
        ('InDatagrams', 'N', '%llu packets received'),
        ('InErrors', 'N', '%llu packet receive errors'),
        ('NoPorts', 'N', '%llu packets to unknown port received'),
        ('OutDatagrams', 'N', '%llu packets sent'),
        ('RcvbufErrors', 'N', '%llu receive buffer errors'),
        ('SndbufErrors', 'N', '%llu send buffer errors'),
    ),
    'TcpExt': (
        ('DelayedACKLocked', 'O', '%llu delayed acks further delayed because of locked socket'),
        ('DelayedACKLost', 'O', 'Quick ack mode was activated %llu times'),
        ('DelayedACKs', 'O', '%llu delayed acks sent'),
        ('EmbryonicRsts', 'O', '%llu resets received for embryonic SYN_RECV sockets'),
        ('ListenDrops', 'O', '%llu SYNs to LISTEN sockets dropped'),
        ('ListenOverflows', 'O', '%llu times the listen queue of a socket overflowed'),
        ('LockDroppedIcmps', 'O', '%llu ICMP packets dropped because socket was locked'),
        ('OfoPruned', 'O',
         '%llu packets dropped from out-of-order queue because of socket buffer overrun'),
        ('OutOfWindowIcmps', 'O', '%llu ICMP packets dropped because they were out-of-window'),
        ('PAWSActive', 'O', '%llu active connections rejected because of time stamp'),
        ('PAWSEstab', 'O', '%llu packets rejected in established connections because of timestamp'),
        ('PAWSPassive', 'O', '%llu passive connections rejected because of time stamp'),
        ('PruneCalled', 'O',
         '%llu packets pruned from receive queue because of socket buffer overrun'),
        ('RcvPruned', 'O', '%llu packets pruned from receive queue'),
        ('SockMallocOOM', 'O', 'Ran %llu times out of system memory during packet sending'),
        ('SyncookiesFailed', 'O', '%llu invalid SYN cookies received'),
        ('SyncookiesRecv', 'O', '%llu SYN cookies received'),
        ('SyncookiesSent', 'O', '%llu SYN cookies sent'),
        ('TCPAbortFailed', 'O', '%llu times unable to send RST due to no memory'),
        ('TCPAbortOnClose', 'O', '%llu connections reset due to early user close'),
        ('TCPAbortOnData', 'O', '%llu connections reset due to unexpected data'),
        ('TCPAbortOnLinger', 'O', '%llu connections aborted after user close in linger timeout'),
        ('TCPAbortOnMemory', 'O', '%llu connections aborted due to memory pressure'),
        ('TCPAbortOnSyn', 'O', '%llu connections reset due to unexpected SYN'),
        ('TCPAbortOnTimeout', 'O', '%llu connections aborted due to timeout'),
        ('TCPDirectCopyFromBacklog', 'O', '%llu bytes directly in process context from backlog'),
        ('TCPDirectCopyFromPrequeue', 'O',
         '%llu bytes directly received in process context from prequeue'),
        ('TCPDSACKOfoRecv', 'O', '%llu DSACKs for out of order packets received'),
        ('TCPDSACKOfoSent', 'O', '%llu DSACKs sent for out of order packets'),
        ('TCPDSACKOldSent', 'O', '%llu DSACKs sent for old packets'),
        ('TCPDSACKRecv', 'O', '%llu DSACKs received'),
        ('TCPDSackUndo', 'O', '%llu congestion window recovered without slow start using DSACK'),
        ('TCPDSACKUndo', 'O', '%llu congestion windows recovered without slow start by DSACK'),
        ('TCPFACKReorder', 'O', 'Detected reordering %llu times using FACK'),
        ('TCPFastRetrans', 'O', '%llu fast retransmits'),
        ('TCPForwardRetrans', 'O', '%llu forward retransmits'),
        ('TCPFullUndo', 'O', '%llu congestion windows fully recovered without slow start'),
        ('TCPHPAcks', 'O', '%llu predicted acknowledgments'),
        ('TCPHPHits', 'N', '%llu packet headers predicted'),
        ('TCPHPHitsToUser', 'O', '%llu packet headers predicted and directly queued to user'),
        ('TCPLossFailures', 'O', '%llu timeouts in loss state'),
        ('TCPLoss', 'O', '%llu TCP data loss events'),
        ('TCPLossUndo', 'O',
         '%llu congestion windows recovered without slow start after partial ack'),
        ('TCPLostRetransmits', 'O', '%llu retransmits lost'),
        ('TCPMemoryPressures', 'O', 'TCP ran low on memory %llu times'),
        ('TCPPartialUndo', 'O', '%llu congestion windows partially recovered using Hoe heuristic'),
        ('TCPPrequeued', 'O', '%llu packets directly queued to recvmsg prequeue'),
        ('TCPPrequeueDropped', 'O', '%llu packets dropped from prequeue'),
        ('TCPPureAcks', 'O', '%llu acknowledgments not containing data payload received'),
        ('TCPRcvCollapsed', 'O',
         '%llu packets collapsed in receive queue due to low socket buffer'),
        ('TCPRenoFailures', 'O', '%llu timeouts after reno fast retransmit'),
        ('TCPRenoRecoveryFailed', 'O', '%llu reno fast retransmits failed'),
        ('TCPRenoRecoveryFail', 'O', '%llu classic Reno fast retransmits failed'),
        ('TCPRenoRecovery', 'O', '%llu times recovered from packet loss due to fast retransmit'),
        ('TCPRenoReorder', 'O', 'Detected reordering %llu times using reno fast retransmit'),
        ('TCPSackFailures', 'O', '%llu timeouts after SACK recovery'),
        ('TCPSackRecoveryFail', 'O', '%llu SACK retransmits failed'),
        ('TCPSackRecovery', 'O',
         '%llu times recovered from packet loss by selective acknowledgements'),
        ('TCPSACKReneging', 'O', '%llu bad SACK blocks received'),
        ('TCPSACKReorder', 'O', 'Detected reordering %llu times using SACK'),
        ('TCPSchedulerFailed', 'O', '%llu times receiver scheduled too late for direct processing'),
        ('TCPSlowStartRetrans', 'O', '%llu retransmits in slow start'),
        ('TCPTimeouts', 'O', '%llu other TCP timeouts'),
        ('TCPTSReorder', 'O', 'Detected reordering %llu times using time stamp'),
        ('TWKilled', 'O', '%llu TCP sockets finished time wait in slow timer'),
        ('TW', 'O', '%llu TCP sockets finished time wait in fast timer'),
        ('TWRecycled', 'O', '%llu time wait sockets recycled by time stamp'),
    ),
}
SELECTS: Final = {"Ip": "w", "Icmp": "w", "Tcp": "t", "TcpExt": "t", "Udp": "u"}
INDENT: Final = {"N": 4, "O": 4, "I": 8, "U": 8}
HISTOGRAM: Final = {"I": "ICMP input histogram:", "U": "ICMP output histogram:"}
U64: Final = 1 << 64


def _find(table: tuple[tuple[str, str, str], ...], name: str) -> tuple[str, str, str] | None:
    """glibc bsearch by strcmp over `table` as it stands (not all of net-tools' tables are
    sorted, so a name can be present and not found)."""
    key = name.encode()
    lo, hi = 0, len(table)
    while lo < hi:
        mid = (lo + hi) // 2
        probe = table[mid][0].encode()
        if key < probe:
            hi = mid
        elif key > probe:
            lo = mid + 1
        else:
            return table[mid]
    return None


def _value(text: str) -> int:
    """strtoull: a leading sign is taken, a negative number wraps, too large saturates."""
    try:
        v = int(text)
    except ValueError:
        return 0
    if v >= U64:
        return U64 - 1
    return v % U64


def render(files: list[str], select: str = "") -> str:
    """`netstat -s` over the texts of /proc/net/snmp then /proc/net/netstat; `select`: the
    letters of -t -u -w given with -s ("" for all groups)."""
    shown = set(select) if select else {"t", "u", "w"}
    out: list[str] = []
    kind = "N"  # the last found entry's kind: it sets the indent of unknown counters
    for text in files:
        lines = [ln for ln in text.splitlines() if ln]
        for head, vals in zip(lines[0::2], lines[1::2], strict=False):
            group, _, names = head.partition(":")
            values = vals.partition(":")[2].split()
            table = TABLES.get(group)
            if table is not None:
                kind = "N"
                if SELECTS[group] not in shown:
                    continue
            out.append(f"{group}:")
            for i, name in enumerate(names.split()):
                v = _value(values[i]) if i < len(values) else 0
                entry = _find(table, name) if table is not None else None
                if entry is None:
                    if v:
                        out.append(f"{' ' * INDENT[kind]}{name}: {v}")
                    continue
                _, k, sentence = entry
                if k == "S":
                    continue
                if k in HISTOGRAM and kind != k:
                    out.append(f"{' ' * INDENT[kind]}{HISTOGRAM[k]}")
                if k == "N" or v:
                    out.append(" " * INDENT[k] + sentence.replace("%llu", str(v)))
                kind = k
    return "".join(line + "\n" for line in out)


def parse_args(args: list[str]) -> str:
    """netstat's -s with any of -t -u -w (bundled or not) -> the selection letters.
    Raises ValueError for anything else."""
    letters = ""
    for a in args:
        if not a.startswith("-") or a == "-":
            raise ValueError(f"unexpected argument {a!r}")
        for c in a[1:]:
            if c not in "stuw":
                raise ValueError(f"option -{c} is not supported (-s with -t, -u, -w)")
            letters += c
    if "s" not in letters:
        raise ValueError("only the statistics view (-s) is supported")
    return "".join(sorted(set(letters) - {"s"}))
