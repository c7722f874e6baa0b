"""``NodeWhatsAppProcess``'s set-up logic, without starting Node.js.

A stand-in ``npm`` script on PATH records how it was called, so the
``npm ci`` path is exercised in milliseconds.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from broadcastio_whatsapp import testing as wa_testing
from broadcastio_whatsapp.testing import (
    NodeWhatsAppError,
    NodeWhatsAppProcess,
    NodeWhatsAppUnavailable,
    ensure_installed,
    find_service_dir,
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the stand-in npm is a shell script")


def make_service(folder: Path, start: str = "node src/server.js") -> Path:
    service = folder / "node-whatsapp"
    service.mkdir()
    (service / "package.json").write_text(json.dumps({"name": "x", "scripts": {"start": start}}))
    return service


def fake_npm(folder: Path, *, exit_code: int = 0) -> Path:
    """An ``npm`` that logs its arguments and creates node_modules (or fails)."""
    script = folder / "npm"
    body = (
        "#!/bin/sh\n"
        'echo "$@" >> npm-calls.log\n'
        'echo "PUPPETEER_SKIP_DOWNLOAD=$PUPPETEER_SKIP_DOWNLOAD" >> npm-calls.log\n'
    )
    body += "mkdir node_modules\nexit 0\n" if exit_code == 0 else f"echo 'npm ERR! boom' >&2\nexit {exit_code}\n"
    script.write_text(body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


class TestFindServiceDir:
    def test_walks_up_from_a_start_folder(self, tmp_path: Path) -> None:
        """The first node-whatsapp/ with a package.json above the start folder is found."""
        service = make_service(tmp_path)
        deep = tmp_path / "a" / "b"
        deep.mkdir(parents=True)
        assert find_service_dir(deep) == service.resolve()

    def test_environment_variable_wins(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """$BROADCASTIO_NODE_WHATSAPP_DIR names the folder explicitly."""
        service = make_service(tmp_path)
        monkeypatch.setenv("BROADCASTIO_NODE_WHATSAPP_DIR", str(service))
        assert find_service_dir() == service.resolve()

    def test_wrong_environment_variable_is_a_clear_error(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A folder without package.json is refused, naming the variable."""
        monkeypatch.setenv("BROADCASTIO_NODE_WHATSAPP_DIR", str(tmp_path))
        with pytest.raises(NodeWhatsAppUnavailable, match="BROADCASTIO_NODE_WHATSAPP_DIR"):
            find_service_dir()

    def test_not_found(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """No node-whatsapp anywhere above: NodeWhatsAppUnavailable."""
        monkeypatch.delenv("BROADCASTIO_NODE_WHATSAPP_DIR", raising=False)
        with pytest.raises(NodeWhatsAppUnavailable, match="node-whatsapp not found"):
            find_service_dir(tmp_path)

    def test_this_repository_has_the_service(self) -> None:
        """From this package, the repository's node-whatsapp is found."""
        assert (find_service_dir() / "package.json").is_file()


class TestStartCommand:
    def test_uses_the_start_script(self, tmp_path: Path) -> None:
        """The command is the package's ``npm start`` script run with the node found on PATH."""
        service = make_service(tmp_path, start="node src/main-entry.js --flag")
        assert wa_testing._start_command(service, "/usr/bin/node") == ["/usr/bin/node", "src/main-entry.js", "--flag"]

    def test_falls_back_to_server_js(self, tmp_path: Path) -> None:
        """A start script that is not ``node ...`` falls back to src/server.js."""
        service = make_service(tmp_path, start="tsx watch src")
        assert wa_testing._start_command(service, "node") == ["node", "src/server.js"]


class TestInstall:
    def test_npm_ci_runs_when_node_modules_is_missing(self, tmp_path: Path) -> None:
        """Without node_modules, ``npm ci`` runs once, with the browser download skipped."""
        service = make_service(tmp_path)
        npm = fake_npm(tmp_path)
        ensure_installed(service, npm=str(npm))
        ensure_installed(service, npm=str(npm))
        calls = (service / "npm-calls.log").read_text().splitlines()
        assert calls == ["ci --no-audit --no-fund", "PUPPETEER_SKIP_DOWNLOAD=true"]
        assert (service / "node_modules").is_dir()

    def test_npm_failure_shows_its_output(self, tmp_path: Path) -> None:
        """A failing ``npm ci`` raises with npm's last lines."""
        service = make_service(tmp_path)
        npm = fake_npm(tmp_path, exit_code=3)
        with pytest.raises(NodeWhatsAppError, match=r"(?s)exit 3.*npm ERR! boom"):
            ensure_installed(service, npm=str(npm))

    def test_missing_npm_is_a_clear_error(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without npm on PATH: NodeWhatsAppUnavailable naming npm."""
        service = make_service(tmp_path)
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        with pytest.raises(NodeWhatsAppUnavailable, match="npm is not installed"):
            ensure_installed(service)


class TestControlBeforeStart:
    def test_control_calls_need_a_running_service(self) -> None:
        """Calling the fake-driver controls before start says how to use the helper."""
        with pytest.raises(NodeWhatsAppError, match="not running"):
            NodeWhatsAppProcess().sent()

    def test_repr_has_no_token(self) -> None:
        """The helper's repr does not show its bearer token."""
        process = NodeWhatsAppProcess(token="very-secret-token")
        assert "very-secret-token" not in repr(process)
        assert not process.running
