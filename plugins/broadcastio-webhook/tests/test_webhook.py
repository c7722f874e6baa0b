"""WebhookProvider against a real local receiver (aiohttp on 127.0.0.1)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from broadcastio import (
    Attachment,
    ConfigurationError,
    ErrorClass,
    ErrorCode,
    InvalidMessageError,
    Message,
    Metadata,
    Orchestrator,
    Recipient,
    RetryPolicy,
)
from broadcastio.testing import isolated_plugin_manager
from broadcastio.testing.servers import closed_port
from broadcastio_webhook import (
    GITHUB_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    STANDARD_SIGNATURE_HEADER,
    WebhookProvider,
    generate_secret,
    github_signature,
    sign,
    standard_signature,
    verify_github,
    verify_signature,
    verify_standard,
)

from .conftest import Answer, Receiver


def _message(**metadata: object) -> Message:
    return Message(
        recipient=Recipient(email="a@example.com", addresses={"webhook": "ops-team"}),
        text="disk full",
        subject="alert",
        metadata=Metadata(**metadata),  # type: ignore[arg-type]
    )


class TestPayload:
    async def test_posts_json_body_with_every_field(self, receiver: Receiver) -> None:
        """The body carries the message, its metadata and the address as "to"."""
        provider = WebhookProvider(url=receiver.url)
        message = Message(
            recipient="ops-team",
            text="hello",
            subject="subj",
            html="<b>hello</b>",
            attachments=(Attachment(filename="a.txt", content=b"hi there", mime_type="text/plain"),),
            metadata=Metadata(reference_id="ref-1", priority="high", tags=("a", "b"), extra={"n": 1}),
        )
        try:
            result = await provider.send(message, "ops-team")
        finally:
            await provider.aclose()
        assert result.ok
        (request,) = receiver.posts
        assert request.path == "/hooks/in"
        assert json.loads(request.body) == {
            "to": "ops-team",
            "text": "hello",
            "subject": "subj",
            "html": "<b>hello</b>",
            "idempotency_key": message.idempotency_key,
            "reference_id": "ref-1",
            "priority": "high",
            "tags": ["a", "b"],
            "attachments": [
                {
                    "filename": "a.txt",
                    "mime_type": "text/plain",
                    "content_base64": base64.b64encode(b"hi there").decode(),
                }
            ],
            "extra": {"n": 1},
        }

    async def test_headers(self, receiver: Receiver) -> None:
        """Idempotency-Key, JSON content type and custom headers are sent; no signature without a secret."""
        provider = WebhookProvider(url=receiver.url, headers={"Authorization": "Bearer t", "X-Team": "ops"})
        message = _message()
        try:
            await provider.send(message, "ops-team")
        finally:
            await provider.aclose()
        headers = receiver.posts[0].headers
        assert headers["Idempotency-Key"] == message.idempotency_key
        assert headers["Content-Type"] == "application/json"
        assert headers["Authorization"] == "Bearer t"
        assert headers["X-Team"] == "ops"
        assert SIGNATURE_HEADER not in headers

    async def test_address_is_never_the_url(self, receiver: Receiver) -> None:
        """A URL-looking recipient goes into the body; the request still goes to the configured URL."""
        provider = WebhookProvider(url=receiver.url)
        try:
            result = await provider.send(
                Message(recipient="http://169.254.169.254/", text="x"), "http://169.254.169.254/"
            )
        finally:
            await provider.aclose()
        assert result.ok
        assert receiver.posts[0].path == "/hooks/in"
        assert json.loads(receiver.posts[0].body)["to"] == "http://169.254.169.254/"

    async def test_unencodable_extra_raises(self, receiver: Receiver) -> None:
        """Metadata.extra that JSON cannot carry is a misuse, raised before sending."""
        provider = WebhookProvider(url=receiver.url)
        try:
            with pytest.raises(InvalidMessageError, match="extra"):
                await provider.send(_message(extra={"x": object()}), "ops-team")
        finally:
            await provider.aclose()
        assert receiver.posts == []


class TestStandardWebhooks:
    async def test_default_scheme_signs_id_timestamp_and_body(self, receiver: Receiver) -> None:
        """By default a request carries webhook-id (the idempotency key), webhook-timestamp and a v1 signature."""
        secret = generate_secret()
        provider = WebhookProvider(url=receiver.url, secret=secret)
        provider._now = lambda: 1_700_000_000.5
        message = _message()
        try:
            await provider.send(message, "ops-team")
        finally:
            await provider.aclose()
        request = receiver.posts[0]
        assert request.headers["webhook-id"] == message.idempotency_key
        assert request.headers["webhook-timestamp"] == "1700000000"
        assert request.headers[STANDARD_SIGNATURE_HEADER].startswith("v1,")
        assert SIGNATURE_HEADER not in request.headers
        headers = dict(request.headers)
        assert verify_standard(secret, headers, request.body, now=1_700_000_010)
        assert not verify_standard(generate_secret(), headers, request.body, now=1_700_000_010)
        assert not verify_standard(secret, headers, request.body + b" ", now=1_700_000_010)
        assert not verify_standard(secret, {**headers, "webhook-id": "other"}, request.body, now=1_700_000_010)

    def test_timestamp_tolerance(self) -> None:
        """A timestamp more than the tolerance away from now (either way) does not verify: no replays."""
        secret = generate_secret()
        headers = {
            "webhook-id": "msg_1",
            "webhook-timestamp": "1000",
            "webhook-signature": standard_signature(secret, "msg_1", 1000, b"{}"),
        }
        assert verify_standard(secret, headers, b"{}", now=1300)
        assert not verify_standard(secret, headers, b"{}", now=1301)
        assert not verify_standard(secret, headers, b"{}", now=699)
        assert verify_standard(secret, headers, b"{}", now=1500, tolerance=600)

    def test_spec_example_vector(self) -> None:
        """The signature matches the Standard Webhooks example (whsec_ secret, base64 key)."""
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        body = b'{"test": 2432232314}'
        expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        assert standard_signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected
        headers = {
            "Webhook-Id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "Webhook-Timestamp": "1614265330",
            "Webhook-Signature": f"v1,bm90LWl0 {expected}",  # several signatures (key rotation), any one matches
        }
        assert verify_standard(secret, headers, body, now=1614265330)

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"webhook-id": "a", "webhook-timestamp": "x", "webhook-signature": "v1,abc"},
            {"webhook-id": "a", "webhook-timestamp": "42"},
            {"webhook-id": "a", "webhook-timestamp": "42", "webhook-signature": "v2,abc"},
        ],
    )
    def test_malformed_headers_fail(self, headers: dict[str, str]) -> None:
        """Missing or malformed Standard Webhooks headers never verify."""
        assert not verify_standard("whsec_a2V5", headers, b"{}", now=42)

    def test_bad_whsec_secret_is_refused(self) -> None:
        """A whsec_ secret that is not base64 is a configuration error, not a signature nobody can check."""
        with pytest.raises(ConfigurationError, match="base64"):
            WebhookProvider(url="http://127.0.0.1:9/hook", secret="whsec_not base64!")


class TestGithubSignature:
    async def test_github_scheme(self, receiver: Receiver) -> None:
        """signature="github" sends X-Hub-Signature-256: sha256=<hex> of the body, and nothing else."""
        provider = WebhookProvider(url=receiver.url, secret="s3cret", signature="github")
        try:
            await provider.send(_message(), "ops-team")
        finally:
            await provider.aclose()
        request = receiver.posts[0]
        header = request.headers[GITHUB_SIGNATURE_HEADER]
        assert header.startswith("sha256=")
        assert "webhook-signature" not in request.headers
        assert verify_github("s3cret", header, request.body)
        assert not verify_github("other", header, request.body)
        assert not verify_github("s3cret", header, request.body + b" ")
        assert not verify_github("s3cret", None, request.body)

    def test_github_documented_vector(self) -> None:
        """The value GitHub's documentation gives for its test secret and payload."""
        expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        assert github_signature("It's a Secret to Everybody", b"Hello, World!") == expected

    def test_unknown_scheme_is_refused(self) -> None:
        """Only the three schemes exist."""
        with pytest.raises(ConfigurationError, match="signature"):
            WebhookProvider(url="http://127.0.0.1:9/hook", secret="k", signature="stripe")  # type: ignore[arg-type]


