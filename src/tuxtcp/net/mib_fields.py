# Generated from src/tuxtcp/net/mib_names.py by `python tools/gen_typed_fields.py`; do not edit.
# Change the table and re-run that command from the repository root.
"""Typed MIB counters: a class per mib_names.GROUPS group, an int field per counter."""

from __future__ import annotations

from typing import ClassVar, Final

from .mib_group import CounterGroup
from .mib_names import FIXED_VALUES, GROUPS


class TcpExtCounters(CounterGroup):
    """TcpExt counters; NAMES is the kernel's print order."""

    GROUP: ClassVar[str] = "TcpExt"
    NAMES: ClassVar[tuple[str, ...]] = GROUPS["TcpExt"]

    def __init__(self) -> None:
        self.SyncookiesSent: int = 0
        self.SyncookiesRecv: int = 0
        self.SyncookiesFailed: int = 0
        self.EmbryonicRsts: int = 0
        self.PruneCalled: int = 0
        self.RcvPruned: int = 0
        self.OfoPruned: int = 0
        self.OutOfWindowIcmps: int = 0
        self.LockDroppedIcmps: int = 0
        self.ArpFilter: int = 0
        self.TW: int = 0
        self.TWRecycled: int = 0
        self.TWKilled: int = 0
        self.PAWSActive: int = 0
        self.PAWSEstab: int = 0
        self.BeyondWindow: int = 0
        self.TSEcrRejected: int = 0
        self.PAWSOldAck: int = 0
        self.PAWSTimewait: int = 0
        self.DelayedACKs: int = 0
        self.DelayedACKLocked: int = 0
        self.DelayedACKLost: int = 0
        self.ListenOverflows: int = 0
        self.ListenDrops: int = 0
        self.TCPHPHits: int = 0
        self.TCPPureAcks: int = 0
        self.TCPHPAcks: int = 0
        self.TCPRenoRecovery: int = 0
        self.TCPSackRecovery: int = 0
        self.TCPSACKReneging: int = 0
        self.TCPSACKReorder: int = 0
        self.TCPRenoReorder: int = 0
        self.TCPTSReorder: int = 0
        self.TCPFullUndo: int = 0
        self.TCPPartialUndo: int = 0
        self.TCPDSACKUndo: int = 0
        self.TCPLossUndo: int = 0
        self.TCPLostRetransmit: int = 0
        self.TCPRenoFailures: int = 0
        self.TCPSackFailures: int = 0
        self.TCPLossFailures: int = 0
        self.TCPFastRetrans: int = 0
        self.TCPSlowStartRetrans: int = 0
        self.TCPTimeouts: int = 0
        self.TCPLossProbes: int = 0
        self.TCPLossProbeRecovery: int = 0
        self.TCPRenoRecoveryFail: int = 0
        self.TCPSackRecoveryFail: int = 0
        self.TCPRcvCollapsed: int = 0
        self.TCPBacklogCoalesce: int = 0
        self.TCPDSACKOldSent: int = 0
        self.TCPDSACKOfoSent: int = 0
        self.TCPDSACKRecv: int = 0
        self.TCPDSACKOfoRecv: int = 0
        self.TCPAbortOnData: int = 0
        self.TCPAbortOnClose: int = 0
        self.TCPAbortOnMemory: int = 0
        self.TCPAbortOnTimeout: int = 0
        self.TCPAbortOnLinger: int = 0
        self.TCPAbortFailed: int = 0
        self.TCPMemoryPressures: int = 0
        self.TCPMemoryPressuresChrono: int = 0
        self.TCPSACKDiscard: int = 0
        self.TCPDSACKIgnoredOld: int = 0
        self.TCPDSACKIgnoredNoUndo: int = 0
        self.TCPSpuriousRTOs: int = 0
        self.TCPMD5NotFound: int = 0
        self.TCPMD5Unexpected: int = 0
        self.TCPMD5Failure: int = 0
        self.TCPSackShifted: int = 0
        self.TCPSackMerged: int = 0
        self.TCPSackShiftFallback: int = 0
        self.TCPBacklogDrop: int = 0
        self.PFMemallocDrop: int = 0
        self.TCPMinTTLDrop: int = 0
        self.TCPDeferAcceptDrop: int = 0
        self.IPReversePathFilter: int = 0
        self.TCPTimeWaitOverflow: int = 0
        self.TCPReqQFullDoCookies: int = 0
        self.TCPReqQFullDrop: int = 0
        self.TCPRetransFail: int = 0
        self.TCPRcvCoalesce: int = 0
        self.TCPOFOQueue: int = 0
        self.TCPOFODrop: int = 0
        self.TCPOFOMerge: int = 0
        self.TCPChallengeACK: int = 0
        self.TCPSYNChallenge: int = 0
        self.TCPFastOpenActive: int = 0
        self.TCPFastOpenActiveFail: int = 0
        self.TCPFastOpenPassive: int = 0
        self.TCPFastOpenPassiveFail: int = 0
        self.TCPFastOpenListenOverflow: int = 0
        self.TCPFastOpenCookieReqd: int = 0
        self.TCPFastOpenBlackhole: int = 0
        self.TCPSpuriousRtxHostQueues: int = 0
        self.BusyPollRxPackets: int = 0
        self.TCPAutoCorking: int = 0
        self.TCPFromZeroWindowAdv: int = 0
        self.TCPToZeroWindowAdv: int = 0
        self.TCPWantZeroWindowAdv: int = 0
        self.TCPSynRetrans: int = 0
        self.TCPOrigDataSent: int = 0
        self.TCPHystartTrainDetect: int = 0
        self.TCPHystartTrainCwnd: int = 0
        self.TCPHystartDelayDetect: int = 0
        self.TCPHystartDelayCwnd: int = 0
        self.TCPACKSkippedSynRecv: int = 0
        self.TCPACKSkippedPAWS: int = 0
        self.TCPACKSkippedSeq: int = 0
        self.TCPACKSkippedFinWait2: int = 0
        self.TCPACKSkippedTimeWait: int = 0
        self.TCPACKSkippedChallenge: int = 0
        self.TCPWinProbe: int = 0
        self.TCPKeepAlive: int = 0
        self.TCPMTUPFail: int = 0
        self.TCPMTUPSuccess: int = 0
        self.TCPDelivered: int = 0
        self.TCPDeliveredCE: int = 0
        self.TCPAckCompressed: int = 0
        self.TCPZeroWindowDrop: int = 0
        self.TCPRcvQDrop: int = 0
        self.TCPWqueueTooBig: int = 0
        self.TCPFastOpenPassiveAltKey: int = 0
        self.TcpTimeoutRehash: int = 0
        self.TcpDuplicateDataRehash: int = 0
        self.TCPDSACKRecvSegs: int = 0
        self.TCPDSACKIgnoredDubious: int = 0
        self.TCPMigrateReqSuccess: int = 0
        self.TCPMigrateReqFailure: int = 0
        self.TCPPLBRehash: int = 0
        self.TCPAORequired: int = 0
        self.TCPAOBad: int = 0
        self.TCPAOKeyNotFound: int = 0
        self.TCPAOGood: int = 0
        self.TCPAODroppedIcmps: int = 0


