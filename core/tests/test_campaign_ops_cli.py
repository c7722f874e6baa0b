"""``broadcastio campaign ...`` in-process: status, pause, resume, cancel, and start on local or plugin workers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import structlog

pytest.importorskip("click")

from broadcastio import CampaignWorkers, PluginError, build_orchestrator, hookimpl
from broadcastio._workers import campaign_workers
from broadcastio.cli import EXIT_FAILED, EXIT_OK, EXIT_PENDING, EXIT_USAGE, CliState, cli
from broadcastio.outbox import Outbox
from broadcastio.plugins import PluginManager
from broadcastio.testing import isolated_plugin_manager
from click.testing import CliRunner, Result

CONFIG = '[[providers]]\nname = "mem"\ntype = "memory"\n'


class ThreadWorkers:
    """Campaign workers in threads of this process: each chunk is ``Orchestrator.resume(outbox,
    campaign=..., rows=(first, last))`` on an orchestrator built from the configuration, as a worker process would."""

    name = "threads"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.threads: list[threading.Thread] = []
        self.hold = threading.Event()
        self.hold.set()

    def start(
        self,
        outbox_url: str,
        campaign: str,
        *,
        total_rows: int,
        chunk_size: int,
        config_path: str | None,
        options: Mapping[str, str],
    ) -> int:
        chunks = [(first, min(first + chunk_size - 1, total_rows)) for first in range(1, total_rows + 1, chunk_size)]
        self.calls.append(
            {"outbox": outbox_url, "campaign": campaign, "total": total_rows, "chunk": chunk_size, "options": options}
        )
        assert config_path is not None

        def work(rows: tuple[int, int]) -> None:
            self.hold.wait(10)
            orchestrator = build_orchestrator(config_path, plugin_manager=isolated_plugin_manager())
            with orchestrator, Outbox(outbox_url) as box:
                list(orchestrator.resume(box, campaign=campaign, rows=rows, concurrency=int(options["concurrency"])))

        for rows in chunks:
            thread = threading.Thread(target=work, args=(rows,))
            thread.start()
            self.threads.append(thread)
        return len(chunks)


class WorkersPlugin:
    def __init__(self, *workers: object) -> None:
        self.workers = workers

    @hookimpl
    def broadcastio_campaign_workers(self) -> list[object]:
        return list(self.workers)


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture
def workers() -> Iterator[ThreadWorkers]:
    found = ThreadWorkers()
    yield found
    found.hold.set()
    for thread in found.threads:
        thread.join(10)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outbox_url: str) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BROADCASTIO_CONFIG", raising=False)
    monkeypatch.delenv("BROADCASTIO_OUTBOX", raising=False)
    (tmp_path / "broadcastio.toml").write_text(CONFIG)
    rows = ["address.memory,name"] + [f"person{i}@example.com,P{i}" for i in range(25)]
    (tmp_path / "people.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def invoke(workers: ThreadWorkers | None, *args: str) -> Result:
    def plugins() -> PluginManager:
        manager = isolated_plugin_manager()
        if workers is not None:
            manager.register(WorkersPlugin(workers), name="threads-test")
        return manager

    return CliRunner().invoke(cli, list(args), obj=CliState(plugin_manager_factory=plugins, env={}))


def start(outbox_url: str, *extra: str, workers: ThreadWorkers | None = None) -> Result:
    return invoke(
        workers, "campaign", "start", "--outbox", outbox_url, "-r", "people.csv", "--text", "Hi {name}", *extra
    )


def new_campaign(outbox_url: str, name: str) -> Outbox:
    """An outbox holding campaign ``name`` whose input is still being journalled (no rows yet)."""
    box = Outbox(outbox_url)
    box.writer.call(
        lambda conn: conn.execute("INSERT INTO campaigns (name, created_at) VALUES (?, ?)", (name, time.time()))
    )
    return box


def status(outbox_url: str, name: str = "spring") -> dict[str, Any]:
    result = invoke(None, "campaign", "status", name, "--outbox", outbox_url, "--json")
    assert result.exit_code == EXIT_OK, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


class TestLocal:
    def test_start_runs_it_here_and_status_reports_it(self, folder: Path, outbox_url: str) -> None:
        """Like broadcast --outbox --campaign: summary, exit 0; status counts, rate and providers, no addresses."""
        result = start(outbox_url, "--campaign", "spring")
        assert result.exit_code == EXIT_OK, result.output
        assert "delivered" in result.stdout
        report = status(outbox_url)
        assert (report["status"]["sent"], report["status"]["total"], report["finished"]) == (25, 25, True)
        assert report["providers"] == [
            {"provider": "mem", "pending": 0, "sending": 0, "sent": 25, "failed": 0, "unknown": 0, "cancelled": 0}
        ]
        assert report["rate"] > 0
        assert report["eta_seconds"] == 0
        text = invoke(None, "campaign", "status", "spring", "--outbox", outbox_url)
        assert text.exit_code == EXIT_OK
        assert "finished" in text.output
        assert "mem" in text.output
        assert "example.com" not in text.output + result.output

    def test_a_paused_campaign_is_left_pending_with_the_way_on(self, folder: Path, outbox_url: str) -> None:
        """start on a paused campaign journals it, sends nothing, exits 4 and names `campaign resume`;
        `campaign resume --run` then sends it here."""
        with new_campaign(outbox_url, "spring") as box:
            box.pause_campaign("spring")
        result = start(outbox_url, "--campaign", "spring")
        assert result.exit_code == EXIT_PENDING, result.output
        assert "campaign spring is paused; to go on: broadcastio campaign resume spring" in result.stderr
        assert status(outbox_url)["status"]["pending"] == 25
        resumed = invoke(None, "campaign", "resume", "spring", "--outbox", outbox_url, "--run")
        assert resumed.exit_code == EXIT_OK, resumed.output
        assert "campaign spring resumed: 25 message(s) left to send" in resumed.stderr
        assert status(outbox_url)["status"]["sent"] == 25

    def test_a_cancelled_campaign_cannot_be_started_again(self, folder: Path, outbox_url: str) -> None:
        with new_campaign(outbox_url, "spring") as box:
            box.cancel_campaign("spring")
        result = start(outbox_url, "--campaign", "spring")
        assert result.exit_code == EXIT_USAGE
        assert "campaign spring was cancelled; start it under another --campaign name" in result.output

    def test_wait_and_worker_options_need_workers(self, folder: Path, outbox_url: str) -> None:
        result = start(outbox_url, "--campaign", "spring", "--wait")
        assert result.exit_code == EXIT_USAGE
        assert "need --workers other than local" in result.output


class TestOperations:
    @pytest.mark.parametrize("command", ["status", "pause", "resume", "cancel"])
    def test_an_unknown_campaign_exits_2_naming_the_known_ones(
        self, folder: Path, outbox_url: str, command: str
    ) -> None:
        with new_campaign(outbox_url, "spring"), new_campaign(outbox_url, "summer"):
            pass
        result = invoke(None, "campaign", command, "winter", "--outbox", outbox_url)
        assert result.exit_code == EXIT_USAGE
        assert "no campaign named 'winter' in this outbox; campaigns: spring, summer" in result.output

    def test_a_missing_outbox_is_an_error_and_not_created(self, folder: Path) -> None:
        result = invoke(None, "campaign", "status", "spring", "--outbox", "nothing.db")
        assert result.exit_code == EXIT_USAGE
        assert "no outbox at nothing.db" in result.output
        assert not (folder / "nothing.db").exists()

    def test_pause_resume_cancel_say_what_they_did(self, folder: Path, outbox_url: str) -> None:
        """Pause, pause again, resume, cancel, cancel again (idempotent), resume a cancelled one (exit 1)."""
        sent = start(outbox_url, "--campaign", "other")
        assert sent.exit_code == EXIT_OK
        new_campaign(outbox_url, "spring").close()
        expected = [
            ("pause", EXIT_OK, "campaign spring paused"),
            ("pause", EXIT_OK, "campaign spring is already paused"),
            ("resume", EXIT_OK, "campaign spring resumed"),
            ("resume", EXIT_OK, "campaign spring is not paused"),
            ("cancel", EXIT_OK, "campaign spring cancelled"),
            ("cancel", EXIT_OK, "campaign spring was already cancelled"),
            ("resume", EXIT_FAILED, "campaign spring was cancelled at"),
            ("pause", EXIT_OK, "campaign spring was cancelled at"),
        ]
        for command, code, said in expected:
            result = invoke(None, "campaign", command, "spring", "--outbox", outbox_url)
            assert result.exit_code == code, (command, result.output)
            assert said in result.stderr, (command, result.stderr)
        finished = invoke(None, "campaign", "pause", "other", "--outbox", outbox_url, "--json")
        assert finished.exit_code == EXIT_OK
        change = json.loads(finished.stdout)
        assert (change["changed"], change["standing"]) == (False, "finished")
        assert "nothing to pause" in change["detail"]

    def test_cancel_counts_the_messages_it_cancelled(
        self, folder: Path, outbox_url: str, workers: ThreadWorkers
    ) -> None:
        """Journalled for workers that have not started yet: cancel leaves every message cancelled, none sent."""
        workers.hold.clear()
        result = start(outbox_url, "--campaign", "spring", "--workers", "threads", workers=workers)
        assert result.exit_code == EXIT_OK, result.output
        cancelled = invoke(None, "campaign", "cancel", "spring", "--outbox", outbox_url, "--json")
        assert json.loads(cancelled.stdout)["rows"] == 25
        workers.hold.set()
        for thread in workers.threads:
            thread.join(10)
        report = status(outbox_url)
        assert (report["status"]["cancelled"], report["status"]["sent"], report["cancelled"]) == (25, 0, True)


class TestWorkers:
    def test_an_unknown_name_is_a_usage_error_listing_the_installed_ones(
        self, folder: Path, outbox_url: str, workers: ThreadWorkers
    ) -> None:
        result = start(outbox_url, "--campaign", "spring", "--workers", "celery", workers=workers)
        assert result.exit_code == EXIT_USAGE
        assert "unknown --workers 'celery'; installed: local, threads" in result.output
        assert "://" in outbox_url or not Path(outbox_url).exists()  # nothing journalled

    def test_start_hands_the_journalled_campaign_to_the_workers_and_waits(
        self, folder: Path, outbox_url: str, workers: ThreadWorkers
    ) -> None:
        """Journal first, chunks of --chunk-size, options passed on; --wait ends with broadcast's summary."""
        result = start(
            outbox_url,
            "--campaign",
            "spring",
            "--workers",
            "threads",
            "--chunk-size",
            "10",
            "--concurrency",
            "3",
            "--worker-option",
            "queue=bulk",
            "--wait",
            "--poll",
            "0.05",
            "--json",
            workers=workers,
        )
        assert result.exit_code == EXIT_OK, result.output
        assert workers.calls == [
            {
                "outbox": outbox_url,
                "campaign": "spring",
                "total": 25,
                "chunk": 10,
                "options": {"concurrency": "3", "queue": "bulk"},
            }
        ]
        assert "3 chunk(s) of up to 10 rows handed to threads workers" in result.stderr
        summary = json.loads(result.stdout)
        assert (summary["delivered"], summary["campaign"]["sent"], summary["campaign"]["left"]) == (25, 25, 0)
        assert "example.com" not in result.output
        assert "campaign spring: 25/25 done, 25 sent" in result.stderr

    def test_without_wait_it_says_how_to_follow(self, folder: Path, outbox_url: str, workers: ThreadWorkers) -> None:
        result = start(outbox_url, "--campaign", "spring", "--workers", "threads", workers=workers)
        assert result.exit_code == EXIT_OK, result.output
        assert f"follow it: broadcastio campaign status spring --outbox {outbox_url}" in result.stderr

    def test_a_pause_while_waiting_ends_with_4_and_the_way_on(
        self, folder: Path, outbox_url: str, workers: ThreadWorkers
    ) -> None:
        workers.hold.clear()
        threading.Timer(0.3, lambda: _pause(outbox_url)).start()
        result = start(
            outbox_url, "--campaign", "spring", "--workers", "threads", "--wait", "--poll", "0.05", workers=workers
        )
        assert result.exit_code == EXIT_PENDING, result.output
        assert "campaign spring is paused; to go on: broadcastio campaign resume spring" in result.stderr


def _pause(outbox_url: str) -> None:
    with Outbox(outbox_url) as box:
        box.pause_campaign("spring")


class TestRegistry:
    def _manager(self, *workers: object) -> PluginManager:
        manager = isolated_plugin_manager()
        manager.register(WorkersPlugin(*workers), name="workers-test")
        return manager

    def test_registered_workers_are_found_by_name(self) -> None:
        found = campaign_workers(self._manager(ThreadWorkers()))
        assert list(found) == ["threads"]
        assert isinstance(found["threads"], CampaignWorkers)

    @pytest.mark.parametrize(
        ("records", "says"),
        [
            ((ThreadWorkers(), ThreadWorkers()), "registered by both"),
            ((type("Local", (ThreadWorkers,), {"name": "local"})(),), "reserved name"),
            ((object(),), "not a CampaignWorkers"),
        ],
    )
    def test_bad_registrations_are_plugin_errors(self, records: tuple[object, ...], says: str) -> None:
        with pytest.raises(PluginError, match=says):
            campaign_workers(self._manager(*records))
