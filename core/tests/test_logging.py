"""broadcastio.logs: stable event names, flat fields, masked addresses."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest
import structlog
from broadcastio import (
    BreakerPolicy,
    ConfigurationError,
    DeliveryError,
    ErrorCode,
    MemoryProvider,
    Message,
    Orchestrator,
    Recipient,
    RetryPolicy,
)
from broadcastio.logs import LoggingHooks, configure, configure_logging, get_logger, mask_address
from broadcastio.testing import FakeClock, isolated_plugin_manager, no_wait
from structlog.testing import capture_logs


@pytest.fixture(autouse=True)
def _reset_structlog() -> object:
    yield
    structlog.reset_defaults()
    configure_logging.__globals__["_reveal_default"] = False
    library = logging.getLogger("broadcastio")
    for handler in [h for h in library.handlers if not isinstance(h, logging.NullHandler)]:
        library.removeHandler(handler)
    library.setLevel(logging.NOTSET)
    library.propagate = True


def orchestrator(*providers: MemoryProvider, **kwargs: object) -> Orchestrator:
    return Orchestrator(
        list(providers),
        hooks=[kwargs.pop("hooks", LoggingHooks())],
        plugin_manager=isolated_plugin_manager(),
        **kwargs,  # type: ignore[arg-type]
    )


def by_event(logs: list[dict[str, object]], name: str) -> list[dict[str, object]]:
    return [entry for entry in logs if entry["event"] == name]


RECIPIENT = Recipient(phone="+491701234567", email="alice@example.com")


class TestMask:
    def test_phone(self) -> None:
        """Phone numbers keep two characters at each end."""
        assert mask_address("+4915112367") == "+4*******67"

    def test_email(self) -> None:
        """Email addresses keep the first character and the domain."""
        assert mask_address("alice@example.com") == "a***@example.com"

    def test_short(self) -> None:
        """Short addresses are hidden entirely."""
        assert mask_address("1234") == "****"


class TestLoggingHooks:
    async def test_delivered(self) -> None:
        """A delivery logs broadcastio.delivered with flat fields and a masked address."""
        sms = MemoryProvider("sms", channel="sms")
        with capture_logs() as logs:
            async with orchestrator(sms) as orch:
                await orch.asend(Message(recipient=RECIPIENT, text="secret code 1234"))
        (entry,) = by_event(logs, "broadcastio.delivered")
        assert entry["log_level"] == "info"
        assert entry["provider"] == "sms"
        assert entry["channel"] == "sms"
        assert entry["to"] == "+4*********67"
        assert entry["provider_message_id"] == "sms-1"
        assert "+491701234567" not in repr(logs)
        assert "secret code" not in repr(logs)

    async def test_attempt_is_debug(self) -> None:
        """Each attempt logs broadcastio.attempt at debug level."""
        with capture_logs() as logs:
            async with orchestrator(MemoryProvider("m", channel="email")) as orch:
                await orch.asend(Message(recipient=RECIPIENT, text="hi"))
        (entry,) = by_event(logs, "broadcastio.attempt")
        assert entry["log_level"] == "debug"
        assert (entry["attempt"], entry["ok"], entry["to"]) == (1, True, "a***@example.com")

    async def test_failed_fallback_and_skipped(self) -> None:
        """A failure, a fallback and a skip each log their own event."""
        first = MemoryProvider("first", channel="sms")
        first.script(DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, "bad number"))
        second = MemoryProvider("second", channel="telegram")  # no telegram address: skipped
        third = MemoryProvider("third", channel="sms")
        third.script(DeliveryError.permanent(ErrorCode.REJECTED, "no"))
        with capture_logs() as logs:
            async with orchestrator(first, second, third) as orch:
                await orch.asend(Message(recipient=RECIPIENT, text="hi"))
        (failed,) = by_event(logs, "broadcastio.failed")
        assert failed["log_level"] == "warning"
        assert (failed["error_code"], failed["error_class"]) == ("rejected", "permanent")
        (skipped,) = by_event(logs, "broadcastio.skipped")
        assert (skipped["provider"], skipped["reason"]) == ("second", "no_address")
        fallbacks = by_event(logs, "broadcastio.fallback")
        assert fallbacks[0]["from_provider"] == "first"
        assert fallbacks[0]["error_code"] == "invalid_recipient"

    async def test_unknown(self) -> None:
        """An ambiguous outcome logs broadcastio.unknown."""
        provider = MemoryProvider("m", channel="sms")
        provider.script(DeliveryError.ambiguous(ErrorCode.TIMEOUT, "timed out after sending"))
        with capture_logs() as logs:
            async with orchestrator(provider) as orch:
                await orch.asend(Message(recipient=RECIPIENT, text="hi"))
        (entry,) = by_event(logs, "broadcastio.unknown")
        assert entry["error_class"] == "ambiguous"

    async def test_aborted(self) -> None:
        """A delivery that raises logs broadcastio.aborted with the exception type, not its text."""
        provider = MemoryProvider("m", channel="sms")
        provider.script(ConfigurationError("token s3cret refused"))
        with capture_logs() as logs:
            async with orchestrator(provider) as orch:
                with pytest.raises(ConfigurationError):
                    await orch.asend(Message(recipient=RECIPIENT, text="hi"))
        (entry,) = by_event(logs, "broadcastio.aborted")
        assert entry["error_type"] == "ConfigurationError"
        assert "s3cret" not in repr(logs)

    async def test_breaker_events(self) -> None:
        """Breaker transitions log opened, half_open and closed."""
        clock = FakeClock()
        provider = MemoryProvider("m", channel="sms")
        provider.script(DeliveryError.transient(ErrorCode.SERVER_ERROR, "500"))
        orch = orchestrator(
            provider, breaker=BreakerPolicy(failure_threshold=1, cooldown=10), clock=clock, retry=RetryPolicy()
        )
        with capture_logs() as logs:
            await orch.asend(Message(recipient=RECIPIENT, text="hi"))
            await clock.sleep(11)
            await orch.asend(Message(recipient=RECIPIENT, text="hi"))
        await orch.aclose()
        names = [entry["event"] for entry in logs if str(entry["event"]).startswith("broadcastio.breaker")]
        assert names == ["broadcastio.breaker_opened", "broadcastio.breaker_half_open", "broadcastio.breaker_closed"]
        assert by_event(logs, "broadcastio.breaker_opened")[0]["log_level"] == "warning"

    async def test_health_changed(self) -> None:
        """A health check changing its answer logs broadcastio.health_changed."""
        provider = MemoryProvider("m", channel="sms")
        provider.set_health(False, "down for maintenance")
        with capture_logs() as logs:
            async with orchestrator(provider) as orch:
                await orch.asend(Message(recipient=RECIPIENT, text="hi"))
        entries = by_event(logs, "broadcastio.health_changed")
        assert entries
        assert entries[-1]["healthy"] is False
        assert entries[-1]["detail"] == "down for maintenance"

    async def test_reveal_addresses(self) -> None:
        """reveal_addresses=True logs the full address."""
        with capture_logs() as logs:
            async with orchestrator(MemoryProvider("m", channel="sms"), hooks=LoggingHooks(reveal_addresses=True)) as o:
                await o.asend(Message(recipient=RECIPIENT, text="hi"))
        assert by_event(logs, "broadcastio.delivered")[0]["to"] == "+491701234567"

    async def test_hook_errors_do_not_break_delivery(self) -> None:
        """Sending works with the hooks registered and retries in play."""
        provider = MemoryProvider("m", channel="sms")
        provider.script(DeliveryError.transient(ErrorCode.TIMEOUT, "slow"))
        with capture_logs() as logs, no_wait():
            async with orchestrator(provider, retry=RetryPolicy(max_attempts=2, backoff="none")) as orch:
                result = await orch.asend(Message(recipient=RECIPIENT, text="hi"))
        assert result.ok
        assert [e["ok"] for e in by_event(logs, "broadcastio.attempt")] == [False, True]


class TestConfigureLogging:
    async def test_json_lines(self) -> None:
        """json=True writes one JSON object per line, masked by default."""
        stream = io.StringIO()
        configure_logging(json=True, level="info", stream=stream)
        async with orchestrator(MemoryProvider("m", channel="sms")) as orch:
            await orch.asend(Message(recipient=RECIPIENT, text="hi"))
        records = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert [r["event"] for r in records] == ["broadcastio.delivered"]  # attempt is debug
        assert records[0]["to"] == "+4*********67"
        assert records[0]["level"] == "info"
        assert "timestamp" in records[0]

    async def test_reveal_default(self) -> None:
        """configure_logging(reveal_addresses=True) reaches hooks built without an opinion."""
        stream = io.StringIO()
        configure_logging(json=True, level="debug", reveal_addresses=True, stream=stream)
        async with orchestrator(MemoryProvider("m", channel="sms")) as orch:
            await orch.asend(Message(recipient=RECIPIENT, text="hi"))
        assert "+491701234567" in stream.getvalue()

    def test_console_when_not_json(self) -> None:
        """json=False uses the console renderer."""
        stream = io.StringIO()
        configure_logging(json=False, stream=stream)
        structlog.get_logger("broadcastio").info("broadcastio.test", x=1)
        line = stream.getvalue()
        assert "broadcastio.test" in line
        assert not line.startswith("{")

    def test_defaults_to_json_off_a_terminal(self) -> None:
        """Without a terminal the default is JSON."""
        stream = io.StringIO()
        configure_logging(stream=stream, level="warning")
        structlog.get_logger("broadcastio").info("hidden")
        structlog.get_logger("broadcastio").warning("shown")
        assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["shown"]

    def test_unknown_level(self) -> None:
        """An unknown level name is refused."""
        with pytest.raises(ValueError, match="unknown log level"):
            configure_logging(level="chatty")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class TestSilentUnlessAsked:
    def test_nothing_printed_without_configuration(self) -> None:
        """A fresh program that configures nothing prints nothing, even for warnings."""
        code = (
            "from broadcastio.logs import get_logger\n"
            "get_logger('broadcastio.test').warning('broadcastio.loud', x=1)\n"
            "get_logger('broadcastio.test').error('broadcastio.louder')\n"
        )
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert (run.returncode, run.stdout, run.stderr) == (0, "", "")

    def test_the_library_logger_has_a_null_handler(self) -> None:
        """The broadcastio logger carries a NullHandler, so logging's last resort never prints."""
        assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("broadcastio").handlers)

    async def test_an_application_configuring_logging_gets_structured_records(self) -> None:
        """With only stdlib logging configured, events arrive as records whose msg is the event dict."""
        structlog.reset_defaults()
        handler = _Records()
        root = logging.getLogger()
        root.addHandler(handler)
        previous = root.level
        root.setLevel(logging.INFO)
        try:
            async with orchestrator(MemoryProvider("m", channel="sms")) as orch:
                await orch.asend(Message(recipient=RECIPIENT, text="hi"))
        finally:
            root.removeHandler(handler)
            root.setLevel(previous)
        (record,) = [r for r in handler.records if r.name == "broadcastio"]
        assert record.levelno == logging.INFO
        assert isinstance(record.msg, dict)
        assert record.msg["event"] == "broadcastio.delivered"
        assert record.msg["to"] == "+4*********67"
        assert record.getMessage().startswith("broadcastio.delivered ")

    def test_an_application_configuring_structlog_gets_the_events(self) -> None:
        """Once the program configured structlog, library loggers follow its configuration."""
        with capture_logs() as logs:
            get_logger("broadcastio.plugin").info("plugin.sent", n=1)
        assert logs == [{"event": "plugin.sent", "n": 1, "log_level": "info"}]

    def test_configure_is_configure_logging(self) -> None:
        """The former name stays an alias."""
        assert configure_logging is configure

    def test_plugin_loggers_render_through_configure(self) -> None:
        """configure() renders events of loggers below broadcastio (plugins) on its stream."""
        stream = io.StringIO()
        configure(json=True, level="debug", stream=stream)
        get_logger("broadcastio.sms").debug("sms.accepted", sid="SM1")
        (line,) = stream.getvalue().splitlines()
        assert json.loads(line)["event"] == "sms.accepted"