class IpExtCounters(CounterGroup):
    """IpExt counters; NAMES is the kernel's print order."""

    GROUP: ClassVar[str] = "IpExt"
    NAMES: ClassVar[tuple[str, ...]] = GROUPS["IpExt"]

    def __init__(self) -> None:
        self.InNoRoutes: int = 0
        self.InTruncatedPkts: int = 0
        self.InMcastPkts: int = 0
        self.OutMcastPkts: int = 0
        self.InBcastPkts: int = 0
        self.OutBcastPkts: int = 0
        self.InOctets: int = 0
        self.OutOctets: int = 0
        self.InMcastOctets: int = 0
        self.OutMcastOctets: int = 0
        self.InBcastOctets: int = 0
        self.OutBcastOctets: int = 0
        self.InCsumErrors: int = 0
        self.InNoECTPkts: int = 0
        self.InECT1Pkts: int = 0
        self.InECT0Pkts: int = 0
        self.InCEPkts: int = 0
        self.ReasmOverlaps: int = 0


class MPTcpExtCounters(CounterGroup):
    """MPTcpExt counters; NAMES is the kernel's print order."""

    GROUP: ClassVar[str] = "MPTcpExt"
    NAMES: ClassVar[tuple[str, ...]] = GROUPS["MPTcpExt"]

    def __init__(self) -> None:
        self.MPCapableSYNRX: int = 0
        self.MPCapableSYNTX: int = 0
        self.MPCapableSYNACKRX: int = 0
        self.MPCapableACKRX: int = 0
        self.MPCapableFallbackACK: int = 0
        self.MPCapableFallbackSYNACK: int = 0
        self.MPCapableSYNTXDrop: int = 0
        self.MPCapableSYNTXDisabled: int = 0
        self.MPCapableEndpAttempt: int = 0
        self.MPFallbackTokenInit: int = 0
        self.MPTCPRetrans: int = 0
        self.MPJoinNoTokenFound: int = 0
        self.MPJoinSynRx: int = 0
        self.MPJoinSynBackupRx: int = 0
        self.MPJoinSynAckRx: int = 0
        self.MPJoinSynAckBackupRx: int = 0
        self.MPJoinSynAckHMacFailure: int = 0
        self.MPJoinAckRx: int = 0
        self.MPJoinAckHMacFailure: int = 0
        self.MPJoinRejected: int = 0
        self.MPJoinSynTx: int = 0
        self.MPJoinSynTxCreatSkErr: int = 0
        self.MPJoinSynTxBindErr: int = 0
        self.MPJoinSynTxConnectErr: int = 0
        self.DSSNotMatching: int = 0
        self.DSSCorruptionFallback: int = 0
        self.DSSCorruptionReset: int = 0
        self.InfiniteMapTx: int = 0
        self.InfiniteMapRx: int = 0
        self.DSSNoMatchTCP: int = 0
        self.DataCsumErr: int = 0
        self.OFOQueueTail: int = 0
        self.OFOQueue: int = 0
        self.OFOMerge: int = 0
        self.NoDSSInWindow: int = 0
        self.DuplicateData: int = 0
        self.AddAddr: int = 0
        self.AddAddrTx: int = 0
        self.AddAddrTxDrop: int = 0
        self.EchoAdd: int = 0
        self.EchoAddTx: int = 0
        self.EchoAddTxDrop: int = 0
        self.PortAdd: int = 0
        self.AddAddrDrop: int = 0
        self.MPJoinPortSynRx: int = 0
        self.MPJoinPortSynAckRx: int = 0
        self.MPJoinPortAckRx: int = 0
        self.MismatchPortSynRx: int = 0
        self.MismatchPortAckRx: int = 0
        self.RmAddr: int = 0
        self.RmAddrDrop: int = 0
        self.RmAddrTx: int = 0
        self.RmAddrTxDrop: int = 0
        self.RmSubflow: int = 0
        self.MPPrioTx: int = 0
        self.MPPrioRx: int = 0
        self.MPFailTx: int = 0
        self.MPFailRx: int = 0
        self.MPFastcloseTx: int = 0
        self.MPFastcloseRx: int = 0
        self.MPRstTx: int = 0
        self.MPRstRx: int = 0
        self.SubflowStale: int = 0
        self.SubflowRecover: int = 0
        self.SndWndShared: int = 0
        self.RcvWndShared: int = 0
        self.RcvWndConflictUpdate: int = 0
        self.RcvWndConflict: int = 0
        self.MPCurrEstab: int = 0
        self.Blackhole: int = 0
        self.MPCapableDataFallback: int = 0
        self.MD5SigFallback: int = 0
        self.DssFallback: int = 0
        self.SimultConnectFallback: int = 0
        self.FallbackFailed: int = 0
        self.WinProbe: int = 0


