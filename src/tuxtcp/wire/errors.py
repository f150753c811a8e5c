"""Typed parse errors. Each names the MIB counters the kernel bumps when it drops such input and
the skb_drop_reason it frees the packet with."""


class ParseError(ValueError):
    """Malformed input. `mib` lists (group, counter) pairs to bump; the packet is dropped."""

    mib: tuple[tuple[str, str], ...] = ()
    stage = "ip"  # "ip": dropped before the TCP layer saw it; "tcp": InSegs was counted
    drop_reason = "NOT_SPECIFIED"


class IpHeaderError(ParseError):
    """ip_rcv_core: short header, bad version/IHL or length -> inhdr_error."""

    mib = (("Ip", "InHdrErrors"),)
    drop_reason = "IP_INHDR"


class IpChecksumError(ParseError):
    """ip_rcv_core: ip_fast_csum failed -> csum_error (IpExt InCsumErrors) then inhdr_error,
    which keeps the reason IP_CSUM."""

    mib = (("IpExt", "InCsumErrors"), ("Ip", "InHdrErrors"))
    drop_reason = "IP_CSUM"


class IpTruncatedError(ParseError):
    """ip_rcv_core: tot_len larger than the frame -> InTruncatedPkts, drop (PKT_TOO_SMALL)."""

    mib = (("IpExt", "InTruncatedPkts"),)
    drop_reason = "PKT_TOO_SMALL"


class IpFragmentError(ParseError):
    """A fragment: tuxtcp does not reassemble; counted at once as the failed reassembly the
    kernel counts when the fragment queue times out (ip_expire: FRAG_REASM_TIMEOUT)."""

    mib = (("Ip", "ReasmReqds"), ("Ip", "ReasmFails"))
    drop_reason = "FRAG_REASM_TIMEOUT"


class TcpTruncatedError(ParseError):
    """tcp_v4_rcv: pskb_may_pull failed -> discard_it (InSegs already counted, nothing else;
    the reason is still NOT_SPECIFIED there)."""

    stage = "tcp"
    mib = ()
    drop_reason = "NOT_SPECIFIED"


class TcpHeaderError(ParseError):
    """tcp_v4_rcv: doff < 5 -> PKT_TOO_SMALL, bad_packet (InErrs)."""

    stage = "tcp"
    mib = (("Tcp", "InErrs"),)
    drop_reason = "PKT_TOO_SMALL"


class TcpChecksumError(ParseError):
    """tcp_v4_rcv: checksum failed -> csum_error (InCsumErrors, TCP_CSUM) then bad_packet
    (InErrs)."""

    stage = "tcp"
    mib = (("Tcp", "InCsumErrors"), ("Tcp", "InErrs"))
    drop_reason = "TCP_CSUM"


class IcmpChecksumError(ParseError):
    """icmp_rcv: a bad checksum -> Icmp InCsumErrors and InErrors, dropped."""

    mib = (("Icmp", "InMsgs"), ("Icmp", "InCsumErrors"), ("Icmp", "InErrors"))
    drop_reason = "ICMP_CSUM"


class IcmpTruncatedError(ParseError):
    """icmp_rcv / icmp_unreach: too short for its header or the quote -> InErrors."""

    mib = (("Icmp", "InMsgs"), ("Icmp", "InErrors"))
    drop_reason = "PKT_TOO_SMALL"
