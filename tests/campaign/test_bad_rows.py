"""A bad row fails alone: the CLI against a real SMTP server (aiosmtpd) on 127.0.0.1.

Row 250 of 500 carries an address the email provider refuses; the other 499
are delivered, the broadcast runs to the end, fallback still runs for the
bad row, and ``--dry-run`` names the row without sending anything.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from broadcastio.cli import cli
from broadcastio.cli._common import CliState
from broadcastio.plugins import make_plugin_manager
from click.testing import CliRunner

BAD = ["broken@@example.test", "bob.@x", "bob smith@x", "x@y."]


class Counting:
    def __init__(self) -> None:
        self.received: dict[str, int] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received[rcpt] = self.received.get(rcpt, 0) + 1
        return "250 OK"


class Ephemeral(Controller):
    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp() -> Iterator[tuple[int, Counting]]:
    handler = Counting()
    controller = Ephemeral(handler, hostname="127.0.0.1", port=0, server_hostname="localhost")
    controller.start()
    yield int(controller.port), handler
    controller.stop()


def write_files(folder: Path, port: int, bad: str, *, fallback: bool) -> None:
    backup = (
        f'\n[[providers]]\nname = "archive"\ntype = "file"\n[providers.settings]\ndirectory = "{folder}"\n'
        'channel = "email"\n'
    )
    (folder / "broadcastio.toml").write_text(
        f'[[providers]]\nname = "mail"\ntype = "email"\n[providers.settings]\nhost = "127.0.0.1"\nport = {port}\n'
        f'tls = "none"\nfrom_address = "alerts@example.com"\nlocal_hostname = "client.test"\n'
        + (backup if fallback else "")
    )
    rows = ["name,email"] + [f"user{n},{bad if n == 250 else f'user{n}@example.org'}" for n in range(1, 501)]
    (folder / "people.csv").write_text("\n".join(rows) + "\n")


def invoke(folder: Path, *args: str) -> Any:
    state = CliState(plugin_manager_factory=make_plugin_manager, env={})
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        return CliRunner().invoke(cli, list(args), obj=state)


@pytest.mark.parametrize("bad", BAD)
def test_one_bad_row_fails_alone(tmp_path: Path, smtp: tuple[int, Counting], bad: str) -> None:
    """499 delivered, row 250 failed invalid_recipient, the run goes to the end and exits 1."""
    port, handler = smtp
    write_files(tmp_path, port, bad, fallback=False)
    started = time.monotonic()
    result = invoke(tmp_path, "broadcast", "-r", "people.csv", "--text", "hi {name}", "--json")
    assert time.monotonic() - started < 60
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert (summary["total"], summary["delivered"], summary["failed"]) == (500, 499, 1)
    assert summary["reasons"] == [{"status": "failed", "class": "permanent", "code": "invalid_recipient", "count": 1}]
    assert len(handler.received) == 499
    assert set(handler.received.values()) == {1}


def test_fallback_runs_for_the_bad_row(tmp_path: Path, smtp: tuple[int, Counting]) -> None:
    """With a second provider on the route, the refused row goes there and everything is delivered."""
    port, handler = smtp
    write_files(tmp_path, port, "bob.@x", fallback=True)
    result = invoke(tmp_path, "broadcast", "-r", "people.csv", "--text", "hi {name}", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["delivered"] == 500
    assert len(handler.received) == 499
    archived = (tmp_path / "archive.jsonl").read_text().splitlines()
    assert len(archived) == 1


def test_dry_run_names_the_bad_row(tmp_path: Path, smtp: tuple[int, Counting]) -> None:
    """--dry-run runs the provider's address check on every row and reports line 251 (row 250); nothing is sent."""
    port, handler = smtp
    write_files(tmp_path, port, "broken@@example.test", fallback=False)
    result = invoke(tmp_path, "broadcast", "-r", "people.csv", "--text", "hi {name}", "--dry-run")
    assert result.exit_code == 1, result.output
    assert "people.csv:251 (row 250): mail refuses it" in result.stderr
    assert "broken@@example.test" not in result.output  # the address is masked in the report
    assert "1 refused by a provider's checks, 1 by every provider that could take them" in result.stdout
    assert handler.received == {}


def test_dry_run_with_a_fallback_warns_but_passes(tmp_path: Path, smtp: tuple[int, Counting]) -> None:
    """A row one provider refuses but another can take is reported, and the dry run exits 0."""
    port, handler = smtp
    write_files(tmp_path, port, "x@y.", fallback=True)
    result = invoke(tmp_path, "broadcast", "-r", "people.csv", "--text", "hi {name}", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "people.csv:251 (row 250): mail refuses it" in result.stderr
    assert "1 refused by a provider's checks, 0 by every provider" in result.stdout
    assert handler.received == {}
