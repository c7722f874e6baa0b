"""No secret or address leaves in clear: everything a send and a broadcast emit, grepped.

SMS (Twilio's API shape) and webhook providers talk to local aiohttp servers
whose error bodies echo the credentials and addresses they were sent, as
real services do. Logs at DEBUG, OpenTelemetry spans, results, the results
file, CLI output and ``config show`` must hold none of them in clear.

Needs broadcastio-sms, broadcastio-webhook and broadcastio-otel (the
``plugins_all`` session).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from broadcastio import (
    DeliveryResult,
    Message,
    Metadata,
    Recipient,
    build_orchestrator,
    encode_result,
    make_plugin_manager,
)
from broadcastio.logs import LoggingHooks
from structlog.testing import capture_logs

pytest.importorskip("broadcastio_sms", reason="broadcastio-sms is not installed")
pytest.importorskip("broadcastio_webhook", reason="broadcastio-webhook is not installed")
otel = pytest.importorskip("broadcastio_otel", reason="broadcastio-otel is not installed")
click_testing = pytest.importorskip("click.testing")
web = pytest.importorskip("aiohttp.web")

from broadcastio.cli import CliState, cli  # noqa: E402
from broadcastio.testing.servers import serve_app  # noqa: E402
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-auth-5ecret-9f8e7d"
BASIC = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"webhook signing key 0123456789ab").decode()
HEADER_TOKEN = "hdr-bearer-tok-123456"
PHONE = "+4915112345678"
EMAIL = "ada.lovelace@example.org"
KEY = f"campaign-42:{PHONE}"  # the key format docs used to recommend

SECRETS = (AUTH_TOKEN, BASIC, WEBHOOK_SECRET, HEADER_TOKEN)
ADDRESSES = (PHONE, PHONE.lstrip("+"), EMAIL)


def _twilio_app() -> Any:
    """Twilio's Messages API shape; every send fails with an error body echoing what it got."""

    async def create(request: Any) -> Any:
        form = await request.post()
        auth = request.headers.get("Authorization", "")
        token = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")[2]
        message = f"Invalid 'To' {form.get('To')} (cc {EMAIL}); request had Authorization: {auth} token {token}"
        body = {
            "code": 21211,
            "message": message,
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400,
        }
        return web.json_response(body, status=400)

    async def account(request: Any) -> Any:
        return web.json_response({"sid": ACCOUNT_SID, "status": "active"})

    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", create)
    app.router.add_get("/2010-04-01/Accounts/{sid}.json", account)
    return app


def _webhook_app() -> Any:
    """A receiver that refuses every message, quoting the address, its headers and the shared secret."""

    async def receive(request: Any) -> Any:
        payload = json.loads(await request.read())
        text = (
            f"no {payload['to']} {PHONE} auth={request.headers.get('Authorization')} "
            f"{WEBHOOK_SECRET} key {request.headers.get('Idempotency-Key')}"
        )
        return web.Response(status=422, text=text)

    async def head(request: Any) -> Any:
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    app.router.add_route("HEAD", "/hook", head)
    return app


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    with serve_app(_twilio_app()) as twilio, serve_app(_webhook_app()) as hook:
        yield twilio, f"{hook}/hook"


@pytest.fixture
def config(tmp_path: Path, servers: tuple[str, str]) -> Path:
    twilio, hook = servers
    path = tmp_path / "broadcastio.toml"
    path.write_text(
        f"""
[[providers]]
name = "sms"
type = "sms"
[providers.settings]
account_sid = "{ACCOUNT_SID}"
auth_token = "{AUTH_TOKEN}"
from_number = "+15005550006"
base_url = "{twilio}"

[[providers]]
name = "hook"
type = "webhook"
[providers.settings]
url = "{hook}"
secret = "{WEBHOOK_SECRET}"
headers = {{ Authorization = "Bearer {HEADER_TOKEN}" }}
"""
    )
    return path


def _assert_clean(where: str, text: str) -> None:
    for value in (*SECRETS, *ADDRESSES, KEY):
        assert value not in text, f"{value!r} leaked into {where}"


def _message() -> Message:
    recipient = Recipient(phone=PHONE, email=EMAIL, addresses={"webhook": EMAIL})
    return Message(recipient=recipient, text="hello", metadata=Metadata(idempotency_key=KEY))


def _without_key(result: DeliveryResult) -> DeliveryResult:
    trace_ = result.trace
    if trace_ is not None:
        trace_ = msgspec.structs.replace(trace_, idempotency_key="")
    return msgspec.structs.replace(result, idempotency_key=None, trace=trace_)


