"""Build: the engine's hot modules are compiled with mypyc (same source, C speed, types checked
at run time). TUXTCP_PURE=1 installs plain Python instead; the behaviour is the same."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

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
NOT_COMPILED = {"wire/errors.py", "link/tun.py", "socket/sockio.py"}  # tun.py: TunError is an
# OSError; sockio.py: an io.RawIOBase subclass (see its docstring)


def _modules(entries: list[str]) -> list[str]:
    root = Path("src/tuxtcp")
    out: list[str] = []
    for entry in entries:
        path = root / entry
        files = [path] if path.suffix == ".py" else sorted(path.glob("*.py"))
        out += [str(f) for f in files if str(f.relative_to(root)) not in NOT_COMPILED]
    return out


class ParallelBuildExt(build_ext):
    """Compiles an extension's C files at once on every CPU this process may use (setuptools
    compiles them one after another). mypyc writes a C file per module (multi_file), so the
    engine's library, one 4-5 minute gcc run as a single file, builds in about half that on
    two CPUs."""

    def build_extension(self, ext: Any) -> None:
        cc = self.compiler
        serial = cc.compile

        def compile_all(sources: list[str], output_dir: str | None = None,
                        macros: Any = None, include_dirs: Any = None, debug: bool = False,
                        extra_preargs: Any = None, extra_postargs: Any = None,
                        depends: Any = None) -> list[str]:
            macros, objects, extra_postargs, pp_opts, build = cc._setup_compile(
                output_dir, macros, include_dirs, sources, depends, extra_postargs)
            cc_args = cc._get_cc_args(pp_opts, debug, extra_preargs)
            todo = [(obj, *build[obj]) for obj in objects if obj in build]
            # the biggest first, so no CPU is left with a long file at the end
            todo.sort(key=lambda job: -os.path.getsize(job[1]))
            with ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool:
                for done in [pool.submit(cc._compile, obj, src, ext, cc_args, extra_postargs,
                                         pp_opts) for obj, src, ext in todo]:
                    done.result()
            return list(objects)

        cc.compile = compile_all
        try:
            super().build_extension(ext)
        finally:
            cc.compile = serial


def _with_runtime_extras(exts: list[Any], build: str = "build") -> list[Any]:
    """mypyc's multi_file build leaves out of a group's sources the optional runtime files its
    header includes (bytes_extra_ops.c, ...) when mypy's cache supplied the modules (pip runs
    setup.py three times): the library then fails to load, an undefined CPyByteArray_New.
    Adds each one the group's internal header names."""
    from mypyc.build import include_dir

    for ext in exts:
        if not ext.name.endswith("__mypyc"):
            continue
        header = Path(build) / f"__native_internal_{ext.name.removesuffix('__mypyc')}.h"
        for name in re.findall(r'#include "(\w+_extra_ops)\.h"', header.read_text()):
            src = Path(build) / f"{name}.c"
            for f in (src, src.with_suffix(".h")):
                if not f.exists():
                    shutil.copyfile(Path(include_dir()) / f.name, f)
            if str(src) not in ext.sources:
                ext.sources.append(str(src))
    return exts


def _gcc_major() -> int:
    """The major version of GCC if that is the C compiler the build will use, else 0 (clang
    defines __GNUC__ too)."""
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()
    try:
        macros = subprocess.run([*cc, "-dM", "-E", "-x", "c", os.devnull], capture_output=True,
                                text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    found = re.search(r"^#define __GNUC__ (\d+)$", macros, re.MULTILINE)
    return int(found.group(1)) if found and "__clang__" not in macros else 0


def _optimised(exts: list[Any]) -> list[Any]:
    """GCC's (10 or later) link-time and profile-guided optimisation for the compiled libraries.

    LTO (TUXTCP_LTO=0 turns it off): mypyc writes a C file per module and keeps its runtime
    helpers (list, dict and int operations) in C files of their own, so without LTO every call
    between two modules and every helper is an out-of-line call through the PLT; with it GCC
    inlines across them, and hidden visibility (the libraries export only PyInit_*) makes the
    remaining calls direct.

    PGO (TUXTCP_PGO=generate, then TUXTCP_PGO=use; the profile in TUXTCP_PGO_DIR): `make
    setup` builds the libraries instrumented, runs tools/pgo_train.py on them and builds them
    again with the profile it wrote, so GCC lays out and inlines the code the way the
    simulation runs it. (Code the training does not reach is taken as cold; measured, a
    workload it does not run, bench/ab.py's flood, is as fast as without a profile. GCC 12's
    -fprofile-partial-training, which would compile such code as without one, fails with LTO
    here: an internal compiler error in stream_out_histogram_value.)

    The simulation is the same to the packet either way; bench/RESULTS.md has the speed-ups."""
    if _gcc_major() < 10:  # (-flto=auto came with GCC 10)
        return exts
    cflags: list[str] = []
    ldflags: list[str] = []
    pgo = os.environ.get("TUXTCP_PGO", "")
    # (the instrumented build only has to run the training: no LTO, a shorter link)
    if os.environ.get("TUXTCP_LTO", "1") not in ("0", "false", "no") and pgo != "generate":
        cflags += ["-flto=auto", "-fvisibility=hidden", "-fno-semantic-interposition"]
        ldflags += ["-flto=auto", "-O3"]
    if pgo:
        # (no default: one inside `build` would be emptied between the two builds)
        profile = os.environ.get("TUXTCP_PGO_DIR", "")
        if not profile:
            raise SystemExit("TUXTCP_PGO needs TUXTCP_PGO_DIR, the profile's directory")
        if pgo == "generate":
            flags = ["-fprofile-generate", "-fprofile-update=single"]
        elif pgo == "use":
            # -Wno-coverage-mismatch: mypyc's runtime files come from pip's build environment,
            # a new directory each build (mypyc builds with -Werror)
            flags = ["-fprofile-use", "-fprofile-correction", "-Wno-missing-profile",
                     "-Wno-coverage-mismatch"]
        else:
            raise SystemExit(f"TUXTCP_PGO must be 'generate' or 'use', not {pgo!r}")
        flags.append(f"-fprofile-dir={os.path.abspath(profile)}")
        cflags += flags
        ldflags += flags
    for ext in exts:
        ext.extra_compile_args = [*ext.extra_compile_args, *cflags]
        ext.extra_link_args = [*ext.extra_link_args, *ldflags]
    return exts


ext_modules = []
if os.environ.get("TUXTCP_PURE", "") not in ("1", "true", "yes"):
    from mypyc.build import mypycify

    engine, views = _modules(COMPILED), _modules(VIEWS)
    ext_modules = _optimised(_with_runtime_extras(mypycify(
        ["--config-file=pyproject.toml", *engine, *views], opt_level="3", multi_file=True,
        separate=[(engine, "tuxtcp_engine"), (views, "tuxtcp_views")])))

setup(ext_modules=ext_modules, cmdclass={"build_ext": ParallelBuildExt})
