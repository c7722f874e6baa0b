"""The main job, end to end on this machine: WhatsApp first, email as the fallback.

Starts two real local peers: node-whatsapp (the project's Node.js service,
with its fake driver: the whole HTTP service runs, only the WhatsApp Web
session is simulated) and an SMTP server on 127.0.0.1 that keeps what it
receives. Message 1 is sent while WhatsApp waits for a QR scan and falls
back to email; message 2 is sent once WhatsApp is ready, retried after a
rate limit, and goes through WhatsApp. Traces, what each peer recorded and
the checked outcomes are printed.

Run ``nox -s demo`` from the repository root (it installs what is needed),
or ``python demo/demo.py`` in an environment holding core, the whatsapp and
email plugins and ``demo/requirements.txt``.

Exit status: 0 when every expected outcome happened, 1 when one did not or
the demo failed, 2 when a prerequisite is missing, 130 on Ctrl-C.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys

NEEDED = {
    "broadcastio": "-e core",
    "broadcastio_whatsapp": "-e plugins/broadcastio-whatsapp",
    "broadcastio_email": "-e plugins/broadcastio-email",
    "aiosmtpd": "-r demo/requirements.txt",
    "rich": "-r demo/requirements.txt",
}


def _missing_prerequisites() -> list[str]:
    """What must be installed first, each as a line telling how."""
    problems = []
    missing = [module for module in NEEDED if importlib.util.find_spec(module) is None]
    if missing:
        how = " ".join(dict.fromkeys(NEEDED[module] for module in missing))
        problems.append(
            f"Python packages missing: {', '.join(missing)}. Run `nox -s demo` from the repository root, "
            f"or from there: python -m pip install {how}"
        )
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            problems.append(
                f"`{tool}` is not on PATH: the demo runs node-whatsapp, a Node.js service. Install Node.js 20 or "
                "later with npm (https://nodejs.org/, or e.g. `sudo apt-get install nodejs npm`), then run again."
            )
    return problems


def main() -> int:
    problems = _missing_prerequisites()
    if problems:
        sys.stderr.write("broadcastio demo cannot start:\n" + "".join(f"  - {line}\n" for line in problems))
        return 2

    import logs
    import scenario
    from broadcastio_whatsapp.testing import NodeWhatsAppUnavailable
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 140)
    logs.configure(sys.stdout, colors=console.is_terminal)
    console.rule("[bold]broadcastio demo: WhatsApp first, email as the fallback")
    try:
        passed = scenario.run(console)
    except KeyboardInterrupt:
        console.print("[red]interrupted: everything the demo started has been stopped[/]")
        return 130
    except NodeWhatsAppUnavailable as exc:
        console.print(f"[red]demo cannot start node-whatsapp:[/] {exc}")
        return 2
    if passed:
        console.print("[bold green]demo OK: message 1 went by email, message 2 by WhatsApp[/]")
        return 0
    console.print("[bold red]demo FAILED: an expected outcome did not happen (see the FAIL rows)[/]")
    return 1


if __name__ == "__main__":
    sys.exit(main())
