"""``python -m broadcastio`` and the ``broadcastio`` script: the command line.

Importable without the ``cli`` extra, so a missing click or rich is a
one-line hint and exit status 2 instead of a traceback.
"""

from __future__ import annotations

import sys

INSTALL_HINT = 'pip install "./core[cli]"  (from the broadcastio checkout)'


def main() -> None:
    """Run the command line, or say how to install it."""
    try:
        from broadcastio.cli import main as cli_main
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in ("click", "rich"):
            raise
        sys.stderr.write(
            f"broadcastio: the command line needs the 'cli' extra ({missing} is missing): {INSTALL_HINT}\n"
        )
        raise SystemExit(2) from None
    cli_main()


if __name__ == "__main__":
    main()