class TestLibrary:
    async def test_send_and_broadcast_emit_no_secret_or_address(self, config: Path) -> None:
        """Results, traces, DEBUG logs and spans of a failing send and broadcast hold nothing in clear."""
        exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        hooks = [LoggingHooks(), otel.OpenTelemetryHooks(tracer_provider=tracer_provider)]
        manager = make_plugin_manager(env={"BROADCASTIO_DISABLE_PLUGINS": "otel"})
        with capture_logs() as logs:
            orchestrator = build_orchestrator(config, plugin_manager=manager, hooks=hooks, env={})
            async with orchestrator:
                result = await orchestrator.asend(_message(), trace=True)
                results = [r async for r in orchestrator.abroadcast([_message(), _message()], trace=True)]
        assert not result.ok
        assert result.trace is not None
        assert len(result.trace.attempts) == 2
        assert {attempt.provider for attempt in result.trace.attempts} == {"sms", "hook"}
        assert len(exporter.get_finished_spans()) >= 3
        # The caller's own key comes back as given (that is how results are matched to messages).
        assert result.idempotency_key == KEY
        encoded = b"".join(encode_result(_without_key(item)) for item in (result, *results)).decode()
        _assert_clean("results", encoded)
        _assert_clean("logs", repr(logs))
        spans = [
            json.dumps(
                {
                    "name": s.name,
                    "attributes": dict(s.attributes or {}),
                    "events": [dict(e.attributes or {}) for e in s.events],
                    "status": s.status.description,
                },
                default=str,
            )
            for s in exporter.get_finished_spans()
        ]
        _assert_clean("spans", "\n".join(spans))
        # The errors still say what went wrong, with the addresses masked.
        assert result.trace.attempts[0].error is not None
        message = result.trace.attempts[0].error.message
        assert "Invalid 'To'" in message
        assert "a***@example.org" in message
        assert "Authorization: ***" in message


class TestCommandLine:
    @pytest.fixture
    def spans(self) -> InMemorySpanExporter:
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        if trace.get_tracer_provider() is not provider:
            pytest.skip("another test set the global tracer provider first")
        return exporter

    def _invoke(self, *args: str) -> Any:
        state = CliState(plugin_manager_factory=make_plugin_manager, env={})
        result = click_testing.CliRunner().invoke(cli, list(args), obj=state)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def test_cli_send_broadcast_and_config_show(
        self, config: Path, tmp_path: Path, spans: InMemorySpanExporter
    ) -> None:
        """send, broadcast (with --results) and config show print nothing secret, at -vv."""
        sent = self._invoke(
            "-vv",
            "--log-json",
            "send",
            "-c",
            str(config),
            "--phone",
            PHONE,
            "--email",
            EMAIL,
            "--address",
            f"webhook={EMAIL}",
            "--text",
            "hello",
            "--trace",
            "--json",
        )
        assert sent.exit_code == 1, sent.output
        _assert_clean("send stdout", sent.stdout)
        _assert_clean("send stderr", sent.stderr)
        assert "broadcastio.failed" in sent.stderr

        recipients = tmp_path / "r.csv"
        recipients.write_text(f"phone,email,address.webhook,name\n{PHONE},{EMAIL},{EMAIL},Ada\n{PHONE},,{EMAIL},Bo\n")
        results_file = tmp_path / "results.jsonl"
        broadcast = self._invoke(
            "-vv",
            "--log-json",
            "broadcast",
            "-c",
            str(config),
            "-r",
            str(recipients),
            "--text",
            "hi {name}",
            "--results",
            str(results_file),
        )
        assert broadcast.exit_code == 1, broadcast.output
        _assert_clean("broadcast stdout", broadcast.stdout)
        _assert_clean("broadcast stderr", broadcast.stderr)
        lines = results_file.read_text().splitlines()
        assert len(lines) == 2
        _assert_clean("--results file", "\n".join(lines))

        shown = self._invoke("config", "show", str(config))
        assert shown.exit_code == 0, shown.output
        _assert_clean("config show", shown.stdout)
        settings = [provider["settings"] for provider in json.loads(shown.stdout)["providers"]]
        assert settings[0]["auth_token"] == settings[1]["secret"] == settings[1]["headers"]["Authorization"] == "***"

        finished = spans.get_finished_spans()
        assert finished, "the otel plugin's default hooks recorded no span"
        _assert_clean("spans", "\n".join(json.dumps(dict(s.attributes or {}), default=str) for s in finished))