class TestEarlierSignature:
    async def test_signature_verifies(self, receiver: Receiver) -> None:
        """signature="broadcastio" keeps the earlier X-Broadcastio-Signature header."""
        provider = WebhookProvider(url=receiver.url, secret="s3cret", signature="broadcastio")
        provider._now = lambda: 1_700_000_000.5
        try:
            await provider.send(_message(), "ops-team")
        finally:
            await provider.aclose()
        request = receiver.posts[0]
        header = request.headers[SIGNATURE_HEADER]
        assert header.startswith("t=1700000000,v1=")
        assert verify_signature("s3cret", header, request.body, now=1_700_000_010)
        assert not verify_signature("other", header, request.body, now=1_700_000_010)
        assert not verify_signature("s3cret", header, request.body + b" ", now=1_700_000_010)
        assert not verify_signature("s3cret", header, request.body, now=1_700_000_000 + 301)

    def test_known_vector(self) -> None:
        """The digest is HMAC-SHA256 of "<t>." + body, hex encoded."""
        import hashlib
        import hmac

        expected = hmac.new(b"key", b"42.{}", hashlib.sha256).hexdigest()
        assert sign("key", b"{}", timestamp=42) == f"t=42,v1={expected}"

    @pytest.mark.parametrize("header", [None, "", "v1=abc", "t=x,v1=abc", "t=42"])
    def test_malformed_headers_fail(self, header: str | None) -> None:
        """Missing or malformed signature headers never verify."""
        assert not verify_signature("key", header, b"{}", now=42)


