"""The command line in every state: no cli extra, a broken configuration, -c anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from broadcastio.testing import isolated_plugin_manager

try:
    from broadcastio.cli import EXIT_OK, EXIT_USAGE, CliState, cli
    from click.testing import CliRunner, Result
except ImportError:  # click or rich missing
    pytest.skip('the CLI needs the "cli" extra: pip install -e "./core[cli]"', allow_module_level=True)


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BROADCASTIO_CONFIG", raising=False)
    return tmp_path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=CliState(plugin_manager_factory=isolated_plugin_manager, env={}))


def memory_config(path: Path, name: str) -> Path:
    path.write_text(f'[[providers]]\nname = "{name}"\ntype = "memory"\n')
    return path


class TestWithoutTheCliExtra:
    def test_script_entry_point_says_how_to_install(self, tmp_path: Path) -> None:
        """With click unimportable, the script's entry point prints the install hint and exits 2."""
        blocker = tmp_path / "block"
        blocker.mkdir()
        (blocker / "sitecustomize.py").write_text(
            textwrap.dedent(
                """
                import sys
                class _Block:
                    def find_spec(self, name, path=None, target=None):
                        if name.split(".")[0] in ("click", "rich"):
                            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                        return None
                sys.meta_path.insert(0, _Block())
                """
            )
        )
        env = {**os.environ, "PYTHONPATH": str(blocker)}
        run = subprocess.run(
            [sys.executable, "-c", "from broadcastio.__main__ import main; main()", "--help"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert run.returncode == EXIT_USAGE, run.stderr
        assert run.stdout == ""
        assert "needs the 'cli' extra" in run.stderr
        assert 'pip install "./core[cli]"' in run.stderr
        assert "Traceback" not in run.stderr

    def test_the_script_points_at_the_importable_entry_point(self) -> None:
        """The installed ``broadcastio`` script enters through broadcastio.__main__:main."""
        from importlib.metadata import entry_points

        (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "broadcastio"]
        assert script.value == "broadcastio.__main__:main"


class TestProvidersWithABrokenConfiguration:
    def test_json_lists_plugins_and_names_the_error(self, workdir: Path) -> None:
        """providers --json prints the plugin list with the configuration's error as a field, exit 2."""
        (workdir / "broadcastio.toml").write_text('[[providers]]\nname = "x"\ntype = "nope"\n')
        result = invoke("providers", "--json")
        assert result.exit_code == EXIT_USAGE
        report = json.loads(result.stdout)
        assert [p["name"] for p in report["plugins"]] == ["broadcastio.builtin"]
        assert {t["name"] for t in report["provider_types"]} == {"file", "memory"}
        assert "unknown provider type 'nope'" in report["config_error"]
        assert report["configured"] is None

    def test_table_lists_plugins_then_the_error(self, workdir: Path) -> None:
        """Without --json the plugin tables still print, and the error goes to stderr."""
        (workdir / "broadcastio.toml").write_text("[[providers]\n")
        result = invoke("providers")
        assert result.exit_code == EXIT_USAGE
        assert "installed plugins" in result.stdout
        assert "error: ConfigFileError" in result.stderr

    def test_healthy_configuration_has_no_error(self, workdir: Path) -> None:
        """A loadable configuration reports config_error null and exits 0."""
        memory_config(workdir / "broadcastio.toml", "m")
        result = invoke("providers", "--json")
        assert result.exit_code == EXIT_OK, result.output
        assert json.loads(result.stdout)["config_error"] is None


class TestConfigOptionAnywhere:
    @pytest.mark.parametrize("position", ["before", "after"])
    def test_c_before_or_after_the_subcommand(self, workdir: Path, position: str) -> None:
        """-c FILE works before the subcommand as well as after it."""
        memory_config(workdir / "other.toml", "from-other")
        args = (
            ["-c", "other.toml", "providers", "--json"]
            if position == "before"
            else ["providers", "--json", "-c", "other.toml"]
        )
        result = invoke(*args)
        assert result.exit_code == EXIT_OK, result.output
        assert [p["name"] for p in json.loads(result.stdout)["configured"]] == ["from-other"]

    @pytest.mark.parametrize("command", ["check", "show"])
    def test_c_before_config_check_and_show(self, workdir: Path, command: str) -> None:
        """`-c FILE config check|show` reads FILE; a FILE argument still wins."""
        memory_config(workdir / "other.toml", "from-other")
        result = invoke("-c", "other.toml", "config", command)
        assert result.exit_code == EXIT_OK, result.output
        assert "from-other" in result.stdout
        assert invoke("-c", "missing.toml", "config", command, "other.toml").exit_code == EXIT_OK
        assert invoke("-c", "missing.toml", "config", command).exit_code == EXIT_USAGE

    def test_after_wins_over_before(self, workdir: Path) -> None:
        """Given on both sides, the subcommand's -c wins."""
        memory_config(workdir / "a.toml", "a")
        memory_config(workdir / "b.toml", "b")
        result = invoke("-c", "a.toml", "providers", "--json", "-c", "b.toml")
        assert [p["name"] for p in json.loads(result.stdout)["configured"]] == ["b"]

    def test_before_reaches_send(self, workdir: Path) -> None:
        """The group's -c is the file send uses."""
        memory_config(workdir / "other.toml", "m")
        result = invoke("-c", "other.toml", "send", "--to", "+4915112345678", "--text", "hello")
        assert result.exit_code == EXIT_OK, result.output
        missing = invoke("-c", "missing.toml", "send", "--to", "+4915112345678", "--text", "hello")
        assert missing.exit_code == EXIT_USAGE
        assert "missing.toml" in missing.stderr
