"""The typed MIB and sysctl fields: generated from the tables, in step with the mapping views,
and checked by mypy."""

from __future__ import annotations

import errno
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from tuxtcp.net.mib import Mib
from tuxtcp.net.mib_fields import GROUP_ATTRS
from tuxtcp.net.mib_group import CounterGroup
from tuxtcp.net.mib_names import FIXED_VALUES, GROUPS
from tuxtcp.net.sysctl import SPECS, Sysctls, SysctlSpec, Value
from tuxtcp.net.sysctl_specs import attr_name
from tuxtcp.tcp.engine import Namespace

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "gen_typed_fields.py"
NET = ROOT / "src" / "tuxtcp" / "net"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_typed_fields", TOOL)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_files_are_up_to_date(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(TOOL), "--out", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in ("mib_fields.py", "sysctl_fields.py"):
        fresh = (tmp_path / name).read_text()
        assert fresh.startswith("# Generated from ")
        assert "python tools/gen_typed_fields.py" in fresh.splitlines()[0]
        assert (NET / name).read_text() == fresh, f"{name} is stale: run {TOOL.name}"


def test_generator_refuses_clashing_sysctl_fields() -> None:
    gen = _generator()
    specs = {n: SysctlSpec(n, 0) for n in ("net.ipv4.tcp_foo", "net.ipv6.tcp_foo")}
    with pytest.raises(gen.GenError, match="tcp_foo"):
        gen.gen_sysctl(specs, attr_name, set())
    with pytest.raises(gen.GenError, match="clashes"):
        gen.gen_sysctl({"net.x.update": SysctlSpec("net.x.update", 0)}, attr_name, {"update"})


def test_every_counter_is_a_field_with_its_initial_value() -> None:
    mib = Mib()
    assert list(GROUP_ATTRS) == list(GROUPS)
    for group, names in GROUPS.items():
        counters = mib.group(group)
        assert getattr(mib, GROUP_ATTRS[group]) is counters
        assert (group, names) == (counters.GROUP, counters.NAMES)
        assert type(counters).__name__ == f"{group}Counters"
        for n in names:
            want = FIXED_VALUES.get((group, n), 0)
            assert getattr(counters, n) == want, f"{group}.{n}"
            assert counters[n] == want and mib[f"{group}.{n}"] == want
    assert mib.tcp.MaxConn == -1 and mib.ip.DefaultTTL == 64
    assert len(mib) == sum(len(v) for v in GROUPS.values()) == len(mib.snapshot())


def test_no_field_shadows_a_method() -> None:
    def defined(cls: type) -> set[str]:
        return {k for c in cls.__mro__ if c is not object for k, v in vars(c).items()
                if callable(v) or isinstance(v, (staticmethod, classmethod, property))}

    for names in GROUPS.values():
        assert not set(names) & (defined(CounterGroup) | {"GROUP", "NAMES"})
    assert not set(GROUP_ATTRS.values()) & defined(Mib)
    assert not {attr_name(n) for n in SPECS} & defined(Sysctls)


def test_counter_fields_and_mapping_views_agree() -> None:
    mib = Mib()
    before = mib.snapshot()
    mib.tcp_ext.ListenOverflows += 1
    mib.tcp_ext["ListenDrops"] += 2  # the item form kept for run-time names
    mib.bump("Tcp", "InCsumErrors", 3)
    mib.tcp.OutSegs += 4
    assert mib.tcp_ext.ListenDrops == 2 and mib.tcp.InCsumErrors == 3
    assert mib["ListenOverflows"] == 1 and mib["TcpExt.ListenDrops"] == 2
    assert mib.get("Tcp.InCsumErrors") == 3 and mib.get("NoSuchCounter", 7) == 7
    assert mib.delta(before) == {"TcpExt.ListenOverflows": 1, "TcpExt.ListenDrops": 2,
                                 "Tcp.InCsumErrors": 3, "Tcp.OutSegs": 4}
    assert dict(mib.items()) == mib.snapshot() and mib.keys() == list(mib.snapshot())
    assert mib.values() == list(mib.snapshot().values())
    assert "OutSegs" in mib and "Tcp.OutSegs" in mib and "Tcp.Nope" not in mib
    assert 5 not in mib
    assert list(mib.tcp) == list(GROUPS["Tcp"]) and "OutSegs" in mib.tcp
    lines = mib.render_two_line(("Tcp",)).splitlines()
    assert lines[0] == "Tcp: " + " ".join(GROUPS["Tcp"])
    assert lines[1].split()[GROUPS["Tcp"].index("OutSegs") + 1] == "4"
    with pytest.raises(KeyError, match="ambiguous"):
        mib["InCsumErrors"]
    for bad in ("ListenOverflow", "NAMES", "GROUP", "items", "__init__"):
        with pytest.raises(KeyError):
            mib.tcp_ext[bad]
        with pytest.raises(KeyError):
            mib.tcp_ext[bad] = 1
    with pytest.raises(KeyError):
        mib.bump("TcpExtra", "ListenDrops")
    with pytest.raises(KeyError):
        mib.group("Tcp.OutSegs")


