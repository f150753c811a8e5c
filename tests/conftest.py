import os
import shutil
import subprocess

import pytest


def _can_netns() -> str | None:
    if os.geteuid() != 0:
        return "needs root (CAP_SYS_ADMIN) for network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2's ip command"
    r = subprocess.run(["ip", "netns", "add", "tuxtcp_probe"], capture_output=True)
    if r.returncode != 0:
        return "cannot create network namespaces: " + r.stderr.decode().strip()
    subprocess.run(["ip", "netns", "del", "tuxtcp_probe"], capture_output=True)
    return None


@pytest.fixture(scope="session")
def netns_ok() -> None:
    reason = _can_netns()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run root tests but: {reason}")
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _shared_empty_queues_stay_empty():  # type: ignore[no-untyped-def]
    """Idle sockets share one empty retransmission queue, out-of-order queue and SACK
    scoreboard; a test that leaves something in them has found a socket that wrote in place.
    The retransmission queues kept for reuse (rtx_give_up) are empty too."""
    yield
    from tuxtcp.tcp.sock import (
        _SPARE_RTX_QUEUES,
        EMPTY_OOO,
        EMPTY_RANGES,
        EMPTY_RTX_QUEUE,
        EMPTY_SCOREBOARD,
    )

    assert not EMPTY_RTX_QUEUE and not EMPTY_OOO and not EMPTY_RANGES
    assert not any(_SPARE_RTX_QUEUES)
    assert EMPTY_SCOREBOARD.empty() and EMPTY_SCOREBOARD.high_sacked == 0
