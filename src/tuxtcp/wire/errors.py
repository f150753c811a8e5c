"""Typed parse errors. Each names the MIB counters the kernel bumps when it drops such input."""


class ParseError(ValueError):
    """Malformed input. `mib` lists (group, counter) pairs to bump; the packet is dropped."""

    mib: tuple[tuple[str, str], ...] = ()
    stage = "ip"  # "ip": dropped before the TCP layer saw it; "tcp": InSegs was counted


class IpHeaderError(ParseError):
    """ip_rcv_core: short header, bad version/IHL or length -> inhdr_error."""

    mib = (("Ip", "InHdrErrors"),)


class IpChecksumError(ParseError):
    """ip_rcv_core: ip_fast_csum failed -> csum_error (IpExt InCsumErrors) then inhdr_error."""

    mib = (("IpExt", "InCsumErrors"), ("Ip", "InHdrErrors"))


class IpTruncatedError(ParseError):
    """ip_rcv_core: tot_len larger than the frame -> InTruncatedPkts, drop."""

    mib = (("IpExt", "InTruncatedPkts"),)


class IpFragmentError(ParseError):
    """A fragment: tuxtcp does not reassemble; counted as a failed reassembly."""

    mib = (("Ip", "ReasmReqds"), ("Ip", "ReasmFails"))


class TcpTruncatedError(ParseError):
    stage = "tcp"
    """tcp_v4_rcv: pskb_may_pull failed -> discard_it (InSegs already counted, nothing else)."""

    mib = ()


class TcpHeaderError(ParseError):
    stage = "tcp"
    """tcp_v4_rcv: doff < 5 -> bad_packet (InErrs)."""

    mib = (("Tcp", "InErrs"),)


class TcpChecksumError(ParseError):
    stage = "tcp"
    """tcp_v4_rcv: checksum failed -> csum_error (InCsumErrors) then bad_packet (InErrs)."""

    mib = (("Tcp", "InCsumErrors"), ("Tcp", "InErrs"))
