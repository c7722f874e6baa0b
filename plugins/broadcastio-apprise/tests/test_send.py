"""AppriseProvider through real Apprise services to local servers: json://, ntfy:// and mailto://."""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from typing import Any

import pytest
from broadcastio import (
    Attachment,
    ConfigurationError,
    ErrorClass,
    ErrorCode,
    Message,
    Metadata,
    Orchestrator,
    Recipient,
    RetryPolicy,
)
from broadcastio.testing import isolated_plugin_manager
from broadcastio.testing.servers import closed_port
from broadcastio_apprise import AppriseProvider

NTFY_USER, NTFY_PASSWORD = "alerts", "ntfy-secret-pw-42"


def _message(**kwargs: Any) -> Message:
    return Message(
        recipient=Recipient(addresses={"apprise": kwargs.pop("address", "ops")}),
        subject=kwargs.pop("subject", "db-1"),
        text=kwargs.pop("text", "disk full"),
        **kwargs,
    )


async def _send(provider: AppriseProvider, message: Message, address: str = "ops") -> Any:
    try:
        return await provider.send(message, address)
    finally:
        await provider.aclose()


class TestServices:
    async def test_json_service(self, json_receiver: Any) -> None:
        """json:// POSTs Apprise's JSON document with title, message and type."""
        result = await _send(AppriseProvider(urls=f"json://{json_receiver.host}/hooks/alerts"), _message())
        assert result.ok, result.error
        (request,) = json_receiver.requests
        assert request["path"] == "/hooks/alerts"
        assert request["body"] == {
            "version": "1.0",
            "title": "db-1",
            "message": "disk full",
            "attachments": [],
            "type": "info",
        }

    async def test_attachments_are_passed_on(self, json_receiver: Any, mailbox: Any) -> None:
        """Attachments reach Apprise from memory: json:// carries them base64, mailto:// as MIME parts."""
        attachment = Attachment(filename="report.csv", content=b"host,use\ndb-1,97\n", mime_type="text/csv")
        urls = [
            f"json://{json_receiver.host}/x",
            f"mailto://127.0.0.1:{mailbox.port}?from=alerts@example.com&to=ops@example.com&mode=insecure",
        ]
        result = await _send(AppriseProvider(urls=urls), _message(attachments=(attachment,)))
        assert result.ok, result.error
        assert json_receiver.requests[0]["body"]["attachments"] == [
            {"filename": "report.csv", "base64": base64.b64encode(attachment.content).decode(), "mimetype": "text/csv"}
        ]
        (mail,) = mailbox.messages
        (part,) = list(mail.iter_attachments())
        assert part.get_filename() == "report.csv"
        assert part.get_content().encode() == attachment.content

    async def test_high_priority_is_a_warning(self, json_receiver: Any) -> None:
        """priority=high sends Apprise's warning type."""
        message = _message(metadata=Metadata(priority="high"))
        assert (await _send(AppriseProvider(urls=f"json://{json_receiver.host}/x"), message)).ok
        assert json_receiver.requests[0]["body"]["type"] == "warning"

    async def test_ntfy_service(self, ntfy: Any) -> None:
        """ntfy:// publishes topic, title and message as JSON with Basic auth."""
        url = f"ntfy://{NTFY_USER}:{NTFY_PASSWORD}@{ntfy.host}/alerts?priority=high"
        result = await _send(AppriseProvider(urls=url), _message())
        assert result.ok, result.error
        (request,) = ntfy.requests
        assert request["body"] == {"topic": "alerts", "title": "db-1", "message": "disk full"}
        assert request["headers"]["X-Priority"] == "high"

    async def test_mailto_service(self, mailbox: Any) -> None:
        """mailto:// sends a real SMTP message to aiosmtpd."""
        url = f"mailto://127.0.0.1:{mailbox.port}?from=alerts@example.com&to=ops@example.com&mode=insecure"
        result = await _send(AppriseProvider(urls=url, timeout=10.0), _message())
        assert result.ok, result.error
        ((sender, recipients),) = mailbox.envelopes
        assert sender == "alerts@example.com"
        assert recipients == ["ops@example.com"]
        (mail,) = mailbox.messages
        assert mail["Subject"] == "db-1"
        assert "disk full" in mail.get_body(preferencelist=("plain", "html")).get_content()

    async def test_every_url_is_notified(self, json_receiver: Any, ntfy: Any) -> None:
        """A list of URLs notifies each of them once."""
        urls = [f"json://{json_receiver.host}/a", f"ntfy://{NTFY_USER}:{NTFY_PASSWORD}@{ntfy.host}/alerts"]
        assert (await _send(AppriseProvider(urls=urls), _message())).ok
        assert len(json_receiver.requests) == 1
        assert len(ntfy.requests) == 1

    async def test_tags_select_urls(self, json_receiver: Any, ntfy: Any) -> None:
        """With a tag mapping, the address picks the tag; 'all' picks every URL; unknown tags fail."""
        provider = AppriseProvider(
            urls={
                "ops": f"json://{json_receiver.host}/ops",
                "oncall": [f"ntfy://{NTFY_USER}:{NTFY_PASSWORD}@{ntfy.host}/x"],
            }
        )
        try:
            assert (await provider.send(_message(), "ops")).ok
            assert (len(json_receiver.requests), len(ntfy.requests)) == (1, 0)
            assert (await provider.send(_message(), "all")).ok
            assert (len(json_receiver.requests), len(ntfy.requests)) == (2, 1)
            unknown = await provider.send(_message(), "nobody")
        finally:
            await provider.aclose()
        assert unknown.error.code == ErrorCode.INVALID_RECIPIENT

    async def test_notify_runs_off_the_event_loop(self, json_receiver: Any) -> None:
        """Apprise's blocking notify runs in a worker thread: the loop keeps ticking while it waits."""
        json_receiver.answer(200, delay=0.5)
        threads: list[str] = []
        provider = AppriseProvider(urls=f"json://{json_receiver.host}/x")
        original = provider._notify

        def spy(*args: Any) -> Any:
            threads.append(threading.current_thread().name)
            return original(*args)

        provider._notify = spy  # type: ignore[method-assign]
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        task = asyncio.create_task(ticker())
        try:
            assert (await _send(provider, _message())).ok
        finally:
            task.cancel()
        assert threads
        assert threads[0] != threading.main_thread().name
        assert ticks >= 10


