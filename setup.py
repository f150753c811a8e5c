"""Build: the engine's hot modules are compiled with mypyc (same source, C speed, types checked
at run time). TUXTCP_PURE=1 installs plain Python instead; the behaviour is the same."""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import setup

# The packet path and the simulator: wire codecs, the TCP engine, namespaces, timers, the
# simulated world and the socket API. Front ends (cli, simulate, most of observe and host)
# stay Python.
COMPILED = ["wire", "tcp", "net", "link", "sim", "socket", "siphash.py"]
# The socket views' hot loops (records, the ss renderer, the sock_diag reader: tens of
# thousands of sockets a listing), in a shared library of their own, so that `tuxtcp ss` on
# the host loads them without the engine's (loading that one costs about 20 ms).
VIEWS = ["observe/records.py", "observe/ss.py", "host/sockdiag.py"]
# Exception classes with class-level MIB tables stay Python (mypyc native exceptions cannot
# carry class attributes).
NOT_COMPILED = {"wire/errors.py", "link/tun.py"}  # tun.py: TunError is an OSError


def _modules(entries: list[str]) -> list[str]:
    root = Path("src/tuxtcp")
    out: list[str] = []
    for entry in entries:
        path = root / entry
        files = [path] if path.suffix == ".py" else sorted(path.glob("*.py"))
        out += [str(f) for f in files if str(f.relative_to(root)) not in NOT_COMPILED]
    return out


ext_modules = []
if os.environ.get("TUXTCP_PURE", "") not in ("1", "true", "yes"):
    from mypyc.build import mypycify

    engine, views = _modules(COMPILED), _modules(VIEWS)
    ext_modules = mypycify(["--config-file=pyproject.toml", *engine, *views], opt_level="3",
                           separate=[(engine, "tuxtcp_engine"), (views, "tuxtcp_views")])

setup(ext_modules=ext_modules)
