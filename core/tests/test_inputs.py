"""Bad input from users and files: policies, via=, TOML, recipient files, config show."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from broadcastio import (
    BreakerPolicy,
    ConfigurationError,
    HealthPolicy,
    MemoryProvider,
    Message,
    OutboxError,
    Provider,
    ProviderType,
    RateLimit,
    RetryPolicy,
    hookimpl,
)
from broadcastio.config import ConfigFileError, parse_config
from broadcastio.testing import isolated_plugin_manager

PROVIDER = '[[providers]]\nname = "a"\ntype = "memory"\n'


class TestPolicies:
    @pytest.mark.parametrize(
        ("build", "field"),
        [
            (lambda: RetryPolicy(base_delay=math.nan), "RetryPolicy.base_delay"),
            (lambda: RetryPolicy(max_delay=math.inf), "RetryPolicy.max_delay"),
            (lambda: RetryPolicy(max_attempts=10**20), "RetryPolicy.max_attempts"),
            (lambda: RetryPolicy(max_attempts=2.0), "RetryPolicy.max_attempts"),
            (lambda: RetryPolicy(max_attempts=True), "RetryPolicy.max_attempts"),
            (lambda: RetryPolicy(jitter="yes"), "RetryPolicy.jitter"),
            (lambda: RetryPolicy(retry_on="transient"), "RetryPolicy.retry_on"),
            (lambda: RetryPolicy(base_delay="1"), "RetryPolicy.base_delay"),
            (lambda: BreakerPolicy(cooldown=math.inf), "BreakerPolicy.cooldown"),
            (lambda: BreakerPolicy(cooldown=math.nan), "BreakerPolicy.cooldown"),
            (lambda: BreakerPolicy(failure_threshold=1e20), "BreakerPolicy.failure_threshold"),
            (lambda: BreakerPolicy(half_open_probes=None), "BreakerPolicy.half_open_probes"),
            (lambda: HealthPolicy(ttl=math.nan), "HealthPolicy.ttl"),
            (lambda: HealthPolicy(timeout=math.inf), "HealthPolicy.timeout"),
            (lambda: HealthPolicy(timeout=0), "HealthPolicy.timeout"),
            (lambda: HealthPolicy(strict=1), "HealthPolicy.strict"),
            (lambda: RateLimit(per_second=math.inf), "RateLimit.per_second"),
            (lambda: RateLimit(per_second=math.nan), "RateLimit.per_second"),
            (lambda: RateLimit(per_second=1, burst=2.5), "RateLimit.burst"),
            (lambda: RateLimit(per_second=10**400), "RateLimit.per_second"),
        ],
    )
    def test_bad_values_name_the_field(self, build: Any, field: str) -> None:
        """Wrong types, NaN, infinity and absurd counts are ConfigurationErrors naming the field."""
        with pytest.raises(ConfigurationError, match=field):
            build()


class TestVia:
    async def test_repeated_names_are_refused(self) -> None:
        """via=["p0", "p0"] would repeat the same errors with a fresh attempt budget: refused."""
        provider = MemoryProvider("p0", channel="sms")
        async with MemoryOrchestrator(provider) as orch:
            with pytest.raises(ConfigurationError, match="'p0' more than once"):
                await orch.asend(Message(recipient="+15550100", text="hi"), via=["p0", "p0"])
            with pytest.raises(ConfigurationError, match="more than once"):
                async for _ in orch.abroadcast([Message(recipient="+15550100", text="hi")], via=["p0", "p0"]):
                    pass
        assert list(provider.sent) == []


def MemoryOrchestrator(*providers: Any) -> Any:
    from broadcastio import Orchestrator

    return Orchestrator(list(providers), plugin_manager=isolated_plugin_manager())


class TestToml:
    @pytest.mark.parametrize(
        "text",
        [
            "deep = " + "[" * 5000 + "]" * 5000 + "\n" + PROVIDER,
            "deep = " + "{a = " * 400 + "1" + "}" * 400 + "\n" + PROVIDER,
            ".".join(["a"] * 3000) + " = 1\n" + PROVIDER,
            "[" + ".".join(["t"] * 3000) + "]\n" + PROVIDER,
        ],
    )
    def test_deep_nesting_is_a_config_file_error(self, text: str) -> None:
        """Deeply nested TOML is a ConfigFileError, not a RecursionError traceback."""
        with pytest.raises(ConfigFileError, match="nested deeper than"):
            parse_config(text, source="deep.toml")

    @pytest.mark.parametrize("value", ["1e20", "100000000000000000000000", "nan", "inf", "2.5"])
    def test_absurd_max_attempts(self, value: str) -> None:
        """max_attempts = 1e20 (and friends) is refused at its line."""
        with pytest.raises(ConfigFileError, match="max_attempts") as caught:
            parse_config(f"[retry]\nmax_attempts = {value}\n{PROVIDER}", source="b.toml")
        assert caught.value.line in (1, 2)

    @pytest.mark.parametrize("key", ["cooldown = nan", "cooldown = inf"])
    def test_non_finite_durations(self, key: str) -> None:
        """NaN and infinite durations in a file are refused."""
        with pytest.raises(ConfigFileError, match="finite"):
            parse_config(f"[breaker]\n{key}\n{PROVIDER}", source="c.toml")


class TestOutboxError:
    def test_is_documented_in_the_tree(self) -> None:
        """OutboxError is a BroadcastioError listed in the exception tree."""
        import broadcastio._errors as errors

        assert issubclass(OutboxError, errors.BroadcastioError)
        assert "OutboxError" in (errors.__doc__ or "")


# --- the command line ---------------------------------------------------------

click = pytest.importorskip("click")
from broadcastio.cli import EXIT_OK, EXIT_USAGE, CliState, cli  # noqa: E402
from broadcastio.cli._recipients import MAX_JSON_DEPTH, RecipientFile, RowError, Template  # noqa: E402
from click.testing import CliRunner  # noqa: E402


class _Tokened(Provider):
    """A provider type declaring secret settings."""

    secret_fields = ("token", "password")

    def __init__(self, name: str = "tokened", *, token: str, password: str = "", **_: Any) -> None:
        self.name, self.channel = name, "sms"
        self.token, self.password = token, password


class _TokenedPlugin:
    @hookimpl
    def broadcastio_provider_types(self) -> list[ProviderType]:
        return [ProviderType(name="tokened", factory=_Tokened, channel="sms")]


def _manager() -> Any:
    manager = isolated_plugin_manager()
    manager.register(_TokenedPlugin(), name="tokened-test")
    return manager


class TestConfigShow:
    def test_declared_secrets_are_masked_whatever_their_source(self, tmp_path: Path) -> None:
        """Literal and ${VAR} secrets, and Authorization-like keys, never appear in config show."""
        path = tmp_path / "broadcastio.toml"
        path.write_text(
            "[[providers]]\nname = 'a'\ntype = 'tokened'\n"
            "[providers.settings]\ntoken = 'literal-token-1234'\npassword = '${PW}'\n"
            "headers = { Authorization = 'Basic QUMwOnNlY3JldA==', X-Team = 'ops' }\n"
        )
        state = CliState(plugin_manager_factory=_manager, env={"PW": "env-password-5678"})
        result = CliRunner().invoke(cli, ["config", "show", str(path)], obj=state)
        assert result.exit_code == EXIT_OK, result.output
        settings = json.loads(result.stdout)["providers"][0]["settings"]
        assert settings["token"] == settings["password"] == "***"
        assert settings["headers"] == {"Authorization": "***", "X-Team": "ops"}
        for secret in ("literal-token-1234", "env-password-5678", "QUMwOnNlY3JldA=="):
            assert secret not in result.output


def _reader(tmp_path: Path, name: str, content: str, template: str = "hi {name}") -> RecipientFile:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return RecipientFile(path, "csv" if name.endswith(".csv") else "jsonl", text=Template("--text", template))


class TestRecipientFiles:
    @pytest.mark.parametrize(
        ("name", "content", "match"),
        [
            ("deep.jsonl", '{"phone": "+15550100", "x": ' + "[" * 5000 + "]" * 5000 + "}\n", "nested deeper"),
            ("deep17.jsonl", '{"phone": "+1555", "x": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}", "nested"),
            ("int.jsonl", '{"phone": "+15550100", "n": ' + "9" * 4301 + "}\n", "unreadable JSON value"),
            ("surrogate.jsonl", '{"phone": "+15550100", "name": "\\ud800"}\n', "surrogate"),
            ("long.jsonl", '{"phone": "' + "1" * (1024 * 1024 + 10) + '"}\n', "longer than"),
            (
                "big.csv",
                "phone,name\n+15550100," + "x" * (128 * 1024 + 1) + "\n",
                r"big\.csv:2 \(row 1\).*field larger",
            ),
            ("short.csv", "phone,name,email\n+15550100,bob\n", r"short\.csv:2 \(row 1\): fewer values.*email"),
            ("long.csv", "phone,name\n+15550100,bob,extra\n", "more values than columns"),
            ("dup.csv", "phone,name,phone\n1,2,3\n", "'phone' appears twice"),
            ("blank.csv", "phone,,name\n1,2,3\n", "column 2 of the header has no name"),
            ("address.csv", "address.,name\n1,2\n", "needs a channel"),
        ],
    )
    def test_bounded_and_named(self, tmp_path: Path, name: str, content: str, match: str) -> None:
        """Every bad file is a RowError naming the file (and the line where there is one)."""
        with pytest.raises(RowError, match=match) as caught:
            _reader(tmp_path, name, content).validate()
        assert name in str(caught.value)

    def test_unknown_header_is_named(self, tmp_path: Path) -> None:
        """A misspelt column is named when the rows it should have filled are wrong."""
        with pytest.raises(RowError, match="columns not understood: 'phnoe'"):
            _reader(tmp_path, "typo.csv", "phnoe,name\n+15550100,bob\n").validate()

    def test_template_fields_are_understood(self, tmp_path: Path) -> None:
        """Columns a template uses are not reported as unknown."""
        reader = _reader(tmp_path, "ok.csv", "phone,name,order\n+15550100,bob,42\n", "hi {name}, order {order}")
        assert reader.validate() == 1

    def test_cli_exits_2_naming_the_line(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """broadcast with a short row exits 2 with the line, before sending anything."""
        monkeypatch.chdir(tmp_path)
        (tmp_path / "broadcastio.toml").write_text(
            f"[[providers]]\nname = 'out'\ntype = 'file'\n[providers.settings]\nchannel = 'sms'\n"
            f"directory = '{(tmp_path / 'sent').as_posix()}'\n"
        )
        (tmp_path / "r.csv").write_text("phone,name\n+15550100,ann\n+15550101\n")
        state = CliState(plugin_manager_factory=isolated_plugin_manager, env={})
        result = CliRunner().invoke(cli, ["broadcast", "-r", "r.csv", "--text", "hi {name}"], obj=state)
        assert result.exit_code == EXIT_USAGE
        assert "r.csv:3 (row 2): fewer values than columns" in result.stderr
        assert not (tmp_path / "sent").exists()
