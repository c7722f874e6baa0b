"""The CLI's campaign endings in-process: a configuration error, deferred messages, a rerun."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

pytest.importorskip("click")

from broadcastio import ConfigurationError, DeliveryError, MemoryProvider, PluginManager, ProviderType, hookimpl
from broadcastio.cli import EXIT_OK, EXIT_PENDING, EXIT_USAGE, CliState, cli
from broadcastio.outbox import Outbox
from broadcastio.testing import isolated_plugin_manager
from click.testing import CliRunner, Result


class _FlakyPlugin:
    """``flaky``: raises ConfigurationError after ``refuse_after`` sends, or fails the first
    ``transient_first`` sends transiently."""

    @hookimpl
    def broadcastio_provider_types(self) -> list[ProviderType]:
        def factory(*, name: str, refuse_after: int = -1, transient_first: int = 0, **options: Any) -> MemoryProvider:
            provider = MemoryProvider(name, channel="sms", **options)
            outcomes: list[Any] = [DeliveryError.transient("service_unavailable", "503")] * transient_first
            if refuse_after >= 0:
                outcomes += [None] * refuse_after + [ConfigurationError("credentials refused")] * 100
            provider.script(*outcomes)
            return provider

        return [ProviderType(name="flaky", factory=factory, channel="sms", description="test double")]


def plugins() -> PluginManager:
    manager = isolated_plugin_manager()
    manager.register(_FlakyPlugin(), name="flaky-test")
    return manager


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=CliState(plugin_manager_factory=plugins, env={}))


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    """The CLI configures structlog; later tests expect its defaults."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BROADCASTIO_CONFIG", raising=False)
    (tmp_path / "people.csv").write_text("phone,name\n" + "".join(f"+1555000{i:04d},P{i}\n" for i in range(30)))
    return tmp_path


def config(folder: Path, **settings: int) -> None:
    lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
    text = """\
        [[providers]]
        name = "sms"
        type = "flaky"
        [providers.settings]
        """
    (folder / "broadcastio.toml").write_text(textwrap.dedent(text) + lines)


BROADCAST = ("broadcast", "-r", "people.csv", "--text", "Hi {name}", "--outbox", "box.db", "--concurrency", "1")


def test_a_configuration_error_stops_with_a_summary_and_leaves_the_rest_pending(workdir: Path) -> None:
    config(workdir, refuse_after=5)
    result = invoke(*BROADCAST)
    assert result.exit_code == EXIT_USAGE, result.output
    assert "broadcast summary" in result.stdout
    assert "error: ConfigurationError: credentials refused" in result.stderr
    assert "to finish: broadcastio outbox resume box.db --campaign people.csv" in result.stderr
    with Outbox(workdir / "box.db") as box:
        status = box.campaign("people.csv")
    assert (status.sent, status.pending, status.total) == (5, 25, 30)
    config(workdir)
    resumed = invoke("outbox", "resume", "box.db", "--json")
    assert resumed.exit_code == EXIT_OK, resumed.output
    assert json.loads(resumed.stdout)["delivered"] == 25


def test_messages_left_waiting_exit_4_and_are_listed(workdir: Path) -> None:
    config(workdir, transient_first=3)
    result = invoke(*BROADCAST, "--deadline", "0", "--json")
    assert result.exit_code == EXIT_PENDING, result.output
    summary = json.loads(result.stdout)
    assert (summary["delivered"], summary["pending"], summary["campaign"]["left"]) == (27, 3, 3)
    assert "3 message(s) wait for their next attempt" in result.stderr
    listing = invoke("outbox", "list", "box.db", "--status", "pending")
    assert listing.exit_code == EXIT_OK
    assert "3 row(s)" in listing.stdout
    rows = [json.loads(line) for line in invoke("outbox", "list", "box.db", "--json").stdout.splitlines()]
    assert sorted(row["row"] for row in rows) == [1, 2, 3]
    assert {(row["error_class"], row["error_code"], row["error_message"]) for row in rows} == {
        ("transient", "service_unavailable", "503")
    }
    assert all(row["next_attempt_at"] is not None and "+1555" not in row["to"] for row in rows)  # masked
    config(workdir)
    resumed = invoke("outbox", "resume", "box.db", "--json", "--results", "resumed.jsonl")
    assert resumed.exit_code == EXIT_OK, resumed.output
    lines = [json.loads(line) for line in (workdir / "resumed.jsonl").read_text().splitlines()]
    assert sorted(line["row"] for line in lines) == [1, 2, 3]


def test_a_rerun_reports_what_was_already_sent(workdir: Path) -> None:
    config(workdir)
    assert invoke(*BROADCAST).exit_code == EXIT_OK
    again = invoke(*BROADCAST, "--json")
    assert again.exit_code == EXIT_OK
    assert json.loads(again.stdout)["already_sent"] == 30
    assert "(30 already sent before this run)" in again.stderr
    status = invoke("outbox", "status", "box.db")
    assert "people.csv" in status.stdout
    assert "campaigns" in status.stdout
