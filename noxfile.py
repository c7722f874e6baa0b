"""Every developer task of the broadcastio monorepo.

`nox` runs the whole test suite (lint, types, core, each plugin alone, all
plugins together, node-whatsapp, docs); `nox -s demo` runs the demo and
`nox -s bench` the benchmarks.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from pathlib import Path

import nox

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
# A promised Python that is missing fails the run; nox never downloads one.
nox.options.error_on_missing_interpreters = True
nox.options.download_python = "never"

ROOT = Path(__file__).parent
PROMISED = ("3.11", "3.12", "3.13")
"""The Pythons the README promises; test sessions run on each one installed."""


def _works(version: str) -> bool:
    executable = shutil.which(f"python{version}")
    if executable is None:
        return False
    try:  # a pyenv shim exists for every version pyenv knows, active or not
        return subprocess.run([executable, "-c", ""], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


_FOUND = [version for version in PROMISED if _works(version)]
PYTHON = _FOUND[0] if _FOUND else PROMISED[0]
"""Tooling sessions (lint, types, docs, demo, bench) run on one Python: the oldest installed."""
TEST_PYTHONS: str | list[str] = (_FOUND if len(_FOUND) > 1 else PYTHON) if _FOUND else list(PROMISED)
"""Test sessions: every promised Python found; all of them (and so a failure) when none is.
A single Python stays a plain string so session names keep their short form (``core``)."""
PLUGINS = sorted(path.name for path in (ROOT / "plugins").glob("broadcastio-*") if (path / "pyproject.toml").exists())
TEST_TOOLS = ["pytest>=8", "pytest-asyncio>=0.24", "hypothesis>=6.100", "pytest-timeout", "trustme"]

# node first: its `npm ci` (which compiles better-sqlite3) leaves node_modules in place, so the
# Python end-to-end tests that start node-whatsapp do not install it again.
nox.options.sessions = ["lint", "types", "node", "node_schema", "core", "plugin", "plugins_all", "template", "docs"]


def _install_core(session: nox.Session) -> None:
    session.install("-e", "core[http,testing,cli,receipts,postgres]", *TEST_TOOLS)


def _pytest(session: nox.Session, *paths: str) -> None:
    existing = [path for path in paths if (ROOT / path).exists()]
    if not existing:
        session.error(f"no test folder among {paths}")
    session.run("pytest", "--timeout=300", *existing, *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff, and the rule that plugins import only broadcastio's public API."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("python", "tools/check_plugin_imports.py")


@nox.session(python=PYTHON)
def types(session: nox.Session) -> None:
    """mypy --strict on core, every plugin and the template."""
    plugins = [arg for plugin in PLUGINS for arg in ("-e", f"plugins/{plugin}")]
    session.install(
        "mypy>=1.11", "-e", "core[http,testing,cli,receipts,postgres]", *plugins, "-e", "plugins/_template", "pytest"
    )
    session.run("mypy")


@nox.session(python=TEST_PYTHONS)
def core(session: nox.Session) -> None:
    """Core's own tests (unit, property, broadcast memory)."""
    _install_core(session)
    _pytest(session, "core/tests")


@nox.session(python=TEST_PYTHONS)
@nox.parametrize("plugin", PLUGINS)
def plugin(session: nox.Session, plugin: str) -> None:
    """One plugin alone: core plus that plugin, then its tests."""
    _install_core(session)
    session.install("-e", f"plugins/{plugin}[test]")
    module = plugin.replace("-", "_")
    session.run("python", "-c", f"import {module}")
    _pytest(session, f"plugins/{plugin}/tests")


@nox.session(python=TEST_PYTHONS)
def plugins_all(session: nox.Session) -> None:
    """Every plugin installed together: each plugin's discovery tests (every entry point side by side),
    then the cross-package tests. Core's tests and each plugin's whole suite ran in their own sessions
    already; running them all again here only doubled the suite's time."""
    _install_core(session)
    session.install(*[arg for plugin in PLUGINS for arg in ("-e", f"plugins/{plugin}[test]")])
    session.install("-r", "demo/requirements.txt")
    if session.posargs:  # a chosen subset, as given
        session.run("pytest", "--timeout=300", *session.posargs)
        return
    found = sorted(ROOT.glob("plugins/broadcastio-*/tests/test_discovery.py"))
    discovery = [str(path.relative_to(ROOT)) for path in found]
    _pytest(session, *discovery, "tests")


@nox.session(python=TEST_PYTHONS)
def template(session: nox.Session) -> None:
    """plugins/_template works as documented: copy, rename, install, test."""
    _install_core(session)
    target = Path(session.create_tmp()) / "template-check"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    session.run("python", "tools/new_plugin.py", "acme", "--dest", str(target))
    session.install("-e", f"{target / 'broadcastio-acme'}[test]")
    with session.chdir(target):
        session.run("pytest", "-p", "no:cacheprovider", "broadcastio-acme/tests")