class TestOutcomes:
    async def _send(self, receiver: Receiver, *answers: Answer, **options: object):
        receiver.answer(*answers)
        provider = WebhookProvider(url=receiver.url, **options)  # type: ignore[arg-type]
        try:
            return await provider.send(_message(), "ops-team")
        finally:
            await provider.aclose()

    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            (b'{"id": "m-1"}', "m-1"),
            (b'{"id": 77}', "77"),
            (b"", None),
            (b"accepted", None),
            (b"[1]", None),
            (b'{"other": 1}', None),
        ],
    )
    async def test_delivered_with_id_from_json(self, receiver: Receiver, body: bytes, expected: str | None) -> None:
        """2xx is delivered; the provider message id is the JSON "id" when there is one."""
        result = await self._send(receiver, Answer(status=202, body=body))
        assert result.ok
        assert result.provider_message_id == expected

    async def test_429_is_transient_with_retry_after(self, receiver: Receiver) -> None:
        """429 is transient and carries the Retry-After hint."""
        result = await self._send(receiver, Answer(status=429, body=b"slow down", headers={"Retry-After": "7"}))
        assert result.error is not None
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.code == ErrorCode.RATE_LIMITED
        assert result.error.retry_after == 7.0
        assert "429" in result.error.message
        assert "slow down" in result.error.message

    @pytest.mark.parametrize(("status", "code"), [(500, ErrorCode.SERVER_ERROR), (503, ErrorCode.SERVICE_UNAVAILABLE)])
    async def test_5xx_is_transient(self, receiver: Receiver, status: int, code: str) -> None:
        """5xx answers are transient."""
        result = await self._send(receiver, Answer(status=status))
        assert result.error is not None
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.code == code

    @pytest.mark.parametrize("status", [401, 403])
    async def test_refused_credentials_raise(self, receiver: Receiver, status: int) -> None:
        """401 and 403 mean the secret or Authorization header is wrong: a ConfigurationError, like other plugins."""
        receiver.answer(Answer(status=status, body=b"bad token Bearer abc123 for ops@example.com"))
        provider = WebhookProvider(url=receiver.url, headers={"Authorization": "Bearer abc123"})
        try:
            with pytest.raises(ConfigurationError, match=f"HTTP {status}") as caught:
                await provider.send(_message(), "ops-team")
        finally:
            await provider.aclose()
        assert "abc123" not in str(caught.value)

    @pytest.mark.parametrize(("status", "code"), [(400, ErrorCode.REJECTED), (404, ErrorCode.REJECTED)])
    async def test_4xx_is_permanent(self, receiver: Receiver, status: int, code: str) -> None:
        """Other 4xx answers are permanent."""
        result = await self._send(receiver, Answer(status=status))
        assert result.status == "failed"
        assert result.error is not None
        assert result.error.error_class is ErrorClass.PERMANENT
        assert result.error.code == code

    async def test_timeout_after_sending_is_ambiguous(self, receiver: Receiver) -> None:
        """A receiver that got the request but answers too late may have delivered it."""
        result = await self._send(receiver, Answer(delay=1.0), timeout=0.2)
        assert result.status == "unknown"
        assert result.error is not None
        assert result.error.error_class is ErrorClass.AMBIGUOUS

    async def test_refused_connection_is_transient(self) -> None:
        """Nothing listening: transient, nothing was sent."""
        provider = WebhookProvider(url=f"http://127.0.0.1:{closed_port()}/hook")
        try:
            result = await provider.send(_message(), "ops-team")
        finally:
            await provider.aclose()
        assert result.error is not None
        assert result.error.error_class is ErrorClass.TRANSIENT
        assert result.error.code == ErrorCode.CONNECTION_FAILED


class TestHealth:
    async def test_any_http_answer_is_healthy(self, receiver: Receiver) -> None:
        """Even a 405 to HEAD means something speaks HTTP there."""
        receiver.head_status = 405
        provider = WebhookProvider(url=receiver.url)
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert health.healthy
        assert "405" in health.detail
        assert receiver.requests[0].method == "HEAD"
        assert receiver.posts == []

    async def test_closed_port_is_unhealthy(self) -> None:
        """A refused connection is unhealthy."""
        provider = WebhookProvider(url=f"http://127.0.0.1:{closed_port()}/hook")
        try:
            health = await provider.health()
        finally:
            await provider.aclose()
        assert not health.healthy
        assert "unreachable" in health.detail


