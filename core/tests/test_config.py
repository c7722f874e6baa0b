"""broadcastio.toml: loading, validation with line numbers, env secrets, building."""

from __future__ import annotations

import json
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest
from broadcastio import (
    BreakerPolicy,
    ConfigurationError,
    HealthPolicy,
    MemoryProvider,
    Message,
    RateLimit,
    RetryPolicy,
)
from broadcastio.config import ConfigFileError, build_orchestrator, load_config, parse_config
from broadcastio.config._schema import BreakerSection, HealthSection, RateLimitSection, RetrySection
from broadcastio.config._toml import format_path, index_lines, line_of
from broadcastio.testing import isolated_plugin_manager, no_wait
from hypothesis import given, settings
from hypothesis import strategies as st

FULL = """\
# a full example
[orchestrator]
fallback_on_ambiguous = true

[retry]
max_attempts = 3
backoff = "fixed"
base_delay = 0.25

[breaker]
failure_threshold = 2

[health]
ttl = 5
strict = false

[[providers]]
name = "primary"
type = "memory"
retry = { max_attempts = 5 }
rate_limit = { per_second = 10, burst = 5 }

[providers.settings]
channel = "sms"
idempotent = true

[[providers]]
name = "backup"
type = "memory"
enabled = true

[providers.settings]
channel = "email"
"""


def parse(text: str, **env: str) -> object:
    return parse_config(textwrap.dedent(text), source="test.toml", env=env)


def error_of(text: str, **env: str) -> ConfigFileError:
    with pytest.raises(ConfigFileError) as info:
        parse(text, **env)
    return info.value


