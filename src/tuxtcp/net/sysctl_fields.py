# Generated from src/tuxtcp/net/sysctl_specs.py by `python tools/gen_typed_fields.py`; do not edit.
# Change the table and re-run that command from the repository root.
"""Typed sysctl storage: a field per sysctl_specs.SPECS entry, by its last component."""

from __future__ import annotations

from .sysctl_specs import default_int, default_pair, default_text, default_triple


class SysctlFields:
    """The base of Sysctls (sysctl.py), which validates writes; defaults from SPECS."""

    def __init__(self) -> None:
        self.somaxconn: int = default_int("net.core.somaxconn")
        self.rmem_max: int = default_int("net.core.rmem_max")
        self.wmem_max: int = default_int("net.core.wmem_max")
        self.tcp_max_syn_backlog: int = default_int("net.ipv4.tcp_max_syn_backlog")
        self.tcp_syncookies: int = default_int("net.ipv4.tcp_syncookies")
        self.tcp_synack_retries: int = default_int("net.ipv4.tcp_synack_retries")
        self.tcp_syn_retries: int = default_int("net.ipv4.tcp_syn_retries")
        self.tcp_syn_linear_timeouts: int = default_int("net.ipv4.tcp_syn_linear_timeouts")
        self.tcp_abort_on_overflow: int = default_int("net.ipv4.tcp_abort_on_overflow")
        self.ip_local_port_range: tuple[int, int] = default_pair("net.ipv4.ip_local_port_range")
        self.ip_unprivileged_port_start: int = default_int("net.ipv4.ip_unprivileged_port_start")
        self.ip_nonlocal_bind: int = default_int("net.ipv4.ip_nonlocal_bind")
        self.ip_no_pmtu_disc: int = default_int("net.ipv4.ip_no_pmtu_disc")
        self.min_pmtu: int = default_int("net.ipv4.route.min_pmtu")
        self.mtu_expires: int = default_int("net.ipv4.route.mtu_expires")
        self.tcp_timestamps: int = default_int("net.ipv4.tcp_timestamps")
        self.tcp_sack: int = default_int("net.ipv4.tcp_sack")
        self.tcp_recovery: int = default_int("net.ipv4.tcp_recovery")
        self.tcp_reordering: int = default_int("net.ipv4.tcp_reordering")
        self.tcp_max_reordering: int = default_int("net.ipv4.tcp_max_reordering")
        self.tcp_slow_start_after_idle: int = default_int("net.ipv4.tcp_slow_start_after_idle")
        self.tcp_frto: int = default_int("net.ipv4.tcp_frto")
        self.tcp_dsack: int = default_int("net.ipv4.tcp_dsack")
        self.tcp_early_retrans: int = default_int("net.ipv4.tcp_early_retrans")
        self.tcp_congestion_control: str = default_text("net.ipv4.tcp_congestion_control")
        self.tcp_available_congestion_control: str = default_text("net.ipv4.tcp_available_congestion_control")  # noqa: E501
        self.tcp_allowed_congestion_control: str = default_text("net.ipv4.tcp_allowed_congestion_control")  # noqa: E501
        self.tcp_window_scaling: int = default_int("net.ipv4.tcp_window_scaling")
        self.tcp_fin_timeout: int = default_int("net.ipv4.tcp_fin_timeout")
        self.tcp_tw_reuse: int = default_int("net.ipv4.tcp_tw_reuse")
        self.tcp_ecn: int = default_int("net.ipv4.tcp_ecn")
        self.tcp_rfc1337: int = default_int("net.ipv4.tcp_rfc1337")
        self.tcp_max_tw_buckets: int = default_int("net.ipv4.tcp_max_tw_buckets")
        self.tcp_invalid_ratelimit: int = default_int("net.ipv4.tcp_invalid_ratelimit")
        self.tcp_keepalive_time: int = default_int("net.ipv4.tcp_keepalive_time")
        self.tcp_keepalive_intvl: int = default_int("net.ipv4.tcp_keepalive_intvl")
        self.tcp_keepalive_probes: int = default_int("net.ipv4.tcp_keepalive_probes")
        self.tcp_min_snd_mss: int = default_int("net.ipv4.tcp_min_snd_mss")
        self.tcp_challenge_ack_limit: int = default_int("net.ipv4.tcp_challenge_ack_limit")
        self.tcp_migrate_req: int = default_int("net.ipv4.tcp_migrate_req")
        self.ip_autobind_reuse: int = default_int("net.ipv4.ip_autobind_reuse")
        self.tcp_fastopen: int = default_int("net.ipv4.tcp_fastopen")
        self.tcp_orphan_retries: int = default_int("net.ipv4.tcp_orphan_retries")
        self.tcp_retries1: int = default_int("net.ipv4.tcp_retries1")
        self.tcp_retries2: int = default_int("net.ipv4.tcp_retries2")
        self.tcp_pingpong_thresh: int = default_int("net.ipv4.tcp_pingpong_thresh")
        self.tcp_min_tso_segs: int = default_int("net.ipv4.tcp_min_tso_segs")
        self.tcp_tso_win_divisor: int = default_int("net.ipv4.tcp_tso_win_divisor")
        self.tcp_tso_rtt_log: int = default_int("net.ipv4.tcp_tso_rtt_log")
        self.tcp_pacing_ss_ratio: int = default_int("net.ipv4.tcp_pacing_ss_ratio")
        self.tcp_pacing_ca_ratio: int = default_int("net.ipv4.tcp_pacing_ca_ratio")
        self.tcp_max_orphans: int = default_int("net.ipv4.tcp_max_orphans")
        self.tcp_mem: tuple[int, int, int] = default_triple("net.ipv4.tcp_mem")
        self.tcp_rmem: tuple[int, int, int] = default_triple("net.ipv4.tcp_rmem")
        self.tcp_app_win: int = default_int("net.ipv4.tcp_app_win")
        self.tcp_workaround_signed_windows: int = default_int("net.ipv4.tcp_workaround_signed_windows")  # noqa: E501
        self.tcp_moderate_rcvbuf: int = default_int("net.ipv4.tcp_moderate_rcvbuf")
        self.tcp_wmem: int = default_int("net.ipv4.tcp_wmem")
