"""No secret or address in clear: the scrubber, the orchestrator's use of it, hashed keys in logs."""

from __future__ import annotations

import time

import pytest
import structlog
from broadcastio import (
    DeliveryError,
    MemoryProvider,
    Message,
    Metadata,
    Orchestrator,
    Provider,
    Recipient,
    configure_logging,
    redact_key,
)
from broadcastio._scrub import MAX_TEXT, provider_secrets, scrub
from broadcastio.logs import LoggingHooks
from broadcastio.testing import isolated_plugin_manager
from structlog.testing import capture_logs


@pytest.fixture(autouse=True)
def _reset_logging() -> object:
    yield
    structlog.reset_defaults()
    configure_logging.__globals__["_reveal_default"] = False
    configure_logging.__globals__["_reveal_keys_default"] = False


class TestScrub:
    @pytest.mark.parametrize(
        ("text", "hidden"),
        [
            ("Authorization: Basic QUMwMTIzOmF1dGh0b2tlbg== was refused", "QUMwMTIzOmF1dGh0b2tlbg=="),
            ('{"headers": {"authorization": "Bearer eyJhbGciOi.J9"}}', "eyJhbGciOi"),
            ("sent Bearer abc.def-123 upstream", "abc.def-123"),
            ("GET /send?access_token=EAAGtok3n&to=1", "EAAGtok3n"),
            ('{"api_key": "sk_live_42"}', "sk_live_42"),
            ("connect to https://user:hunter22@smtp.example.com failed", "hunter22"),
            ("ada.lovelace@example.org is not allowed", "ada.lovelace@example.org"),
            ("number +49 151 1234 5678 unknown", "+49 151 1234 5678"),
            ("number +4915112345678 unknown", "+4915112345678"),
            ("chat 4915112345678 not found", "4915112345678"),
        ],
    )
    def test_redacts(self, text: str, hidden: str) -> None:
        """Credentials and addresses in provider text do not survive scrubbing."""
        assert hidden not in scrub(text)

    def test_known_secrets_in_any_encoding(self) -> None:
        """A provider's own secret is removed raw and URL-encoded."""
        secret = "p@ss word/42"
        text = f"key {secret} and p%40ss%20word%2F42 and p%40ss+word%2F42"
        cleaned = scrub(text, [secret])
        assert "word" not in cleaned
        assert cleaned.count("***") == 3

    def test_keeps_what_operators_need(self) -> None:
        """Error codes, dates, HTTP statuses and masked address shapes stay readable."""
        text = "HTTP 400 code 21211 at 2026-12-01T10:00:00Z for a@example.com"
        cleaned = scrub(text)
        assert "HTTP 400 code 21211 at 2026-12-01T10:00:00Z" in cleaned
        assert "a***@example.com" in cleaned

    @pytest.mark.parametrize("text", ["x-" * 50_000, "1" * 100_000, "a." * 50_000 + "@b", "token" * 20_000])
    def test_linear_on_hostile_text(self, text: str) -> None:
        """Huge or pathological text is cut and scrubbed quickly (no regex blow-up)."""
        started = time.perf_counter()
        cleaned = scrub(text)
        assert time.perf_counter() - started < 1.0
        assert len(cleaned) <= MAX_TEXT + 20

    def test_provider_secrets_reads_declared_fields(self) -> None:
        """The values of declared secret_fields, whatever is set."""

        class Tokened(Provider):
            secret_fields = ("token", "password", "missing")

            def __init__(self) -> None:
                self.name, self.channel = "t", "sms"
                self.token, self.password = "tok-123456", None

        assert provider_secrets(Tokened()) == ("tok-123456",)


class _Echo(Provider):
    """Fails every send with an error body that echoes its credentials and the recipient."""

    secret_fields = ("token",)

    def __init__(self) -> None:
        self.name, self.channel = "echo", "sms"
        self.token = "tok-SECRET-998877"

    async def send(self, message: Message, address: str) -> object:
        from broadcastio import DeliveryResult

        return DeliveryResult.failure(
            DeliveryError.permanent("rejected", f"refused token {self.token} for {address} (cc ann@example.org)")
        )


class TestOrchestratorScrubs:
    async def test_results_traces_and_logs_carry_no_secret_or_address(self) -> None:
        """The orchestrator scrubs every attempt's error once, for every provider."""
        message = Message(recipient=Recipient(phone="+15550001234"), text="hi")
        with capture_logs() as logs:
            async with Orchestrator(
                [_Echo()], hooks=[LoggingHooks()], plugin_manager=isolated_plugin_manager()
            ) as orch:
                result = await orch.asend(message, trace=True)
        assert result.error is not None
        assert result.trace is not None
        seen = repr(result) + repr(logs)
        for leaked in ("tok-SECRET-998877", "+15550001234", "ann@example.org"):
            assert leaked not in seen
        assert "refused token *** for +1********34" in result.error.message


class TestIdempotencyKeysInLogs:
    async def _logged_keys(self, hooks: LoggingHooks, key: str) -> set[object]:
        with capture_logs() as logs:
            async with Orchestrator(
                [MemoryProvider("sms", channel="sms")], hooks=[hooks], plugin_manager=isolated_plugin_manager()
            ) as orch:
                await orch.asend(Message(recipient="+15550001234", text="hi", metadata=Metadata(idempotency_key=key)))
        return {entry["idempotency_key"] for entry in logs if "idempotency_key" in entry}

    async def test_hashed_by_default(self) -> None:
        """Logs carry a keyed hash of the key, stable within the process."""
        key = "campaign-42:+15550001234"
        assert await self._logged_keys(LoggingHooks(), key) == {redact_key(key)}
        assert redact_key(key).startswith("h:")
        assert "+15550001234" not in redact_key(key)

    async def test_user_key_and_reveal(self) -> None:
        """A shared key_secret gives the same hash in every process; reveal_keys logs the key itself."""
        key = "order-7"
        assert await self._logged_keys(LoggingHooks(key_secret="k1"), key) == {redact_key(key, secret="k1")}
        assert redact_key(key, secret="k1") != redact_key(key, secret="k2")
        assert await self._logged_keys(LoggingHooks(reveal_keys=True), key) == {key}
        configure_logging(reveal_keys=True)
        assert await self._logged_keys(LoggingHooks(), key) == {key}