class TestOrchestration:
    async def test_concurrent_broadcast(self, json_receiver: Any) -> None:
        """A broadcast runs many Apprise calls at once in worker threads; each message arrives once."""
        provider = AppriseProvider(urls=f"json://{json_receiver.host}/x")
        messages = [_message(text=f"n{number}") for number in range(20)]
        async with Orchestrator([provider], plugin_manager=isolated_plugin_manager()) as orchestrator:
            results = [result async for result in orchestrator.abroadcast(messages, concurrency=8)]
        assert all(result.ok for result in results)
        assert sorted(request["body"]["message"] for request in json_receiver.requests) == sorted(
            f"n{number}" for number in range(20)
        )


class TestOutcomes:
    async def test_refusal_is_transient_by_default(self, json_receiver: Any) -> None:
        """A service answering 500 is an Apprise FAILURE: transient by default."""
        json_receiver.answer(500)
        result = await _send(AppriseProvider(urls=f"json://{json_receiver.host}/x"), _message())
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.code == "apprise.failed"
        assert "JSON FAILURE" in result.error.message

    @pytest.mark.parametrize(
        ("setting", "expected"), [("permanent", ErrorClass.PERMANENT), ("ambiguous", ErrorClass.AMBIGUOUS)]
    )
    async def test_failure_class_setting(self, json_receiver: Any, setting: str, expected: ErrorClass) -> None:
        """failure_class decides what a FAILURE is."""
        json_receiver.answer(400)
        provider = AppriseProvider(urls=f"json://{json_receiver.host}/x", failure_class=setting)
        result = await _send(provider, _message())
        assert result.error.error_class is expected

    async def test_ntfy_refusing_credentials_is_a_failure(self, ntfy: Any) -> None:
        """ntfy's 401 reaches us only as FAILURE (Apprise gives no status), and the password never shows."""
        result = await _send(AppriseProvider(urls=f"ntfy://{NTFY_USER}:wrong-pw-77@{ntfy.host}/alerts"), _message())
        assert result.error.code == "apprise.failed"
        assert "wrong-pw-77" not in result.error.message

    async def test_deadline_is_ambiguous(self, json_receiver: Any) -> None:
        """A service still in flight at the deadline may deliver: ambiguous."""
        json_receiver.answer(200, delay=2.0)
        result = await _send(AppriseProvider(urls=f"json://{json_receiver.host}/x", timeout=0.3), _message())
        assert result.status == "unknown"
        assert result.error.error_class is ErrorClass.AMBIGUOUS
        assert result.error.code == ErrorCode.TIMEOUT

    async def test_partial_delivery_is_ambiguous(self, json_receiver: Any) -> None:
        """One URL delivered and one failed: ambiguous (a retry would repeat the first)."""
        urls = [f"json://{json_receiver.host}/a", f"json://127.0.0.1:{closed_port()}/b"]
        result = await _send(AppriseProvider(urls=urls), _message())
        assert result.error.error_class is ErrorClass.AMBIGUOUS
        assert result.error.code == "apprise.partial"

    async def test_failure_is_retried_by_the_orchestrator(self, json_receiver: Any) -> None:
        """A transient FAILURE is retried per the policy (the provider itself attempts once)."""
        json_receiver.answer(503)
        json_receiver.answer(503)
        provider = AppriseProvider(
            urls=f"json://{json_receiver.host}/x", retry_policy=RetryPolicy(max_attempts=2, backoff="none")
        )
        async with Orchestrator([provider], plugin_manager=isolated_plugin_manager()) as orchestrator:
            result = await orchestrator.asend(_message(), trace=True)
        assert not result.ok
        assert len(result.trace.attempts) == 2
        assert len(json_receiver.requests) == 2


