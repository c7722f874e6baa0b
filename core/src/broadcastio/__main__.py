"""``python -m broadcastio``: the command line (needs the ``cli`` extra)."""

from __future__ import annotations

import sys


def _run() -> None:
    try:
        from broadcastio.cli import main
    except ImportError as exc:  # click or rich missing
        sys.stderr.write(
            f"broadcastio: the command line needs the 'cli' extra: pip install 'broadcastio[cli]' ({exc})\n"
        )
        raise SystemExit(2) from None
    main()


if __name__ == "__main__":
    _run()
