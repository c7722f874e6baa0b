"""The contract suite itself: plain (sync) providers pass it too, and it insists on secret_values."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from broadcastio import DeliveryError, DeliveryResult, ErrorCode, Message, ProviderHealth
from broadcastio.testing.contract import ProviderContract
from broadcastio.testing.servers import closed_port, serve_app

TOKEN = "sync-secret-token"


class SyncHttpProvider:
    """A provider with plain methods, as ProviderLike allows: urllib, one POST per send."""

    channel = "pager"

    def __init__(self, base_url: str, token: str, name: str = "sync-pager") -> None:
        self.name = name
        self._base_url = base_url
        self._token = token

    def __repr__(self) -> str:
        return f"SyncHttpProvider(name={self.name!r})"

    def send(self, message: Message, address: str) -> DeliveryResult:
        body = json.dumps({"to": address, "text": message.text}).encode()
        request = urllib.request.Request(
            f"{self._base_url}/pages", data=body, headers={"Authorization": f"Bearer {self._token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return DeliveryResult.success(json.loads(response.read())["id"])
        except urllib.error.URLError as exc:
            return DeliveryResult.failure(DeliveryError.transient(ErrorCode.CONNECTION_FAILED, f"not reached: {exc}"))

    def health(self) -> ProviderHealth:
        try:
            with urllib.request.urlopen(f"{self._base_url}/health", timeout=5) as response:
                return ProviderHealth(healthy=response.status == 200, detail=f"GET /health: {response.status}")
        except urllib.error.URLError as exc:
            return ProviderHealth(healthy=False, detail=str(exc))

    def aclose(self) -> None:
        """Nothing to release; plain, to show a sync aclose is accepted."""


def _app() -> web.Application:
    async def pages(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response({"id": "page-1"})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/pages", pages)
    app.router.add_get("/health", health)
    return app


@pytest.fixture
def pager_url() -> Iterator[str]:
    with serve_app(_app()) as url:
        yield url


class TestSyncProviderContract(ProviderContract):
    """A provider without a single coroutine meets the contract."""

    @pytest.fixture
    def provider_factory(self, pager_url: str) -> Callable[[], SyncHttpProvider]:
        return lambda: SyncHttpProvider(pager_url, TOKEN)

    @pytest.fixture
    def unreachable_provider_factory(self) -> Callable[[], SyncHttpProvider]:
        return lambda: SyncHttpProvider(f"http://127.0.0.1:{closed_port()}", TOKEN)

    @pytest.fixture
    def deliverable_address(self) -> str:
        return "4711"

    @pytest.fixture
    def secret_values(self) -> tuple[str, ...]:
        return (TOKEN,)


def test_a_subclass_without_secret_values_fails_saying_so(tmp_path: Path) -> None:
    """Forgetting the secret_values fixture fails the repr test with a message naming the fixture."""
    (tmp_path / "test_forgot.py").write_text(
        textwrap.dedent(
            """
            import pytest
            from broadcastio import MemoryProvider
            from broadcastio.testing.contract import ProviderContract

            class TestForgot(ProviderContract):
                @pytest.fixture
                def provider_factory(self):
                    return lambda: MemoryProvider("m", channel="sms")
            """
        )
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-k", "repr_hides_secrets", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "TestForgot must define the 'secret_values' fixture" in run.stdout
