#!/usr/bin/env python3
"""Write the typed-field modules from the name tables.

    python tools/gen_typed_fields.py             # rewrite src/tuxtcp/net/{mib,sysctl}_fields.py
    python tools/gen_typed_fields.py --check     # exit 1 if either file is out of date
    python tools/gen_typed_fields.py --out DIR   # write both files into DIR instead

mib_fields.py gets one class per group of mib_names.GROUPS (TcpExt -> TcpExtCounters) with one
int field per counter, named as the kernel prints it, and MibGroups, the base of Mib, with one
attribute per group (TcpExt -> tcp_ext). sysctl_fields.py gets SysctlFields, the base of
Sysctls, with one field per sysctl_specs.SPECS entry named by its last /proc/sys component.

Only names and types are copied. The print order (NAMES), the FIXED_VALUES values and the
sysctl defaults are imported from the tables at run time, so each has one home and changing a
value needs no regeneration. Adding, removing, renaming or reordering counters, groups or
sysctls, or adding or removing a FIXED_VALUES entry, does: tests/test_typed_fields.py fails
until it is done.

The tables are loaded by file path, not through the tuxtcp package, so this runs with the
generated modules missing or broken. Plain Python, standard library only.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import keyword
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NET = ROOT / "src" / "tuxtcp" / "net"
COMMAND = "python tools/gen_typed_fields.py"
MAX_LINE = 100  # ruff line-length (pyproject.toml)


class GenError(Exception):
    """A table the generator cannot turn into fields (clash, bad identifier)."""


def load(path: Path) -> ModuleType:
    """Import one table module by file path, without the package (stdlib imports only)."""
    name = f"_gen_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look the module up while building the class
    spec.loader.exec_module(mod)
    return mod


def members(path: Path, cls: str) -> set[str]:
    """Names a hand-written class defines (methods, class attributes, self.x in its methods)."""
    tree = ast.parse(path.read_text(), str(path))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            out: set[str] = set()
            for sub in ast.walk(node):
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    out.add(sub.name)
                elif isinstance(sub, ast.AnnAssign) and isinstance(sub.target, ast.Name):
                    out.add(sub.target.id)
                elif isinstance(sub, ast.Assign):
                    out.update(t.id for t in sub.targets if isinstance(t, ast.Name))
                if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) \
                        and sub.value.id == "self" and isinstance(sub.ctx, ast.Store):
                    out.add(sub.attr)
            return out
    raise GenError(f"{path}: no class {cls}")


def check_field(name: str, what: str, taken: set[str]) -> None:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise GenError(f"{what}: {name!r} is not a Python identifier")
    if name.startswith("_"):
        raise GenError(f"{what}: {name!r} starts with an underscore")
    if name in taken:
        raise GenError(f"{what}: {name!r} clashes with a member of the class that holds it")


def group_attr(group: str) -> str:
    """TcpExt -> tcp_ext, MPTcpExt -> mptcp_ext, UdpLite -> udp_lite."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", group).lower()


def header(source: str) -> list[str]:
    return [
        f"# Generated from {source} by `{COMMAND}`; do not edit.",
        "# Change the table and re-run that command from the repository root.",
    ]


def fit(line: str) -> str:
    return line if len(line) <= MAX_LINE else line + "  # noqa: E501"


