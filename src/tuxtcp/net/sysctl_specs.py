"""The sysctl table: /proc/sys names, Linux 6.12+ defaults, ranges and docs.

Ranges were read off the kernel this project is checked against (writes that /proc/sys accepted
and refused in a fresh netns). tcp_max_syn_backlog and tcp_max_tw_buckets scale with RAM in the
kernel (ehash size); we take the values a fresh netns showed on the reference machine (2048 and
131072) so runs do not depend on the host. tools/gen_typed_fields.py turns the names into the
typed fields of sysctl_fields.py; defaults are read from here at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

INT_MAX: Final = 2**31 - 1
INT_MIN: Final = -(2**31)
HZ: Final = 250

Value = int | tuple[int, ...] | str
# the congestion controls tuxtcp has (tcp/cong.py registers one ops object per name; a test
# holds the two lists equal), in the order /proc lists them
CONGESTION_CONTROLS: Final = ("reno", "cubic")


@dataclass(frozen=True)
class SysctlSpec:
    name: str
    default: Value
    lo: int = INT_MIN
    hi: int = INT_MAX
    pair: bool = False
    triple: bool = False
    doc: str = ""
    # a text sysctl: the values a write may take (anything else: ENOENT, as
    # tcp_set_default_congestion_control answers for an unknown name)
    choices: tuple[str, ...] = ()
    readonly: bool = False  # mode 0444: a write fails with EACCES, even for root


_SPECS: tuple[SysctlSpec, ...] = (
    SysctlSpec("net.core.somaxconn", 4096, 0, INT_MAX, doc="listen() backlog cap (SOMAXCONN)"),
    # host-wide in the kernel (this namespace is a whole machine); the kernel's defaults
    SysctlSpec("net.core.rmem_max", 212992, 0, INT_MAX,
               doc="SO_RCVBUF cap; also sizes the window scale"),
    SysctlSpec("net.core.wmem_max", 212992, 0, INT_MAX, doc="SO_SNDBUF cap"),
    SysctlSpec("net.ipv4.tcp_max_syn_backlog", 2048, doc="only the 3/4 rule with cookies off"),
    SysctlSpec("net.ipv4.tcp_syncookies", 1, 0, 255,
               doc="0 never, 1 on SYN-queue overflow, 2 always"),
    SysctlSpec("net.ipv4.tcp_synack_retries", 5, 0, 255),
    SysctlSpec("net.ipv4.tcp_syn_retries", 6, 1, 127),
    SysctlSpec("net.ipv4.tcp_syn_linear_timeouts", 4, 0, 127),
    SysctlSpec("net.ipv4.tcp_abort_on_overflow", 0, 0, 255),
    SysctlSpec("net.ipv4.ip_local_port_range", (32768, 60999), 1, 65535, pair=True),
    SysctlSpec("net.ipv4.ip_unprivileged_port_start", 1024, 0, 65535),
    SysctlSpec("net.ipv4.ip_nonlocal_bind", 0, 0, 255),
    SysctlSpec("net.ipv4.ip_no_pmtu_disc", 0, 0, 255,
               doc="0: ICMP 'fragmentation needed' lowers the path MTU (2: ignored; 1 and 3 "
                   "as 0 here: no UDP, no DF-less sending modelled)"),
    SysctlSpec("net.ipv4.route.min_pmtu", 552, 68, INT_MAX,
               doc="a path MTU learned below this is raised to it and locked (DF off)"),
    SysctlSpec("net.ipv4.route.mtu_expires", 600, doc="seconds a learned path MTU lasts"),
    SysctlSpec("net.ipv4.tcp_timestamps", 1, 0, 255, doc="1 random offset per flow, 2 no offset"),
    SysctlSpec("net.ipv4.tcp_sack", 1, 0, 255),
    SysctlSpec("net.ipv4.tcp_recovery", 1, 0, 255,
               doc="RACK's bits: 0x4 keeps the reordering window at 3 SACKed segments; 0x2 "
                   "(a fixed window) is not modelled; 0x1 is RACK, the only loss detection "
                   "of a SACK connection since 6.17 whatever it says"),
    SysctlSpec("net.ipv4.tcp_reordering", 3, 1, 300,
               doc="the reordering degree a connection starts with (segments)"),
    SysctlSpec("net.ipv4.tcp_max_reordering", 300, 1, INT_MAX,
               doc="the most a connection's reordering degree may grow to"),
    SysctlSpec("net.ipv4.tcp_slow_start_after_idle", 1, 0, 255,
               doc="after an RTO of idleness cwnd restarts (halved per RTO, to the initial "
                   "window)"),
    SysctlSpec("net.ipv4.tcp_frto", 2, 0, 255,
               doc="F-RTO after an RTO (RFC 5682, SACK-enhanced); any non-zero value"),
    SysctlSpec("net.ipv4.tcp_dsack", 1, 0, 255,
               doc="report duplicate data received in the first SACK block (RFC 2883)"),
    SysctlSpec("net.ipv4.tcp_early_retrans", 3, 0, 4,
               doc="3 or 4: tail loss probes (TLP); 0-2: none (early retransmit itself went "
                   "with RACK, which loss detection always is since 6.17)"),
    SysctlSpec("net.ipv4.tcp_congestion_control", "cubic", choices=CONGESTION_CONTROLS,
               doc="what new sockets get (a listener's children too, unless it chose one by "
                   "TCP_CONGESTION); Linux's built-in default, CONFIG_DEFAULT_TCP_CONG"),
    # each namespace is a whole machine: init_net's lists, read-only here (init_net lets root
    # restrict the allowed list; tuxtcp's socket API runs as root, which may pick any)
    SysctlSpec("net.ipv4.tcp_available_congestion_control", " ".join(CONGESTION_CONTROLS),
               choices=(" ".join(CONGESTION_CONTROLS),), readonly=True),
    SysctlSpec("net.ipv4.tcp_allowed_congestion_control", " ".join(CONGESTION_CONTROLS),
               choices=(" ".join(CONGESTION_CONTROLS),), readonly=True),
    SysctlSpec("net.ipv4.tcp_window_scaling", 1, 0, 255),
    SysctlSpec("net.ipv4.tcp_fin_timeout", 60, INT_MIN // HZ, INT_MAX // HZ),
    SysctlSpec("net.ipv4.tcp_tw_reuse", 2, 0, 2, doc="2 = loopback only"),
    SysctlSpec("net.ipv4.tcp_ecn", 2, 0, 2),
    SysctlSpec("net.ipv4.tcp_rfc1337", 0, 0, 255),
    SysctlSpec("net.ipv4.tcp_max_tw_buckets", 131072),
    SysctlSpec("net.ipv4.tcp_invalid_ratelimit", 500, 0, INT_MAX, doc="ms"),
    SysctlSpec("net.ipv4.tcp_keepalive_time", 7200, INT_MIN // HZ, INT_MAX // HZ,
               doc="idle seconds before the first keepalive probe"),
    SysctlSpec("net.ipv4.tcp_keepalive_intvl", 75, INT_MIN // HZ, INT_MAX // HZ),
    SysctlSpec("net.ipv4.tcp_keepalive_probes", 9, 0, 255),
    SysctlSpec("net.ipv4.tcp_min_snd_mss", 48, 48, 65535,
               doc="floor of the MSS we send with, whatever the peer's MSS option says"),
    SysctlSpec("net.ipv4.tcp_challenge_ack_limit", INT_MAX),
    SysctlSpec("net.ipv4.tcp_migrate_req", 0, 0, 1),
    SysctlSpec("net.ipv4.ip_autobind_reuse", 0, 0, 1),
    SysctlSpec("net.ipv4.tcp_fastopen", 1),
    SysctlSpec("net.ipv4.tcp_orphan_retries", 0, 0, 255),
    SysctlSpec("net.ipv4.tcp_retries1", 3, 0, 255,
               doc="RTO backoffs before black-hole detection (route re-lookup, MTU probing)"),
    SysctlSpec("net.ipv4.tcp_retries2", 15, 0, 255),
    SysctlSpec("net.ipv4.tcp_pingpong_thresh", 1, 1, 255,
               doc="replies within ato before ACKs wait for data (pingpong mode)"),
    SysctlSpec("net.ipv4.tcp_min_tso_segs", 2, 1, 255,
               doc="fewest segments a TSO packet may carry"),
    SysctlSpec("net.ipv4.tcp_tso_win_divisor", 3, 0, 255,
               doc="a TSO packet is held back until 1/N of the window may leave (0: 3 MSS)"),
    SysctlSpec("net.ipv4.tcp_tso_rtt_log", 9, 0, 255,
               doc="log2 of the min RTT (us) that halves the GSO share of a TSO packet"),
    SysctlSpec("net.ipv4.tcp_pacing_ss_ratio", 200, 0, 1000,
               doc="pacing rate in % of cwnd * mss / srtt in slow start (sizes TSO packets)"),
    SysctlSpec("net.ipv4.tcp_pacing_ca_ratio", 120, 0, 1000,
               doc="the same in congestion avoidance"),
    # host-wide in the kernel (ipv4_table: only init_net shows them); here each namespace is a
    # whole machine. Both scale with RAM; these are the reference machine's values.
    SysctlSpec("net.ipv4.tcp_max_orphans", 131072, 0, INT_MAX,
               doc="orphaned sockets allowed before tcp_out_of_resources kills them"),
    SysctlSpec("net.ipv4.tcp_mem", (287901, 383868, 575802), 0, 2**63 - 1, triple=True,
               doc="pages: no pressure below, pressure above, hard limit above"),
    SysctlSpec("net.ipv4.tcp_rmem", (4096, 131072, 33554432), 1, INT_MAX, triple=True,
               doc="receive buffer: min, default (sk_rcvbuf), max (auto-tuning and the "
                   "window scale; 32 MiB since 6.18, as a fresh 6.18 netns shows)"),
    SysctlSpec("net.ipv4.tcp_app_win", 31, 0, 31,
               doc="hold back 1/2^n of the buffer's window from the peer (0: none)"),
    SysctlSpec("net.ipv4.tcp_workaround_signed_windows", 0, 0, 255,
               doc="offer at most 32767 without window scaling"),
    SysctlSpec("net.ipv4.tcp_moderate_rcvbuf", 1, 0, 255,
               doc="receive buffer auto-tuning (0: sk_rcvbuf stays)"),
    SysctlSpec("net.ipv4.tcp_wmem", 16384, doc="default send buffer (middle value)"),
)
SPECS: dict[str, SysctlSpec] = {s.name: s for s in _SPECS}


def attr_name(name: str) -> str:
    """A sysctl's typed field: its last /proc/sys component (net.core.somaxconn -> somaxconn)."""
    return name.rsplit(".", 1)[-1]


def default_int(name: str) -> int:
    value = SPECS[name].default
    assert isinstance(value, int), name
    return value


def default_text(name: str) -> str:
    value = SPECS[name].default
    assert isinstance(value, str), name
    return value


def default_pair(name: str) -> tuple[int, int]:
    value = SPECS[name].default
    assert isinstance(value, tuple) and len(value) == 2, name
    return (value[0], value[1])


def default_triple(name: str) -> tuple[int, int, int]:
    value = SPECS[name].default
    assert isinstance(value, tuple) and len(value) == 3, name
    return (value[0], value[1], value[2])