class TestLoad:
    def test_full_example(self) -> None:
        """Every section becomes the matching core policy."""
        config = parse_config(FULL, source="full.toml")
        assert config.fallback_on_ambiguous is True
        assert config.retry == RetryPolicy(max_attempts=3, backoff="fixed", base_delay=0.25)
        assert config.breaker == BreakerPolicy(failure_threshold=2)
        assert config.health == HealthPolicy(ttl=5.0, strict=False)
        primary, backup = config.providers
        assert (primary.name, primary.type, backup.name) == ("primary", "memory", "backup")
        assert primary.rate_limit == RateLimit(per_second=10.0, burst=5)
        assert primary.settings == {"channel": "sms", "idempotent": True}

    def test_provider_retry_overrides_default_fields(self) -> None:
        """A provider's retry table overrides only the fields it names of [retry]."""
        primary = parse_config(FULL).providers[0]
        assert primary.retry == RetryPolicy(max_attempts=5, backoff="fixed", base_delay=0.25)

    def test_provider_without_retry_uses_default(self) -> None:
        """No retry table: the provider gets no policy of its own."""
        assert parse_config(FULL).providers[1].retry is None

    def test_missing_sections_are_none(self) -> None:
        """Absent policy sections leave the Orchestrator's defaults."""
        config = parse('[[providers]]\nname = "m"\ntype = "memory"\n')
        assert (config.retry, config.breaker, config.health) == (None, None, None)

    def test_load_from_file(self, tmp_path: Path) -> None:
        """load_config reads a file and names it in the result."""
        path = tmp_path / "broadcastio.toml"
        path.write_text(FULL)
        assert load_config(path).source == str(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file is a ConfigurationError naming the file."""
        with pytest.raises(ConfigurationError, match="nope.toml: configuration file not found"):
            load_config(tmp_path / "nope.toml")

    def test_sections_mirror_core_policies(self) -> None:
        """The strict sections have exactly the fields of core's policies."""
        for section, policy in [
            (RetrySection, RetryPolicy),
            (BreakerSection, BreakerPolicy),
            (HealthSection, HealthPolicy),
            (RateLimitSection, RateLimit),
        ]:
            assert [f.name for f in msgspec.structs.fields(section)] == [f.name for f in msgspec.structs.fields(policy)]


class TestErrors:
    def test_wrong_type_names_key_and_line(self) -> None:
        """A wrong type names the file, the line and the key path."""
        error = error_of(
            """\
            [[providers]]
            name = "a"
            type = "memory"

            [[providers]]
            name = "b"
            type = "memory"
            retry = { max_attempts = "five" }
            """
        )
        assert (error.file, error.line, error.key) == ("test.toml", 8, "providers[1].retry.max_attempts")
        assert "Expected `int`, got `str`" in str(error)
        assert str(error).startswith("test.toml:8: providers[1].retry.max_attempts: ")

    def test_unknown_key_in_table(self) -> None:
        """An unknown key is refused at its own line."""
        error = error_of(
            """\
            [retry]
            max_attempts = 2
            max_atempts = 3

            [[providers]]
            name = "a"
            type = "memory"
            """
        )
        assert (error.line, error.key) == (3, "retry.max_atempts")
        assert "unknown key 'max_atempts'" in error.reason

    def test_unknown_top_level_table(self) -> None:
        """An unknown section is refused at its header."""
        error = error_of('[[providers]]\nname = "a"\ntype = "memory"\n\n[retries]\nmax_attempts = 2\n')
        assert (error.line, error.key) == (5, "retries")

    def test_unknown_key_in_inline_table(self) -> None:
        """A key inside an inline table is reported at the inline table's line."""
        error = error_of('[[providers]]\nname = "a"\ntype = "memory"\nrate_limit = { per_second = 1, brust = 2 }\n')
        assert (error.line, error.key) == (4, "providers[0].rate_limit.brust")

    def test_missing_required_key(self) -> None:
        """A provider without a type is refused at its header."""
        error = error_of('[[providers]]\nname = "a"\n')
        assert (error.line, error.key) == (1, "providers[0]")
        assert "missing required field `type`" in error.reason

    def test_policy_invariant(self) -> None:
        """A policy's own invariant is reported at its table."""
        error = error_of('[breaker]\nfailure_threshold = 0\n[[providers]]\nname = "a"\ntype = "memory"\n')
        assert (error.line, error.key) == (1, "breaker")
        assert "failure_threshold must be an integer >= 1" in error.reason

    def test_bad_literal(self) -> None:
        """An unknown backoff name is refused at its line."""
        error = error_of('[retry]\n\nbackoff = "linear"\n[[providers]]\nname = "a"\ntype = "memory"\n')
        assert (error.line, error.key) == (3, "retry.backoff")

    def test_invalid_toml(self) -> None:
        """A TOML syntax error names the line."""
        error = error_of('[[providers]]\nname = "a\n')
        assert error.line == 2
        assert "invalid TOML" in error.reason

    def test_no_providers(self) -> None:
        """A file without providers is refused."""
        assert "no providers configured" in str(error_of("[retry]\nmax_attempts = 2\n"))

    def test_duplicate_provider_names(self) -> None:
        """Two providers with one name are refused at the second name."""
        error = error_of('[[providers]]\nname = "a"\ntype = "memory"\n[[providers]]\nname = "a"\ntype = "file"\n')
        assert (error.line, error.key) == (5, "providers[1].name")

    def test_bad_provider_name(self) -> None:
        """Provider names must be usable in --via lists."""
        error = error_of('[[providers]]\nname = "a,b"\ntype = "memory"\n')
        assert error.key == "providers[0].name"

    def test_reserved_setting(self) -> None:
        """``name`` in settings is refused: broadcastio sets it."""
        error = error_of('[[providers]]\nname = "a"\ntype = "memory"\n[providers.settings]\nname = "x"\n')
        assert (error.line, error.key) == (5, "providers[0].settings.name")


class TestEnvironment:
    def test_expands_variables(self) -> None:
        """${VAR} takes its value from the environment."""
        config = parse(
            '[[providers]]\nname = "a"\ntype = "memory"\n[providers.settings]\nchannel = "${CHAN}"\n', CHAN="sms"
        )
        assert config.providers[0].settings["channel"] == "sms"

    def test_missing_variable_names_variable_and_key(self) -> None:
        """A missing variable is an error naming it, the key and the line."""
        error = error_of(
            '[[providers]]\nname = "a"\ntype = "memory"\n[providers.settings]\ntoken = "Bearer ${API_TOKEN}"\n'
        )
        assert (error.line, error.key) == (5, "providers[0].settings.token")
        assert "API_TOKEN is not set" in error.reason

    def test_escape(self) -> None:
        """$${ is a literal ${ and is not masked."""
        config = parse('[[providers]]\nname = "a"\ntype = "memory"\n[providers.settings]\nx = "$${HOME}"\n')
        assert config.providers[0].settings["x"] == "${HOME}"
        assert "${HOME}" in repr(config)

    def test_unclosed_reference(self) -> None:
        """A '${' without '}' is an error."""
        error = error_of('[[providers]]\nname = "a"\ntype = "memory"\n[providers.settings]\nx = "${OOPS"\n')
        assert "unclosed" in error.reason

    def test_repr_masks_values_from_environment(self) -> None:
        """Values that came from the environment never show in repr."""
        config = parse(
            """\
            [[providers]]
            name = "a"
            type = "memory"
            [providers.settings]
            token = "${SECRET}"
            headers = { Authorization = "Bearer ${SECRET}", Accept = "json" }
            keys = ["${SECRET}", "public"]
            """,
            SECRET="hunter2-very-secret",
        )
        assert config.providers[0].settings["headers"]["Authorization"] == "Bearer hunter2-very-secret"
        assert "hunter2" not in repr(config)
        assert "hunter2" not in repr(config.providers[0])
        assert "'Accept': 'json'" in repr(config)
        assert "['***', 'public']" in repr(config)
        assert "hunter2" not in str(msgspec.to_builtins(config.providers[0].secret_settings))


class TestLineIndex:
    def test_multiline_values_do_not_confuse_the_scanner(self) -> None:
        """Keys inside multi-line strings and arrays are not taken for assignments."""
        text = textwrap.dedent(
            '''\
            [a]
            doc = """
            fake = 1
            [fake]
            """
            list = [
              "x = 2",
              { y = 3 },
            ]
            real = 4  # comment with [brackets]
            "quoted key".inner = 5
            '''
        )
        index = index_lines(text)
        assert index[("a", "real")] == 10
        assert index[("a", "quoted key", "inner")] == 11
        assert ("fake",) not in index
        assert ("a", "fake") not in index

    def test_nested_array_of_tables(self) -> None:
        """Arrays of tables are numbered per parent."""
        text = "[[p]]\nn = 1\n[[p.q]]\nm = 1\n[[p]]\nn = 2\n[[p.q]]\nm = 2\n[[p.q]]\nm = 3\n"
        index = index_lines(text)
        assert index[("p", 1, "q", 1, "m")] == 10
        assert line_of(index, ("p", 1, "q", 1, "m", 0)) == 10

    def test_format_path(self) -> None:
        """Key paths print like msgspec's, quoting keys that need it."""
        assert format_path(("providers", 1, "settings", "a b")) == 'providers[1].settings."a b"'


class TestBuild:
    def test_builds_orchestrator(self, tmp_path: Path) -> None:
        """Providers are built in order with their policies and rate limits."""
        path = tmp_path / "broadcastio.toml"
        path.write_text(FULL)
        orchestrator = build_orchestrator(path, plugin_manager=isolated_plugin_manager())
        try:
            primary, backup = orchestrator.providers
            assert isinstance(primary, MemoryProvider)
            assert (primary.name, primary.channel, primary.idempotent) == ("primary", "sms", True)
            assert primary.retry_policy == RetryPolicy(max_attempts=5, backoff="fixed", base_delay=0.25)
            assert backup.retry_policy is None
            assert orchestrator.retry == RetryPolicy(max_attempts=3, backoff="fixed", base_delay=0.25)
            assert orchestrator.breaker == BreakerPolicy(failure_threshold=2)
            result = orchestrator.send(Message(recipient="+15550001", text="hi"), via=["backup"])
            assert result.ok
            assert result.provider == "backup"
        finally:
            orchestrator.close()

    def test_max_in_flight_reaches_the_orchestrator(self) -> None:
        """A provider's max_in_flight caps its concurrent attempts in the built orchestrator."""
        config = parse('[[providers]]\nname = "a"\ntype = "memory"\nmax_in_flight = 3\n')
        assert config.providers[0].max_in_flight == 3
        orchestrator = build_orchestrator(config, plugin_manager=isolated_plugin_manager())
        try:
            assert orchestrator._slot("a").max_in_flight == 3
        finally:
            orchestrator.close()

    def test_bad_max_in_flight_names_its_line(self) -> None:
        """max_in_flight = 0 is refused at its own line."""
        error = error_of('[[providers]]\nname = "a"\ntype = "memory"\nmax_in_flight = 0\n')
        assert (error.line, error.key) == (4, "providers[0].max_in_flight")
        assert "max_in_flight must be an integer >= 1" in error.reason

    def test_disabled_provider_is_not_built(self) -> None:
        """enabled = false leaves a provider out."""
        config = parse(
            '[[providers]]\nname = "a"\ntype = "memory"\nenabled = false\n[[providers]]\nname = "b"\ntype = "memory"\n'
        )
        orchestrator = build_orchestrator(config, plugin_manager=isolated_plugin_manager())
        assert [p.name for p in orchestrator.providers] == ["b"]
        orchestrator.close()

    def test_unknown_type_names_line(self) -> None:
        """An unknown provider type is reported at its type line."""
        config = parse('[[providers]]\nname = "a"\n\ntype = "carrier-pigeon"\n')
        with pytest.raises(ConfigFileError) as info:
            build_orchestrator(config, plugin_manager=isolated_plugin_manager())
        assert info.value.line == 4
        assert "unknown provider type 'carrier-pigeon'" in str(info.value)

    def test_unknown_setting_names_line(self) -> None:
        """A setting the provider does not take is reported at its line."""
        config = parse('[[providers]]\nname = "a"\ntype = "memory"\n[providers.settings]\nchannel = "sms"\nbogus = 1\n')
        with pytest.raises(ConfigFileError) as info:
            build_orchestrator(config, plugin_manager=isolated_plugin_manager())
        assert (info.value.line, info.value.key) == (6, "providers[0].settings.bogus")

    async def test_retry_policy_reaches_the_provider(self) -> None:
        """A transient failure is retried per the provider's configured policy."""
        from broadcastio import DeliveryError, ErrorCode

        config = parse('[[providers]]\nname = "a"\ntype = "memory"\nretry = { max_attempts = 2, backoff = "none" }\n')
        orchestrator = build_orchestrator(config, plugin_manager=isolated_plugin_manager())
        provider = orchestrator.providers[0]
        provider.script(DeliveryError.transient(ErrorCode.TIMEOUT, "slow"))
        with no_wait():
            result = await orchestrator.asend(Message(recipient="x@example.com", text="hi"), trace=True)
        await orchestrator.aclose()
        assert result.ok
        assert result.trace is not None
        assert len(result.trace.attempts) == 2


class TestSecretsInErrors:
    def test_validation_error_hides_environment_value(self) -> None:
        """A value from the environment is never quoted back in an error."""
        error = error_of(
            '[retry]\nbackoff = "${MODE}"\n[[providers]]\nname = "a"\ntype = "memory"\n', MODE="sup3r-secret"
        )
        assert error.key == "retry.backoff"
        assert "sup3r-secret" not in str(error)

    def test_provider_error_hides_environment_value(self) -> None:
        """A provider factory that quotes a secret in its error has it scrubbed."""
        from broadcastio import ProviderType, hookimpl

        def factory(*, name: str, token: str) -> object:
            raise ConfigurationError(f"token {token!r} does not look like a bot token")

        class Plugin:
            @hookimpl
            def broadcastio_provider_types(self) -> list[ProviderType]:
                return [ProviderType(name="picky", factory=factory)]

        manager = isolated_plugin_manager()
        manager.register(Plugin(), name="picky")
        config = parse(
            '[[providers]]\nname = "a"\ntype = "picky"\n[providers.settings]\ntoken = "${TOKEN}"\n',
            TOKEN="12345:abcdef",
        )
        with pytest.raises(ConfigFileError) as info:
            build_orchestrator(config, plugin_manager=manager)
        assert "12345:abcdef" not in str(info.value)
        assert "token '***' does not look like a bot token" in str(info.value)
        assert info.value.line == 3


class TestLineIndexProperties:
    @staticmethod
    def _value(draw: Any) -> list[str]:
        """One TOML value as the lines it spans."""
        kind = draw(st.sampled_from(["int", "string", "multiline", "array", "inline"]))
        text = st.text(
            alphabet=st.one_of(st.characters(blacklist_categories=["Cs", "Cc"]), st.sampled_from("\u2028\x85=[]#{}")),
            max_size=12,
        )
        if kind == "int":
            return [str(draw(st.integers()))]
        if kind == "string":
            return [json.dumps(draw(text), ensure_ascii=False)]
        if kind == "multiline":
            body = [draw(text).replace('"', "'").replace("\\", "/") for _ in range(draw(st.integers(1, 3)))]
            return ['"""', *body, '"""']
        if kind == "array":
            items = [json.dumps(draw(text), ensure_ascii=False) + "," for _ in range(draw(st.integers(0, 3)))]
            return ["[", *items, "]"]
        return ["{ x = 1, y = " + json.dumps(draw(text), ensure_ascii=False) + " }"]

    @given(data=st.data())
    @settings(max_examples=60, deadline=None)
    def test_every_key_is_found_on_its_line(self, data: Any) -> None:
        """Whatever the values, each table and key maps to the line it is written on."""
        names = st.text(alphabet="abcdefghij_", min_size=1, max_size=6)
        lines: list[str] = []
        expected: dict[tuple[str | int, ...], int] = {}
        counts: dict[str, int] = {}
        tables = data.draw(st.lists(st.tuples(st.booleans(), names), max_size=5, unique_by=lambda t: t[1]))
        for is_array, name in tables:
            for _ in range(data.draw(st.integers(1, 2)) if is_array else 1):
                lines.append(f"[[t_{name}]]" if is_array else f"[t_{name}]  # a table")
                path: tuple[str | int, ...] = (f"t_{name}",)
                if is_array:
                    counts[name] = counts.get(name, -1) + 1
                    path = (*path, counts[name])
                expected[path] = len(lines)
                for key in data.draw(st.lists(names, max_size=4, unique=True)):
                    value = self._value(data.draw)
                    lines.append(f"{key} = {value[0]}")
                    expected[(*path, key)] = len(lines)
                    lines.extend(value[1:])
        text = "\n".join(lines) + "\n"
        tomllib.loads(text)  # the generated document is valid TOML
        index = index_lines(text)
        for path, line in expected.items():
            assert index[path] == line, (path, text)