class IpCounters(CounterGroup):
    """Ip counters; NAMES is the kernel's print order."""

    GROUP: ClassVar[str] = "Ip"
    NAMES: ClassVar[tuple[str, ...]] = GROUPS["Ip"]

    def __init__(self) -> None:
        self.Forwarding: int = FIXED_VALUES["Ip", "Forwarding"]
        self.DefaultTTL: int = FIXED_VALUES["Ip", "DefaultTTL"]
        self.InReceives: int = 0
        self.InHdrErrors: int = 0
        self.InAddrErrors: int = 0
        self.ForwDatagrams: int = 0
        self.InUnknownProtos: int = 0
        self.InDiscards: int = 0
        self.InDelivers: int = 0
        self.OutRequests: int = 0
        self.OutDiscards: int = 0
        self.OutNoRoutes: int = 0
        self.ReasmTimeout: int = 0
        self.ReasmReqds: int = 0
        self.ReasmOKs: int = 0
        self.ReasmFails: int = 0
        self.FragOKs: int = 0
        self.FragFails: int = 0
        self.FragCreates: int = 0
        self.OutTransmits: int = 0


class IcmpCounters(CounterGroup):
    """Icmp counters; NAMES is the kernel's print order."""

    GROUP: ClassVar[str] = "Icmp"
    NAMES: ClassVar[tuple[str, ...]] = GROUPS["Icmp"]

    def __init__(self) -> None:
        self.InMsgs: int = 0
        self.InErrors: int = 0
        self.InCsumErrors: int = 0
        self.InDestUnreachs: int = 0
        self.InTimeExcds: int = 0
        self.InParmProbs: int = 0
        self.InSrcQuenchs: int = 0
        self.InRedirects: int = 0
        self.InEchos: int = 0
        self.InEchoReps: int = 0
        self.InTimestamps: int = 0
        self.InTimestampReps: int = 0
        self.InAddrMasks: int = 0
        self.InAddrMaskReps: int = 0
        self.OutMsgs: int = 0
        self.OutErrors: int = 0
        self.OutRateLimitGlobal: int = 0
        self.OutRateLimitHost: int = 0
        self.OutDestUnreachs: int = 0
        self.OutTimeExcds: int = 0
        self.OutParmProbs: int = 0
        self.OutSrcQuenchs: int = 0
        self.OutRedirects: int = 0
        self.OutEchos: int = 0
        self.OutEchoReps: int = 0
        self.OutTimestamps: int = 0
        self.OutTimestampReps: int = 0
        self.OutAddrMasks: int = 0
        self.OutAddrMaskReps: int = 0


