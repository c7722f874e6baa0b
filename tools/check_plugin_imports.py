"""Fail when a plugin imports broadcastio's private modules or another plugin.

Plugins may import ``broadcastio`` and its public submodules
(``broadcastio.http``, ``broadcastio.plugins``, ``broadcastio.logs``,
``broadcastio.addresses``, ``broadcastio.events``, ``broadcastio.hookspecs``,
``broadcastio.testing``, ``broadcastio.providers``), never ``broadcastio._anything`` nor another
``broadcastio_<plugin>`` package. The template (``plugins/_template``) is
checked too, since every new plugin starts as a copy of it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def main() -> int:
    problems = []
    for plugin_dir in sorted([*(ROOT / "plugins").glob("broadcastio-*"), ROOT / "plugins" / "_template"]):
        own = "broadcastio_example" if plugin_dir.name == "_template" else plugin_dir.name.replace("-", "_")
        for path in sorted(plugin_dir.rglob("*.py")):
            for line, module in imported_modules(path):
                top = module.split(".")[0]
                parts = module.split(".")
                if top == "broadcastio" and any(part.startswith("_") for part in parts[1:]):
                    problems.append(f"{path.relative_to(ROOT)}:{line}: imports private module {module}")
                elif top.startswith("broadcastio_") and top != own:
                    problems.append(f"{path.relative_to(ROOT)}:{line}: imports another plugin ({module})")
    for problem in problems:
        print(problem, file=sys.stderr)  # noqa: T201
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
