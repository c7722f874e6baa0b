"""The README's demo, run the way a user runs it: ``python demo/demo.py`` in a child process.

It starts the real node-whatsapp service (fake driver) and a local SMTP
server, checks its own outcomes and exits 0 only when message 1 went by
email and message 2 by WhatsApp. Needs the whatsapp and email plugins and
``demo/requirements.txt`` (rich, aiosmtpd) in the running environment.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "demo.py"
needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="Node.js and npm are not installed: node-whatsapp cannot run",
)
pytestmark = pytest.mark.e2e


def _demo_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "160", **extra}


def _stopped(output: str) -> list[str]:
    """What the demo logged as stopped, in order."""
    return re.findall(r"demo\.stopped\s.*?what=(\S+)", output)


@needs_node
class TestDemo:
    def test_runs_and_checks_its_own_outcomes(self) -> None:
        """The demo exits 0 and shows the fallback to email, the WhatsApp send, both peers' records and the checks."""
        completed = subprocess.run(
            [sys.executable, str(DEMO)],
            cwd=ROOT,
            env=_demo_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output = completed.stdout + completed.stderr
        assert completed.returncode == 0, output
        expected = [
            "demo.started",
            "tls='none': plain SMTP, only because this is a local demo server",
            "skipped, unhealthy: qr: scan the QR code at http://127.0.0.1:",
            "=> delivered by email",
            "whatsapp.RATE_LIMITED (transient)",
            "=> delivered by whatsapp",
            "node-whatsapp fake driver: GET /_fake/sent",
            "db-1: /var is back to 60%.",
            "local SMTP server: 1 message(s) received",
            "Disk alert on db-1",
            "X-Broadcastio-Idempotency-Key",
            "demo OK: message 1 went by email, message 2 by WhatsApp",
        ]
        missing = [line for line in expected if line not in output]
        assert not missing, f"missing {missing} in:\n{output}"
        assert output.count("PASS") == 7
        assert "FAIL" not in output
        assert _stopped(output) == ["orchestrator", "smtp-server", "node-whatsapp"], output

    def test_exits_1_when_an_outcome_does_not_happen(self) -> None:
        """Without retries message 2 falls back to email: the demo flags it and exits 1."""
        script = (
            "import sys; sys.path.insert(0, 'demo'); import scenario, demo; from broadcastio import RetryPolicy; "
            "scenario.RETRY = RetryPolicy(max_attempts=1); sys.exit(demo.main())"
        )
        completed = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=_demo_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output = completed.stdout + completed.stderr
        assert completed.returncode == 1, output
        assert "FAIL │ message 2 delivered by whatsapp" in output
        assert "demo FAILED: an expected outcome did not happen" in output
        assert _stopped(output) == ["orchestrator", "smtp-server", "node-whatsapp"], output

    def test_ctrl_c_stops_what_it_started(self) -> None:
        """SIGINT after the peers are up exits 130 and leaves node-whatsapp and the SMTP server stopped."""
        process = subprocess.Popen(
            [sys.executable, str(DEMO)],
            cwd=ROOT,
            env=_demo_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        lines: list[str] = []
        try:
            for line in process.stdout:
                lines.append(line)
                if "peer=smtp-server" in line and "demo.started" in line:
                    process.send_signal(signal.SIGINT)
                    break
            rest, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        output = "".join(lines) + rest
        assert process.returncode == 130, output
        assert "interrupted: everything the demo started has been stopped" in output
        assert _stopped(output) == ["smtp-server", "node-whatsapp"], output
        ports = [int(port) for port in re.findall(r"url=(?:http|smtp)://127\.0\.0\.1:(\d+)", output)]
        assert len(ports) == 2, output
        for port in ports:
            with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
                pass


class TestPrerequisites:
    def test_missing_node_is_a_clear_error(self, tmp_path: Path) -> None:
        """Without node and npm on PATH the demo exits 2 and says to install Node.js with npm."""
        completed = subprocess.run(
            [sys.executable, str(DEMO)],
            cwd=ROOT,
            env=_demo_env(PATH=str(tmp_path)),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 2, completed.stdout + completed.stderr
        assert "`node` is not on PATH" in completed.stderr
        assert "`npm` is not on PATH" in completed.stderr
        assert "Install Node.js 20 or later with npm" in completed.stderr