class TcpCounters(CounterGroup):
    """Tcp counters; NAMES is the kernel's print order."""

    GROUP: ClassVar[str] = "Tcp"
    NAMES: ClassVar[tuple[str, ...]] = GROUPS["Tcp"]

    def __init__(self) -> None:
        self.RtoAlgorithm: int = FIXED_VALUES["Tcp", "RtoAlgorithm"]
        self.RtoMin: int = FIXED_VALUES["Tcp", "RtoMin"]
        self.RtoMax: int = FIXED_VALUES["Tcp", "RtoMax"]
        self.MaxConn: int = FIXED_VALUES["Tcp", "MaxConn"]
        self.ActiveOpens: int = 0
        self.PassiveOpens: int = 0
        self.AttemptFails: int = 0
        self.EstabResets: int = 0
        self.CurrEstab: int = 0
        self.InSegs: int = 0
        self.OutSegs: int = 0
        self.RetransSegs: int = 0
        self.InErrs: int = 0
        self.OutRsts: int = 0
        self.InCsumErrors: int = 0


class UdpCounters(CounterGroup):
    """Udp counters; NAMES is the kernel's print order."""

    GROUP: ClassVar[str] = "Udp"
    NAMES: ClassVar[tuple[str, ...]] = GROUPS["Udp"]

    def __init__(self) -> None:
        self.InDatagrams: int = 0
        self.NoPorts: int = 0
        self.InErrors: int = 0
        self.OutDatagrams: int = 0
        self.RcvbufErrors: int = 0
        self.SndbufErrors: int = 0
        self.InCsumErrors: int = 0
        self.IgnoredMulti: int = 0
        self.MemErrors: int = 0


class UdpLiteCounters(CounterGroup):
    """UdpLite counters; NAMES is the kernel's print order."""

    GROUP: ClassVar[str] = "UdpLite"
    NAMES: ClassVar[tuple[str, ...]] = GROUPS["UdpLite"]

    def __init__(self) -> None:
        self.InDatagrams: int = 0
        self.NoPorts: int = 0
        self.InErrors: int = 0
        self.OutDatagrams: int = 0
        self.RcvbufErrors: int = 0
        self.SndbufErrors: int = 0
        self.InCsumErrors: int = 0
        self.IgnoredMulti: int = 0
        self.MemErrors: int = 0


class MibGroups:
    """The base of Mib (mib.py): one attribute per group."""

    def __init__(self) -> None:
        self.tcp_ext: TcpExtCounters = TcpExtCounters()
        self.ip_ext: IpExtCounters = IpExtCounters()
        self.mptcp_ext: MPTcpExtCounters = MPTcpExtCounters()
        self.ip: IpCounters = IpCounters()
        self.icmp: IcmpCounters = IcmpCounters()
        self.tcp: TcpCounters = TcpCounters()
        self.udp: UdpCounters = UdpCounters()
        self.udp_lite: UdpLiteCounters = UdpLiteCounters()


# group name -> MibGroups attribute
GROUP_ATTRS: Final[dict[str, str]] = {
    "TcpExt": "tcp_ext",
    "IpExt": "ip_ext",
    "MPTcpExt": "mptcp_ext",
    "Ip": "ip",
    "Icmp": "icmp",
    "Tcp": "tcp",
    "Udp": "udp",
    "UdpLite": "udp_lite",
}