def test_sysctl_fields_and_mapping_views_agree() -> None:
    sc = Sysctls()
    seen: list[tuple[str, Value]] = []
    sc.watch(lambda name, value: seen.append((name, value)))
    for name, spec in SPECS.items():
        assert getattr(sc, attr_name(name)) == spec.default == sc[name]
    sc["net.ipv4.tcp_syncookies"] = "2"
    sc["net.core.somaxconn"] = 16
    sc["net.ipv4.ip_local_port_range"] = "40000 40003"
    sc.update({"net.ipv4.tcp_sack": 0}, **{"net.ipv4.tcp_fin_timeout": 30})
    assert sc.tcp_syncookies == 2 == sc["net.ipv4.tcp_syncookies"]
    assert sc.get_int("net.ipv4.tcp_syncookies") == 2
    assert sc.somaxconn == 16 and sc.tcp_sack == 0 and sc.tcp_fin_timeout == 30
    assert sc.ip_local_port_range == (40000, 40003) == sc["net.ipv4.ip_local_port_range"]
    assert sc.render("net.ipv4.ip_local_port_range") == "40000\t40003"
    assert seen[:3] == [("net.ipv4.tcp_syncookies", 2), ("net.core.somaxconn", 16),
                        ("net.ipv4.ip_local_port_range", (40000, 40003))]
    assert dict(sc.items()) == {n: getattr(sc, attr_name(n)) for n in SPECS}
    assert list(sc) == sc.keys() == list(SPECS) and len(sc) == len(SPECS)
    assert sc.values() == [v for _, v in sc.items()]
    with pytest.raises(OSError) as e:
        sc["net.ipv4.tcp_syncookies"] = 256
    assert e.value.errno == errno.EINVAL and sc.tcp_syncookies == 2
    with pytest.raises(OSError):
        sc["net.ipv4.ip_local_port_range"] = (5000, 4000)
    assert sc.ip_local_port_range == (40000, 40003) and len(seen) == 5
    with pytest.raises(KeyError):
        sc["net.ipv4.tcp_syncookie"] = 1
    with pytest.raises(KeyError):
        sc["net.ipv4.tcp_syncookie"]
    assert "net.ipv4.tcp_syncookies" in sc and "tcp_syncookies" not in sc
    assert sc.get("net.ipv4.nope") is None and sc.get("net.core.somaxconn") == 16


SNIPPET = """\
from tuxtcp.tcp.engine import Namespace


def use(ns: Namespace) -> int:
    ns.mib.tcp_ext.ListenOverflows += 1
    ns.mib.tcp_ext["ListenOverflows"] += 1
    ns.mib.ip.InReceives += 1
    low, high = ns.sysctl.ip_local_port_range
    ns.mib.tcp_ext.ListenOverflow += 1
    return ns.sysctl.tcp_syncookie + low + high
"""


def test_mypy_rejects_a_misspelt_field(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    (tmp_path / "snippet.py").write_text(SNIPPET)
    (tmp_path / "mypy.ini").write_text(textwrap.dedent(f"""\
        [mypy]
        mypy_path = {ROOT / "src"}
        ignore_missing_imports = True
        disallow_untyped_defs = True
        cache_dir = {tmp_path / "cache"}
        """))
    out, err, _ = api.run(["--config-file", str(tmp_path / "mypy.ini"), "--no-error-summary",
                           "--hide-error-context", str(tmp_path / "snippet.py")])
    errors = {int(line.split(":")[1]): line.split(": error: ", 1)[1]
              for line in out.splitlines() if ": error: " in line}
    assert sorted(errors) == [9, 10], out + err  # the correct lines above them type-check
    assert errors[9].startswith('"TcpExtCounters" has no attribute "ListenOverflow"')
    assert errors[10].startswith('"Sysctls" has no attribute "tcp_syncookie"')


def test_namespace_counts_parse_errors_by_name() -> None:
    from tuxtcp.wire.errors import IpChecksumError, TcpChecksumError

    ns = Namespace("n", ["198.18.0.1"])
    ns.count_parse_error(IpChecksumError("bad"))
    ns.count_parse_error(TcpChecksumError("bad"))
    assert ns.mib.ip.InReceives == 2 and ns.mib.ip.InDelivers == 1 and ns.mib.tcp.InSegs == 1
    assert ns.mib.ip_ext.InCsumErrors == 1 and ns.mib.ip.InHdrErrors == 1
    assert ns.mib.tcp.InCsumErrors == 1 and ns.mib.tcp.InErrs == 1
