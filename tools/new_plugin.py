"""Start a provider plugin from plugins/_template.

    python tools/new_plugin.py acme [--dest plugins]

writes ``plugins/broadcastio-acme/`` with every ``example``/``Example``
renamed to ``acme``/``Acme``; then install it with core from the checkout
(``pip install -e core -e "plugins/broadcastio-acme[test]"``) and run its tests.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "plugins" / "_template"


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", name))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the provider type name, e.g. 'acme' (lowercase letters, digits, '-')")
    parser.add_argument("--dest", type=Path, default=ROOT / "plugins", help="folder to create the package in")
    arguments = parser.parse_args()
    name: str = arguments.name
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        parser.error(f"name must be lowercase letters, digits and '-', starting with a letter: {name!r}")
    module = name.replace("-", "_")
    target = arguments.dest / f"broadcastio-{name}"
    if target.exists():
        parser.error(f"{target} already exists")
    replacements = [
        ("broadcastio-example", f"broadcastio-{name}"),
        ("broadcastio_example", f"broadcastio_{module}"),
        ("Example", camel(name)),
        ("example", name),
    ]
    for source in sorted(TEMPLATE.rglob("*")):
        if "__pycache__" in source.parts or source.suffix == ".pyc":
            continue
        relative = str(source.relative_to(TEMPLATE))
        for old, new in replacements[:2]:
            relative = relative.replace(old, new)
        destination = target / relative
        if source.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text(encoding="utf-8")
        for old, new in replacements:
            text = text.replace(old, new)
        destination.write_text(text, encoding="utf-8")
        shutil.copymode(source, destination)
    sys.stdout.write(f"created {target}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
