"""The ``broadcastio`` command, through click's CliRunner and as a real subprocess.

Providers are the built-in ``file`` and ``memory`` types plus a scripted
test type; no network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from broadcastio import DeliveryError, ErrorCode, MemoryProvider, ProviderType, decode_result, hookimpl
from broadcastio.plugins import PluginFailure, PluginManager
from broadcastio.testing import isolated_plugin_manager

try:
    from broadcastio.cli import EXIT_FAILED, EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE, CliState, cli
    from click.testing import CliRunner, Result
except ImportError:  # click or rich missing
    pytest.skip('the CLI needs the "cli" extra: pip install -e "./core[cli]"', allow_module_level=True)


class _ScriptedPlugin:
    """A provider type whose every send ends as configured (``outcome`` setting)."""

    @hookimpl
    def broadcastio_provider_types(self) -> list[ProviderType]:
        def factory(*, name: str, outcome: str = "ok", channel: str = "sms", **options: Any) -> MemoryProvider:
            provider = MemoryProvider(name, channel=channel, **options)
            errors = {
                "ambiguous": DeliveryError.ambiguous(ErrorCode.TIMEOUT, "timed out after sending"),
                "permanent": DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, "no such number"),
            }
            if outcome in errors:
                provider.script(*[errors[outcome]] * 100)
            return provider

        return [ProviderType(name="scripted", factory=factory, channel="sms", description="test double")]


def plugin_manager() -> PluginManager:
    manager = isolated_plugin_manager()
    manager.register(_ScriptedPlugin(), name="scripted-test")
    return manager


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BROADCASTIO_CONFIG", raising=False)
    return tmp_path


def write_config(directory: Path, body: str = "", *, name: str = "broadcastio.toml") -> Path:
    """A config with a file provider ``out`` on the email channel, plus ``body``."""
    path = directory / name
    path.write_text(
        textwrap.dedent(
            f"""\
            [health]
            ttl = 60
            {textwrap.dedent(body)}
            [[providers]]
            name = "out"
            type = "file"
            [providers.settings]
            channel = "email"
            directory = "{(directory / "sent").as_posix()}"
            """
        )
    )
    return path


def sent(directory: Path, provider: str = "out") -> list[dict[str, Any]]:
    path = directory / "sent" / f"{provider}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def invoke(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    state = CliState(plugin_manager_factory=plugin_manager, env=env or {})
    result = CliRunner().invoke(cli, list(args), obj=state, input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


SCRIPTED_FIRST = """
[[providers]]
name = "{name}"
type = "scripted"
[providers.settings]
outcome = "{outcome}"
"""


class TestSend:
    def test_delivered(self, workdir: Path) -> None:
        """A delivered message exits 0 and says where it went."""
        write_config(workdir)
        result = invoke("send", "--email", "ann@example.com", "--subject", "Hello", "--text", "hi there")
        assert result.exit_code == EXIT_OK, result.output
        assert result.stdout.startswith("delivered via out (email) id=out-1")
        (record,) = sent(workdir)
        assert (record["to"], record["subject"], record["text"]) == ("ann@example.com", "Hello", "hi there")

    def test_json_with_trace(self, workdir: Path) -> None:
        """--json --trace prints the result with its trace, decodable by decode_result."""
        write_config(workdir)
        result = invoke(
            "send", "--email", "a@example.com", "--text", "hi", "--json", "--trace", "--reference-id", "r-1"
        )
        decoded = decode_result(result.stdout.strip())
        assert decoded.ok
        assert decoded.reference_id == "r-1"
        assert decoded.trace is not None
        assert [a.provider for a in decoded.trace.attempts] == ["out"]

    def test_trace_table(self, workdir: Path) -> None:
        """--trace shows attempts and skipped providers as a table."""
        write_config(workdir, SCRIPTED_FIRST.format(name="wa", outcome="ok").replace('"sms"', '"sms"'))
        result = invoke("send", "--email", "a@example.com", "--text", "hi", "--trace")
        assert result.exit_code == EXIT_OK
        assert "skipped no_address" in result.stdout
        assert "ok out-1" in result.stdout

    def test_failed(self, workdir: Path) -> None:
        """A failure exits 1 and names the error class, code and reason."""
        write_config(workdir, SCRIPTED_FIRST.format(name="sms", outcome="permanent"))
        result = invoke("send", "--phone", "+15550001", "--text", "hi")
        assert result.exit_code == EXIT_FAILED
        assert "failed: permanent invalid_recipient: no such number" in result.stderr

    def test_unknown(self, workdir: Path) -> None:
        """An ambiguous failure exits 3: possibly delivered."""
        write_config(workdir, SCRIPTED_FIRST.format(name="sms", outcome="ambiguous"))
        result = invoke("send", "--phone", "+15550001", "--text", "hi")
        assert result.exit_code == EXIT_UNKNOWN
        assert "unknown (possibly delivered): ambiguous timeout" in result.stderr

    def test_via(self, workdir: Path) -> None:
        """--via picks providers and their order."""
        write_config(workdir, SCRIPTED_FIRST.format(name="sms", outcome="permanent"))
        result = invoke("send", "--phone", "+1555", "--address", "email=b@example.com", "--text", "x", "--via", "out")
        assert result.exit_code == EXIT_OK
        assert sent(workdir)[0]["to"] == "b@example.com"

    def test_unknown_via(self, workdir: Path) -> None:
        """An unknown provider in --via is a usage error (2)."""
        write_config(workdir)
        result = invoke("send", "--email", "a@example.com", "--text", "x", "--via", "out,nope")
        assert result.exit_code == EXIT_USAGE
        assert "no provider named 'nope'" in result.stderr

    def test_attachment_and_stdin(self, workdir: Path) -> None:
        """--attach reads files; --text - reads standard input."""
        write_config(workdir)
        (workdir / "report.csv").write_text("a,b\n1,2\n")
        result = invoke("send", "--email", "a@example.com", "--text", "-", "--attach", "report.csv", stdin="from stdin")
        assert result.exit_code == EXIT_OK
        (record,) = sent(workdir)
        assert record["text"] == "from stdin"
        assert record["attachments"] == [{"filename": "report.csv", "mime_type": "text/csv", "size": 8}]

    def test_config_error_names_line(self, workdir: Path) -> None:
        """A bad config exits 2 and names file, line and key."""
        write_config(workdir, "[retry]\nmax_attempts = 0\n")
        result = invoke("send", "--email", "a@example.com", "--text", "x")
        assert result.exit_code == EXIT_USAGE
        assert "broadcastio.toml:3: retry: RetryPolicy.max_attempts must be an integer >= 1" in result.stderr

    def test_missing_config(self, workdir: Path) -> None:
        """No configuration file exits 2."""
        result = invoke("send", "--email", "a@example.com", "--text", "x")
        assert result.exit_code == EXIT_USAGE
        assert "configuration file not found" in result.stderr

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--text", "x"], "give an address"),
            (["--email", "a@example.com"], "give --text, --html or --attach"),
            (["--address", "nochannel", "--text", "x"], "expected CHANNEL=ADDRESS"),
            (["--to", "x", "--email", "a@example.com", "--text", "x"], "--to cannot be combined"),
        ],
    )
    def test_usage_errors(self, workdir: Path, args: list[str], message: str) -> None:
        """Missing or contradictory options exit 2 with a message."""
        write_config(workdir)
        result = invoke("send", *args)
        assert result.exit_code == EXIT_USAGE
        assert message in result.stderr

    def test_environment_secret(self, workdir: Path) -> None:
        """${VAR} in the config comes from the environment; a missing one is named."""
        path = write_config(workdir)
        path.write_text(path.read_text().replace('channel = "email"', 'channel = "${CHANNEL}"'))
        missing = invoke("send", "--email", "a@example.com", "--text", "x")
        assert missing.exit_code == EXIT_USAGE
        assert "environment variable CHANNEL is not set" in missing.stderr
        ok = invoke("send", "--email", "a@example.com", "--text", "x", env={"CHANNEL": "email"})
        assert ok.exit_code == EXIT_OK

    def test_verbose_logs_masked_addresses(self, workdir: Path) -> None:
        """-v logs deliveries on stderr as JSON lines, with masked addresses."""
        write_config(workdir)
        result = invoke("-v", "--log-json", "send", "--email", "alice@example.com", "--text", "x")
        events = [json.loads(line) for line in result.stderr.splitlines()]
        delivered = [e for e in events if e["event"] == "broadcastio.delivered"]
        assert delivered[0]["to"] == "a***@example.com"
        assert "alice@example.com" not in result.stderr


def write_recipients(directory: Path, name: str, content: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(content))
    return path


CSV = """\
name,email,code,reference_id
Ann,ann@example.com,111,r-ann
Bob,bob@example.com,222,r-bob
Cid,cid@example.com,333,r-cid
"""


class TestBroadcast:
    def test_csv(self, workdir: Path) -> None:
        """Every row gets its rendered message; results are JSON lines with row numbers."""
        write_config(workdir)
        write_recipients(workdir, "people.csv", CSV)
        result = invoke(
            "broadcast", "-r", "people.csv", "--text", "Hi {name}, your code is {code}", "--results", "out.jsonl"
        )
        assert result.exit_code == EXIT_OK, result.output
        assert "broadcast summary" in result.stdout
        texts = sorted(record["text"] for record in sent(workdir))
        assert texts == ["Hi Ann, your code is 111", "Hi Bob, your code is 222", "Hi Cid, your code is 333"]
        lines = [json.loads(line) for line in (workdir / "out.jsonl").read_text().splitlines()]
        assert sorted((line["row"], line["reference_id"], line["status"]) for line in lines) == [
            (1, "r-ann", "delivered"),
            (2, "r-bob", "delivered"),
            (3, "r-cid", "delivered"),
        ]

    def test_jsonl_metadata_columns(self, workdir: Path) -> None:
        """JSON lines work too; idempotency_key and reference_id reach the message."""
        write_config(workdir)
        write_recipients(
            workdir,
            "people.jsonl",
            '{"email": "a@example.com", "code": 7, "idempotency_key": "k-1"}\n'
            '\n{"email": "b@example.com", "code": 8}\n',
        )
        result = invoke("broadcast", "-r", "people.jsonl", "--text", "code {code}", "--subject", "Code {code}")
        assert result.exit_code == EXIT_OK
        records = sorted(sent(workdir), key=lambda r: r["to"])
        assert [(r["subject"], r["text"]) for r in records] == [("Code 7", "code 7"), ("Code 8", "code 8")]
        assert records[0]["idempotency_key"] == "k-1"

    def test_missing_template_field(self, workdir: Path) -> None:
        """A template field missing from a row exits 2, names the field and row, and sends nothing."""
        write_config(workdir)
        write_recipients(workdir, "people.jsonl", '{"email": "a@example.com", "code": 1}\n{"email": "b@example.com"}\n')
        result = invoke("broadcast", "-r", "people.jsonl", "--text", "code {code}")
        assert result.exit_code == EXIT_USAGE
        assert "people.jsonl:2 (row 2): --text uses field {code}" in result.stderr
        assert sent(workdir) == []

    def test_row_without_address(self, workdir: Path) -> None:
        """A row with no address at all is a usage error naming the row."""
        write_config(workdir)
        write_recipients(workdir, "people.csv", "name,email\nAnn,a@example.com\nBob,\n")
        result = invoke("broadcast", "-r", "people.csv", "--text", "hi {name}")
        assert result.exit_code == EXIT_USAGE
        assert "people.csv:3 (row 2): Recipient needs at least one address" in result.stderr

    def test_failures_summary(self, workdir: Path) -> None:
        """Failures exit 1 and the summary counts them by reason."""
        write_config(workdir)
        write_recipients(workdir, "people.csv", "name,email,phone\nAnn,a@example.com,\nBob,,+1555\n")
        result = invoke("broadcast", "-r", "people.csv", "--text", "hi {name}", "--json")
        assert result.exit_code == EXIT_FAILED
        summary = json.loads(result.stdout)
        assert (summary["total"], summary["delivered"], summary["failed"]) == (2, 1, 1)
        assert summary["reasons"] == [
            {"status": "failed", "class": "permanent", "code": "no_provider_available", "count": 1}
        ]
        assert "1 message(s) not delivered; pass --results FILE" in result.stderr

    def test_unknown_exit(self, workdir: Path) -> None:
        """Possibly-delivered messages without failures exit 3."""
        write_config(workdir, SCRIPTED_FIRST.format(name="sms", outcome="ambiguous"))
        write_recipients(workdir, "people.csv", "phone\n+1555\n")
        result = invoke("broadcast", "-r", "people.csv", "--text", "hi", "--json")
        assert result.exit_code == EXIT_UNKNOWN
        assert json.loads(result.stdout)["unknown"] == 1

    def test_dry_run(self, workdir: Path) -> None:
        """--dry-run checks every row and sends nothing."""
        write_config(workdir)
        write_recipients(workdir, "people.csv", CSV)
        result = invoke("broadcast", "-r", "people.csv", "--text", "Hi {name}", "--dry-run")
        assert result.exit_code == EXIT_OK
        assert "3 messages ready" in result.stdout
        assert sent(workdir) == []

    def test_format_from_option(self, workdir: Path) -> None:
        """An unknown extension needs --format."""
        write_config(workdir)
        write_recipients(workdir, "people.txt", CSV)
        assert invoke("broadcast", "-r", "people.txt", "--text", "x").exit_code == EXIT_USAGE
        assert invoke("broadcast", "-r", "people.txt", "--text", "x", "--format", "csv").exit_code == EXIT_OK

    def test_unwritable_results(self, workdir: Path) -> None:
        """A results file that cannot be written is a usage error, and nothing is sent."""
        write_config(workdir)
        write_recipients(workdir, "people.csv", CSV)
        result = invoke("broadcast", "-r", "people.csv", "--text", "x", "--results", "no/such/dir/out.jsonl")
        assert result.exit_code == EXIT_USAGE
        assert "cannot write results to no/such/dir/out.jsonl" in result.stderr
        assert sent(workdir) == []

    def test_bad_template(self, workdir: Path) -> None:
        """A malformed template is refused before anything is sent."""
        write_config(workdir)
        write_recipients(workdir, "people.csv", CSV)
        result = invoke("broadcast", "-r", "people.csv", "--text", "Hi {name")
        assert result.exit_code == EXIT_USAGE
        assert "--text: invalid template" in result.stderr


class TestOutbox:
    def test_broadcast_twice_sends_once(self, workdir: Path) -> None:
        """With --outbox, running the same broadcast again sends nothing twice."""
        write_config(workdir)
        write_recipients(workdir, "people.csv", CSV)
        args = ("broadcast", "-r", "people.csv", "--text", "Hi {name}", "--outbox", "box.db", "--json")
        assert invoke(*args).exit_code == EXIT_OK
        again = invoke(*args)
        assert again.exit_code == EXIT_OK
        assert json.loads(again.stdout)["delivered"] == 3
        assert len(sent(workdir)) == 3
        status = invoke("outbox", "status", "box.db", "--json")
        assert json.loads(status.stdout) == {
            "pending": 0,
            "sending": 0,
            "sent": 3,
            "failed": 0,
            "unknown": 0,
            "cancelled": 0,
            "total": 3,
        }
        table = invoke("outbox", "status", "box.db")
        assert "sent" in table.stdout

    def test_resume_sends_pending(self, workdir: Path) -> None:
        """outbox resume sends what a stopped run left pending."""
        from broadcastio import Message, Recipient
        from broadcastio.outbox import Outbox

        write_config(workdir)
        with Outbox(workdir / "box.db") as box:
            box.add([Message(recipient=Recipient(email=f"p{i}@example.com"), text=f"n{i}") for i in range(4)])
        result = invoke("outbox", "resume", "box.db", "--json", "--results", "resumed.jsonl")
        assert result.exit_code == EXIT_OK, result.output
        assert json.loads(result.stdout)["delivered"] == 4
        assert len(sent(workdir)) == 4
        assert len((workdir / "resumed.jsonl").read_text().splitlines()) == 4
        assert json.loads(invoke("outbox", "status", "box.db", "--json").stdout)["sent"] == 4

    def test_missing_outbox(self, workdir: Path) -> None:
        """status of a file that does not exist is a usage error and creates nothing."""
        result = invoke("outbox", "status", "nothing.db")
        assert result.exit_code == EXIT_USAGE
        assert not (workdir / "nothing.db").exists()


class TestProviders:
    def test_json(self, workdir: Path) -> None:
        """--json lists plugins, provider types and configured providers with health."""
        write_config(workdir)
        result = invoke("providers", "--json")
        assert result.exit_code == EXIT_OK, result.output
        report = json.loads(result.stdout)
        builtin = next(p for p in report["plugins"] if p["name"] == "broadcastio.builtin")
        assert builtin["provider_types"] == ["file", "memory"]
        assert "broadcastio_provider_types" in builtin["hooks"]
        assert {t["name"] for t in report["provider_types"]} >= {"file", "memory", "scripted"}
        (configured,) = report["configured"]
        assert (configured["name"], configured["type"], configured["channel"]) == ("out", "file", "email")
        assert configured["healthy"] is True

    def test_table_and_failures(self, workdir: Path) -> None:
        """Without a config file only plugins are listed; load failures are shown."""

        def broken_manager() -> PluginManager:
            manager = plugin_manager()
            manager.failures.append(PluginFailure(name="broken", error="ImportError: no module named nope"))
            return manager

        result = CliRunner().invoke(cli, ["providers"], obj=CliState(plugin_manager_factory=broken_manager))
        assert result.exit_code == EXIT_OK, result.output
        assert "installed plugins" in result.stdout
        assert "broken" in result.stdout
        assert "configured providers" not in result.stdout

    def test_explicit_missing_config(self, workdir: Path) -> None:
        """An explicit --config that does not exist is an error."""
        assert invoke("providers", "--config", "nope.toml").exit_code == EXIT_USAGE


class TestConfigCheck:
    def test_valid(self, workdir: Path) -> None:
        """A valid file exits 0 and lists its providers."""
        path = write_config(workdir)
        result = invoke("config", "check", str(path))
        assert result.exit_code == EXIT_OK
        assert "OK, 1 provider(s) in fallback order: out (file)" in result.stdout

    def test_invalid_names_line(self, workdir: Path) -> None:
        """An invalid file exits 2 and names the line."""
        path = write_config(workdir, name="bad.toml")
        path.write_text(path.read_text().replace('type = "file"', 'type = "file"\nretries = 3'))
        result = invoke("config", "check", str(path))
        assert result.exit_code == EXIT_USAGE
        assert "bad.toml:7: providers[0].retries: unknown key 'retries'" in result.stderr

    def test_bad_setting(self, workdir: Path) -> None:
        """A setting the provider type does not take is found without sending."""
        path = write_config(workdir)
        path.write_text(path.read_text() + "colour = 'blue'\n")
        result = invoke("config", "check")
        assert result.exit_code == EXIT_USAGE
        assert "providers[0].settings.colour" in result.stderr
        assert str(path.name) in result.stderr


class TestConfigShow:
    def test_masks_environment_values(self, workdir: Path) -> None:
        """config show prints every policy field and masks values from the environment."""
        path = write_config(workdir, "[retry]\nmax_attempts = 2\n")
        path.write_text(path.read_text().replace('channel = "email"', 'channel = "${CHANNEL}"'))
        result = invoke("config", "show", env={"CHANNEL": "email-secret"})
        assert result.exit_code == EXIT_OK, result.output
        shown = json.loads(result.stdout)
        assert shown["retry"]["max_attempts"] == 2
        assert shown["retry"]["backoff"] == "exponential"
        assert shown["breaker"] is None
        assert shown["providers"][0]["settings"]["channel"] == "***"
        assert "email-secret" not in result.stdout


def _run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BROADCASTIO_PLUGINS": "", "PYTHONWARNINGS": "error"}
    env.pop("BROADCASTIO_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "broadcastio", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestSubprocess:
    def test_python_m_broadcastio_send(self, tmp_path: Path) -> None:
        """``python -m broadcastio send`` delivers through the file provider and exits 0."""
        write_config(tmp_path)
        done = _run_module(
            "send", "--email", "ann@example.com", "--text", "hello from a process", "--json", cwd=tmp_path
        )
        assert done.returncode == EXIT_OK, done.stderr
        assert decode_result(done.stdout.strip()).provider == "out"
        assert sent(tmp_path)[0]["text"] == "hello from a process"

    def test_python_m_broadcastio_exit_status(self, tmp_path: Path) -> None:
        """A configuration error exits 2 with the message on stderr."""
        write_config(tmp_path, "[breaker]\nfailure_threshold = -1\n")
        done = _run_module("send", "--email", "ann@example.com", "--text", "x", cwd=tmp_path)
        assert done.returncode == EXIT_USAGE
        assert "broadcastio.toml:3: breaker: BreakerPolicy.failure_threshold must be an integer >= 1" in done.stderr
        assert done.stdout == ""