class TestConfiguration:
    @pytest.mark.parametrize(
        "headers",
        [
            {"X-Evil": "a\r\nInjected: yes"},
            {"X-Evil\n": "a"},
            {"Idempotency-Key": "mine"},
            {"x-broadcastio-signature": "t=1,v1=0"},
            {"Webhook-Signature": "v1,abc"},
            {"x-hub-signature-256": "sha256=0"},
            {"": "a"},
        ],
    )
    def test_bad_headers_are_refused(self, headers: dict[str, str]) -> None:
        """CR/LF and overriding the provider's own headers are configuration errors."""
        with pytest.raises(ConfigurationError, match="webhook"):
            WebhookProvider(url="http://127.0.0.1:9/hook", headers=headers)

    @pytest.mark.parametrize("url", ["ftp://example.com/x", "127.0.0.1:9/hook", "http://a/b\r\nHost: x"])
    def test_bad_urls_are_refused(self, url: str) -> None:
        """Only http(s) URLs without whitespace are accepted."""
        with pytest.raises(ConfigurationError):
            WebhookProvider(url=url)

    def test_empty_secret_is_refused(self) -> None:
        """An empty secret would sign with no key at all."""
        with pytest.raises(ConfigurationError, match="secret"):
            WebhookProvider(url="http://127.0.0.1:9/hook", secret="")

    def test_repr_hides_secret_and_url(self) -> None:
        """The secret (and a URL that may embed a token) stay out of repr."""
        text = repr(WebhookProvider(url="http://127.0.0.1:9/hook/tok3n", secret="s3cret"))
        assert "s3cret" not in text
        assert "tok3n" not in text
        assert "secret='***'" in text


class TestMockTransport:
    async def test_exact_request(self) -> None:
        """With a mock transport, the request is exactly one POST to the URL with the signature."""
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={"id": "abc"})

        provider = WebhookProvider(url="http://hooks.test/in", secret="k", transport=httpx.MockTransport(handler))
        try:
            result = await provider.send(_message(), "ops-team")
        finally:
            await provider.aclose()
        assert result.provider_message_id == "abc"
        (request,) = seen
        assert request.method == "POST"
        assert str(request.url) == "http://hooks.test/in"
        assert verify_standard("k", dict(request.headers), request.content)


class TestThroughOrchestrator:
    async def test_retries_a_transient_error(self, receiver: Receiver) -> None:
        """A 503 then a 200: delivered on the second attempt with the same idempotency key."""
        receiver.answer(Answer(status=503))
        provider = WebhookProvider(url=receiver.url, retry_policy=RetryPolicy(max_attempts=2, backoff="none"))
        async with Orchestrator([provider], plugin_manager=isolated_plugin_manager()) as orchestrator:
            result = await orchestrator.asend(_message(), trace=True)
        assert result.ok
        assert result.trace is not None
        assert len(result.trace.attempts) == 2
        keys = {request.headers["Idempotency-Key"] for request in receiver.posts}
        assert len(receiver.posts) == 2
        assert keys == {result.idempotency_key}

    @pytest.mark.parametrize(("idempotent", "posts"), [(True, 2), (False, 1)])
    async def test_ambiguous_retried_only_when_idempotent(
        self, receiver: Receiver, idempotent: bool, posts: int
    ) -> None:
        """A timeout after sending is retried only when the receiver is declared idempotent."""
        receiver.answer(Answer(delay=1.0))
        provider = WebhookProvider(
            url=receiver.url,
            timeout=0.3,
            idempotent=idempotent,
            retry_policy=RetryPolicy(max_attempts=2, backoff="none"),
        )
        async with Orchestrator([provider], plugin_manager=isolated_plugin_manager()) as orchestrator:
            result = await orchestrator.asend(_message())
        assert len(receiver.posts) == posts
        assert result.ok is idempotent
        if not idempotent:
            assert result.status == "unknown"

    async def test_falls_back_from_a_dead_webhook(self, receiver: Receiver) -> None:
        """A dead primary is skipped as unhealthy; the fallback delivers."""
        dead = WebhookProvider("dead", url=f"http://127.0.0.1:{closed_port()}/hook")
        alive = WebhookProvider("alive", url=receiver.url)
        async with Orchestrator([dead, alive], plugin_manager=isolated_plugin_manager()) as orchestrator:
            results = [result async for result in orchestrator.abroadcast([_message() for _ in range(20)])]
        assert all(result.ok and result.provider == "alive" for result in results)
        assert len(receiver.posts) == 20
