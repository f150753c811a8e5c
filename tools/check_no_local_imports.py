"""Fail when a module of the engine imports inside a function (an import placed there to dodge
an import cycle hides a layering violation from the layer contract).

Usage: python tools/check_no_local_imports.py src/tuxtcp/tcp [more directories or files]
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def local_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[str] = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found.append(f"{path}:{node.lineno}: import inside {fn.name}()")
    return found


def main(args: list[str]) -> int:
    problems: list[str] = []
    for arg in args:
        p = Path(arg)
        for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
            problems += local_imports(f)
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