class TestSecrecy:
    async def test_apprise_logs_stay_out_of_the_application(
        self, ntfy: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Apprise's own log records (which can quote URLs) never reach the root logger's handlers or stdout."""
        seen: list[logging.LogRecord] = []

        class Collect(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                seen.append(record)

        root = logging.getLogger()
        handler, level = Collect(logging.DEBUG), root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        try:
            url = f"ntfy://{NTFY_USER}:wrong-pw-88@{ntfy.host}/alerts"
            result = await _send(AppriseProvider(urls=url), _message())
        finally:
            root.removeHandler(handler)
            root.setLevel(level)
        assert not result.ok
        captured = capsys.readouterr()
        assert not [record for record in seen if record.name.startswith("apprise")]
        assert all("wrong-pw-88" not in record.getMessage() for record in seen)
        assert "wrong-pw-88" not in captured.out + captured.err

    def test_repr_and_errors_hide_urls(self) -> None:
        """The URLs are secret in repr; a bad URL is named by its scheme only."""
        provider = AppriseProvider(urls="json://127.0.0.1/secret-path-1")
        assert "secret-path-1" not in repr(provider)
        with pytest.raises(ConfigurationError, match=r"nosuch://\.\.\.") as caught:
            AppriseProvider(urls=["json://127.0.0.1/x", "nosuch://token-abc-123"])
        assert "token-abc-123" not in str(caught.value)


class TestConfiguration:
    @pytest.mark.parametrize(
        ("settings", "complaint"),
        [
            ({"urls": []}, "empty"),
            ({"urls": ["slack://"]}, "unsupported"),
            ({"urls": {"all": "json://127.0.0.1/x"}}, "tags"),
            ({"urls": 42}, "urls"),
            ({"urls": "json://127.0.0.1/x", "timeout": 0}, "timeout"),
            ({"urls": "json://127.0.0.1/x", "failure_class": "maybe"}, "failure_class"),
        ],
    )
    def test_bad_settings_raise(self, settings: dict[str, Any], complaint: str) -> None:
        """Settings Apprise cannot use raise at construction, naming the setting."""
        with pytest.raises(ConfigurationError, match=complaint):
            AppriseProvider(**settings)


class TestHealth:
    async def test_self_hosted_services_are_probed(self, json_receiver: Any, mailbox: Any) -> None:
        """json:// and mailto:// servers are probed with a TCP connect; nothing is sent."""
        urls = [
            f"json://{json_receiver.host}/x",
            f"mailto://127.0.0.1:{mailbox.port}?from=a@example.com&to=b@example.com&mode=insecure",
            "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
        ]
        provider = AppriseProvider(urls=urls)
        health = await provider.health()
        assert health.healthy, health.detail
        assert "2 of 3" in health.detail
        assert json_receiver.requests == []
        assert mailbox.messages == []

    async def test_dead_server_is_unhealthy(self) -> None:
        """A self-hosted service that refuses connections is unhealthy; the URL is not in the detail."""
        provider = AppriseProvider(urls=f"json://127.0.0.1:{closed_port()}/secret-path-2")
        health = await provider.health()
        assert not health.healthy
        assert "json://" in health.detail
        assert "secret-path-2" not in health.detail