@nox.session(python=PYTHON)
def wheels(session: nox.Session) -> None:
    """A wheelhouse in dist/ for offline installs: core, every plugin and their dependencies.

    Then, offline: ``pip install --no-index --find-links dist "broadcastio[cli]" broadcastio-email``.
    """
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.install("pip", "uv")
    session.run("uv", "build", "--all-packages", "--wheel", "--out-dir", str(dist))
    ours = [str(path) for path in sorted(dist.glob("*.whl"))]
    extras = ["broadcastio[cli,http,testing]"]
    session.run("pip", "wheel", "--quiet", "--wheel-dir", str(dist), "--find-links", str(dist), *ours, *extras)
    session.log("%d wheels in %s", len(list(dist.glob("*.whl"))), dist)


@nox.session(python=False)
def node(session: nox.Session) -> None:
    """node-whatsapp: npm ci and npm test (offline, fake and stubbed drivers)."""
    if shutil.which("npm") is None:
        session.error("npm is not installed (Node.js 20 is needed for node-whatsapp)")
    env = {"PUPPETEER_SKIP_DOWNLOAD": "true", "PUPPETEER_SKIP_CHROMIUM_DOWNLOAD": "true"}
    with session.chdir(ROOT / "node-whatsapp"):
        session.run("npm", "ci", "--no-audit", "--no-fund", env=env, external=True)
        session.run("npm", "test", env=env, external=True)


@nox.session(python=PYTHON)
def node_schema(session: nox.Session) -> None:
    """node-whatsapp against its openapi.json: bounded schemathesis run, fake driver, no 5xx, no schema violation."""
    if shutil.which("npm") is None:
        session.error("npm is not installed (Node.js 20 is needed for node-whatsapp)")
    session.install("schemathesis>=4.3,<5")
    folder = ROOT / "node-whatsapp"
    if not (folder / "node_modules").exists():
        env = {"PUPPETEER_SKIP_DOWNLOAD": "true", "PUPPETEER_SKIP_CHROMIUM_DOWNLOAD": "true"}
        with session.chdir(folder):
            session.run("npm", "ci", "--no-audit", "--no-fund", env=env, external=True)
    token = secrets.token_hex(16)
    env = {"PATH": os.environ["PATH"], "WA_DRIVER": "fake", "WA_TOKEN": token, "WA_PORT": "0"}
    env["WA_MIN_CHAT_GAP_MS"] = "0"
    service = subprocess.Popen(["node", "src/server.js"], cwd=folder, env=env, stdout=subprocess.PIPE, text=True)
    try:
        port = _listening_port(session, service)
        # schemathesis writes its reports to the working directory: keep them out of the tree.
        session.chdir(session.create_tmp())
        session.run(
            "schemathesis",
            "run",
            str(folder / "openapi.json"),
            "--url",
            f"http://127.0.0.1:{port}",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            # These two set failure states and scripted 5xx outcomes on purpose.
            "--exclude-path-regex",
            "^/_fake/(state|script)$",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--request-timeout",
            "10",
            *session.posargs,
        )
    finally:
        service.terminate()
        service.wait(timeout=30)


def _listening_port(session: nox.Session, service: subprocess.Popen[str]) -> int:
    """The port from node-whatsapp's "listening" log line (WA_PORT=0 picks a free one)."""
    assert service.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = service.stdout.readline()
        if not line:
            break
        record = json.loads(line)
        if record.get("msg") == "listening":
            # Keep draining the log so the service never blocks on a full pipe.
            threading.Thread(target=service.stdout.read, daemon=True).start()
            return int(record["port"])
    session.error("node-whatsapp did not start")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site in strict mode (warnings are errors)."""
    session.install("mkdocs-material>=9.5")
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / ".nox" / "site"))


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The main job: WhatsApp (real node-whatsapp, fake driver) falls back to email (local SMTP); traces printed."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        session.error(
            f"{' and '.join(missing)} not found: the demo runs node-whatsapp, a Node.js service. "
            "Install Node.js 20 or later with npm (https://nodejs.org/, or e.g. `sudo apt-get install nodejs npm`)."
        )
    packages = ["core", "plugins/broadcastio-whatsapp", "plugins/broadcastio-email"]
    session.install(*[arg for path in packages for arg in ("-e", path)], "-r", "demo/requirements.txt")
    # The demo runs `npm ci` in node-whatsapp itself when node_modules is missing, and says so.
    session.run("python", "demo/demo.py", *session.posargs, env={"PYTHONUNBUFFERED": "1"})


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: they print their figures side by side."""
    _install_core(session)
    session.install(*[arg for plugin in PLUGINS for arg in ("-e", f"plugins/{plugin}")], "apprise")
    for script in sorted((ROOT / "bench").glob("*.py")):
        if not script.name.startswith("_"):
            session.run("python", str(script.relative_to(ROOT)), env={"PYTHONUNBUFFERED": "1"})