def gen_mib(groups: dict[str, tuple[str, ...]], fixed: dict[tuple[str, str], int],
            group_taken: set[str], mib_taken: set[str]) -> str:
    for group, name in fixed:
        if name not in groups.get(group, ()):
            raise GenError(f"FIXED_VALUES: {group}.{name} is not in GROUPS")
    attrs: dict[str, str] = {}
    for group, names in groups.items():
        check_field(group, "GROUPS", set())
        attr = group_attr(group)
        check_field(attr, f"GROUPS {group}", mib_taken)
        if attr in attrs.values():
            raise GenError(f"GROUPS: {group} and another group both map to mib.{attr}")
        attrs[group] = attr
        if len(set(names)) != len(names):
            raise GenError(f"GROUPS {group}: a counter is listed twice")
        for n in names:
            check_field(n, f"GROUPS {group}", group_taken)

    imports = "from .mib_names import FIXED_VALUES, GROUPS" if fixed else \
        "from .mib_names import GROUPS"
    out = header("src/tuxtcp/net/mib_names.py") + [
        '"""Typed MIB counters: a class per mib_names.GROUPS group, an int field per counter."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import ClassVar, Final",
        "",
        "from .mib_group import CounterGroup",
        imports,
    ]
    for group, names in groups.items():
        out += [
            "",
            "",
            f"class {group}Counters(CounterGroup):",
            f'    """{group} counters; NAMES is the kernel\'s print order."""',
            "",
            f'    GROUP: ClassVar[str] = "{group}"',
            f'    NAMES: ClassVar[tuple[str, ...]] = GROUPS["{group}"]',
            "",
            "    def __init__(self) -> None:",
        ]
        for n in names:
            init = f'FIXED_VALUES["{group}", "{n}"]' if (group, n) in fixed else "0"
            out.append(fit(f"        self.{n}: int = {init}"))
    out += [
        "",
        "",
        "class MibGroups:",
        '    """The base of Mib (mib.py): one attribute per group."""',
        "",
        "    def __init__(self) -> None:",
    ]
    for group, attr in attrs.items():
        out.append(fit(f"        self.{attr}: {group}Counters = {group}Counters()"))
    out += ["", "", "# group name -> MibGroups attribute", "GROUP_ATTRS: Final[dict[str, str]] = {"]
    out += [f'    "{g}": "{a}",' for g, a in attrs.items()]
    out.append("}")
    return "\n".join(out) + "\n"


def gen_sysctl(specs: dict[str, Any], attr_name: Callable[[str], str], taken: set[str]) -> str:
    seen: dict[str, str] = {}
    for name in specs:
        attr = attr_name(name)
        if attr in seen:
            raise GenError(f"sysctl field {attr!r} would hold both {seen[attr]} and {name}: "
                           "the last /proc/sys components must be unique")
        check_field(attr, f"sysctl {name}", taken)
        seen[attr] = name
    out = header("src/tuxtcp/net/sysctl_specs.py") + [
        '"""Typed sysctl storage: a field per sysctl_specs.SPECS entry, by its last component."""',
        "",
        "from __future__ import annotations",
        "",
        "from .sysctl_specs import default_int, default_pair, default_text, default_triple",
        "",
        "",
        "class SysctlFields:",
        '    """The base of Sysctls (sysctl.py), which validates writes; defaults from SPECS."""',
        "",
        "    def __init__(self) -> None:",
    ]
    for attr, name in seen.items():
        if specs[name].choices:
            line = f'        self.{attr}: str = default_text("{name}")'
        elif specs[name].pair:
            line = f'        self.{attr}: tuple[int, int] = default_pair("{name}")'
        elif specs[name].triple:
            line = f'        self.{attr}: tuple[int, int, int] = default_triple("{name}")'
        else:
            line = f'        self.{attr}: int = default_int("{name}")'
        out.append(fit(line))
    return "\n".join(out) + "\n"


def generate() -> dict[str, str]:
    """{file name: text} for both generated modules."""
    names = load(NET / "mib_names.py")
    specs = load(NET / "sysctl_specs.py")
    group_taken = members(NET / "mib_group.py", "CounterGroup")
    mib_taken = members(NET / "mib.py", "Mib")
    sysctl_taken = members(NET / "sysctl.py", "Sysctls")
    return {
        "mib_fields.py": gen_mib(names.GROUPS, names.FIXED_VALUES, group_taken, mib_taken),
        "sysctl_fields.py": gen_sysctl(specs.SPECS, specs.attr_name, sysctl_taken),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=NET, help="directory to write into")
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    args = ap.parse_args(argv)
    try:
        files = generate()
    except GenError as exc:
        print(f"gen_typed_fields: {exc}", file=sys.stderr)
        return 2
    stale = []
    for fname, text in files.items():
        path: Path = args.out / fname
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    if stale:
        print(f"out of date (run {COMMAND}): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
