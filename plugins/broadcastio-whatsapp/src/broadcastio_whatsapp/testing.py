"""Run the real node-whatsapp service, with its fake driver, for tests and demos.

::

    from broadcastio_whatsapp import WhatsAppProvider
    from broadcastio_whatsapp.testing import NodeWhatsAppProcess

    with NodeWhatsAppProcess() as service:
        provider = WhatsAppProvider(base_url=service.base_url, token=service.token)
        ...  # send, then look at service.sent()

The fake driver sends nothing to WhatsApp: it records what it was asked to
send and follows a script of outcomes (accept, fail with a code, hang,
delay), so every path of the real HTTP service can be exercised offline.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

__all__ = [
    "NodeWhatsAppError",
    "NodeWhatsAppProcess",
    "NodeWhatsAppUnavailable",
    "ensure_installed",
    "find_service_dir",
]

SERVICE_DIR_ENV = "BROADCASTIO_NODE_WHATSAPP_DIR"
_NPM_ENV = {"PUPPETEER_SKIP_DOWNLOAD": "true", "PUPPETEER_SKIP_CHROMIUM_DOWNLOAD": "true"}


class NodeWhatsAppError(RuntimeError):
    """Raised when the service cannot be installed, started or controlled."""


class NodeWhatsAppUnavailable(NodeWhatsAppError):
    """Raised when Node.js or npm is not installed, or the service is not found."""


def find_service_dir(start: Path | None = None) -> Path:
    """The node-whatsapp folder: ``$BROADCASTIO_NODE_WHATSAPP_DIR``, else the
    first ``node-whatsapp/`` found walking up from ``start`` (default: this
    package's location, then the working directory)."""
    configured = os.environ.get(SERVICE_DIR_ENV)
    if configured:
        path = Path(configured)
        if not (path / "package.json").is_file():
            raise NodeWhatsAppUnavailable(f"{SERVICE_DIR_ENV}={configured} has no package.json")
        return path.resolve()
    origins = [start] if start is not None else [Path(__file__).resolve().parent, Path.cwd()]
    for origin in origins:
        for folder in (origin, *origin.parents):
            candidate = folder / "node-whatsapp"
            if (candidate / "package.json").is_file():
                return candidate.resolve()
    raise NodeWhatsAppUnavailable(
        f"node-whatsapp not found above {', '.join(str(origin) for origin in origins)}; set {SERVICE_DIR_ENV}"
    )


def _start_command(service_dir: Path, node: str) -> list[str]:
    """The service's ``npm start`` script as a command, run with ``node``."""
    manifest = json.loads((service_dir / "package.json").read_text(encoding="utf-8"))
    script = manifest.get("scripts", {}).get("start", "")
    parts = shlex.split(script) if isinstance(script, str) else []
    if len(parts) >= 2 and parts[0] == "node":
        return [node, *parts[1:]]
    return [node, "src/server.js"]


@contextlib.contextmanager
def _install_lock(service_dir: Path) -> Iterator[None]:
    """One ``npm ci`` at a time per service folder, across processes (pytest-xdist)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, npm ci copes or fails loudly
        yield
        return
    digest = hashlib.sha256(str(service_dir).encode("utf-8")).hexdigest()[:16]
    name = f"broadcastio-node-whatsapp-{digest}.lock"
    with open(Path(tempfile.gettempdir()) / name, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_installed(service_dir: Path, *, npm: str | None = None, timeout: float = 600.0) -> None:
    """Run ``npm ci`` in ``service_dir`` unless ``node_modules`` is there."""
    if (service_dir / "node_modules").is_dir():
        return
    npm = npm or shutil.which("npm")
    if npm is None:
        raise NodeWhatsAppUnavailable("npm is not installed (Node.js 20 or later is needed for node-whatsapp)")
    with _install_lock(service_dir):
        if (service_dir / "node_modules").is_dir():
            return
        completed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=service_dir,
            env={**os.environ, **_NPM_ENV},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if completed.returncode != 0:
            tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-20:])
            raise NodeWhatsAppError(f"npm ci failed in {service_dir} (exit {completed.returncode}):\n{tail}")


class NodeWhatsAppProcess:
    """The node-whatsapp service in a child process, fake driver, ephemeral port.

    A context manager: entering installs dependencies if needed (``npm ci``),
    starts the service and waits for its ``listening`` log line; leaving
    stops it with SIGTERM and waits.

    :param state: the fake driver's initial state (``ready``, ``qr``, ...).
    :param token: the bearer token (default: a random one).
    :param send_timeout_ms: ``WA_SEND_TIMEOUT_MS``, how long the service waits
        for a send before answering ``TIMEOUT_AFTER_SEND``.
    :param min_chat_gap_ms: ``WA_MIN_CHAT_GAP_MS`` (0: no pacing per chat).
    :param env: more environment variables for the service (``WA_*``).
    :param service_dir: the node-whatsapp folder (default: :func:`find_service_dir`).
    :param startup_timeout: seconds to wait for the service to listen.
    :raises NodeWhatsAppUnavailable: when node or npm is missing.
    """

    def __init__(
        self,
        *,
        state: str = "ready",
        token: str | None = None,
        send_timeout_ms: int = 5000,
        min_chat_gap_ms: int = 0,
        shutdown_grace_ms: int = 1000,
        env: Mapping[str, str] | None = None,
        service_dir: str | Path | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.token = token or secrets.token_urlsafe(24)
        self.state = state
        self.send_timeout_ms = send_timeout_ms
        self.min_chat_gap_ms = min_chat_gap_ms
        self.shutdown_grace_ms = shutdown_grace_ms
        self.extra_env = dict(env or {})
        self.service_dir = Path(service_dir).resolve() if service_dir is not None else None
        self.startup_timeout = startup_timeout
        self.base_url = ""
        self.port = 0
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._lines: collections.deque[str] = collections.deque(maxlen=200)
        self._listening = threading.Event()
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"NodeWhatsAppProcess(base_url={self.base_url!r}, running={self.running})"

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def logs(self) -> list[str]:
        """The service's most recent log lines (JSON), oldest first."""
        return list(self._lines)

    # --- lifecycle -------------------------------------------------------

    def start(self) -> NodeWhatsAppProcess:
        """Install if needed, start the service and wait until it listens."""
        if self._process is not None:
            raise NodeWhatsAppError("this NodeWhatsAppProcess is already started")
        node = shutil.which("node")
        if node is None:
            raise NodeWhatsAppUnavailable("node is not installed (Node.js 20 or later is needed for node-whatsapp)")
        service_dir = self.service_dir or find_service_dir()
        self.service_dir = service_dir
        ensure_installed(service_dir)
        environ = {key: value for key, value in os.environ.items() if not key.startswith("WA_")}
        environ.update(
            {
                "WA_DRIVER": "fake",
                "WA_TOKEN": self.token,
                "WA_HOST": "127.0.0.1",
                "WA_PORT": "0",
                "WA_FAKE_STATE": self.state,
                "WA_MIN_CHAT_GAP_MS": str(self.min_chat_gap_ms),
                "WA_SEND_TIMEOUT_MS": str(self.send_timeout_ms),
                "WA_SHUTDOWN_GRACE_MS": str(self.shutdown_grace_ms),
                "WA_LOG_LEVEL": "info",
            }
        )
        environ.update(self.extra_env)
        self._process = subprocess.Popen(
            _start_command(service_dir, node),
            cwd=service_dir,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read_output, name="node-whatsapp-log", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._listening.wait(timeout=0.05):
            if self._process.poll() is not None or time.monotonic() > deadline:
                why = (
                    "exited" if self._process.poll() is not None else f"did not listen within {self.startup_timeout} s"
                )
                self.stop()
                raise NodeWhatsAppError(f"node-whatsapp {why}; last log lines:\n" + "\n".join(self.logs[-20:]))
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._client = httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10.0, trust_env=False
        )
        return self

    def _read_output(self) -> None:
        process = self._process
        assert process is not None
        assert process.stdout is not None
        for line in process.stdout:
            text = line.rstrip("\n")
            self._lines.append(text)
            if self._listening.is_set():
                continue
            try:
                record = json.loads(text)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("msg") == "listening" and isinstance(record.get("port"), int):
                self.port = record["port"]
                self._listening.set()

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the service and wait; kill it if it does not stop in time."""
        if self._client is not None:
            self._client.close()
            self._client = None
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
        return process.returncode

    def __enter__(self) -> NodeWhatsAppProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # --- fake driver control ----------------------------------------------

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        if self._client is None:
            raise NodeWhatsAppError("node-whatsapp is not running; use it inside 'with NodeWhatsAppProcess() as ...'")
        response = self._client.request(method, path, json=body)
        if response.status_code != 200:
            raise NodeWhatsAppError(f"{method} {path} answered {response.status_code}: {response.text}")
        return response.json()

    def set_state(self, state: str, reason: str | None = None) -> None:
        """Put the fake WhatsApp session in ``state`` (``ready``, ``qr``, ``disconnected``, ...)."""
        body: dict[str, Any] = {"state": state}
        if reason is not None:
            body["reason"] = reason
        self._call("POST", "/_fake/state", body)

    def script(self, *outcomes: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> int:
        """Queue outcomes for the next sends, replacing any not consumed yet.

        Each is ``{"type": "accept"}``, ``{"type": "fail", "code": "NOT_ON_WHATSAPP"}``,
        ``{"type": "hang"}`` or ``{"type": "delay", "ms": 500}``; a single list
        is accepted too. Returns how many are queued.
        """
        items: list[Mapping[str, Any]] = []
        for outcome in outcomes:
            if isinstance(outcome, Mapping):
                items.append(outcome)
            else:
                items.extend(outcome)
        answer = self._call("POST", "/_fake/script", {"outcomes": [dict(item) for item in items]})
        return int(answer.get("queued", len(items)))

    def sent(self) -> list[dict[str, Any]]:
        """What the fake driver sent, in order: ``{"id", "to", "text", "media"}``."""
        messages: list[dict[str, Any]] = self._call("GET", "/_fake/sent")["messages"]
        return messages

    def reset(self) -> None:
        """Forget sent messages and the script; back to the initial state."""
        self._call("POST", "/_fake/reset")

    def status(self) -> dict[str, Any]:
        """The service's ``GET /status`` answer."""
        answer: dict[str, Any] = self._call("GET", "/status")
        return answer
