"""SigV4 is right because the fakes recompute and check it: wrong keys, tokens and tampering are caught."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from broadcastio import ConfigurationError, Message
from broadcastio_aws import SesProvider, SnsProvider


async def close_after(provider: Any, coroutine: Any) -> Any:
    try:
        return await coroutine
    finally:
        await provider.aclose()


class TestSignatureVerified:
    async def test_good_signature_is_accepted(self, make_ses: Callable[..., SesProvider], ses: Any) -> None:
        """A normal send passes the fake's signature check and carries SigV4 headers."""
        provider = make_ses()
        result = await close_after(provider, provider.send(Message(recipient=ses.TO, text="x"), ses.TO))
        assert result.ok, result.error
        assert ses.rejections == []
        authorization = ses.headers[0]["Authorization"]
        assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/")
        assert "/eu-west-1/ses/aws4_request" in authorization
        assert "SignedHeaders=content-type;host;x-amz-date" in authorization

    async def test_wrong_secret_raises(self, make_ses: Callable[..., SesProvider], ses: Any) -> None:
        """Signed with the wrong secret: the fake's recomputed signature differs; the provider raises."""
        provider = make_ses(secret_access_key="not-the-secret")
        with pytest.raises(ConfigurationError, match="SignatureDoesNotMatch"):
            await close_after(provider, provider.send(Message(recipient=ses.TO, text="x"), ses.TO))
        assert ses.rejections == ["SignatureDoesNotMatch"]
        assert ses.received == []

    async def test_wrong_region_is_refused(self, make_sns: Callable[..., SnsProvider], sns: Any) -> None:
        """The region is part of the signature's scope: signing for another region fails."""
        provider = make_sns(region="us-east-1")
        with pytest.raises(ConfigurationError):
            await close_after(provider, provider.send(Message(recipient=sns.PHONE, text="x"), sns.PHONE))
        assert sns.rejections == ["SignatureDoesNotMatch"]

    async def test_unknown_key_raises(self, make_sns: Callable[..., SnsProvider], sns: Any) -> None:
        provider = make_sns(access_key_id="AKIAUNKNOWN000000000")
        with pytest.raises(ConfigurationError, match="InvalidClientTokenId"):
            await close_after(provider, provider.send(Message(recipient=sns.PHONE, text="x"), sns.PHONE))

    async def test_missing_session_token_is_refused(
        self, make_ses: Callable[..., SesProvider], ses: Any, aws_keys: Any
    ) -> None:
        """Temporary keys without their session token are refused."""
        provider = make_ses(access_key_id=aws_keys.TEMP_ACCESS_KEY, secret_access_key=aws_keys.TEMP_SECRET_KEY)
        with pytest.raises(ConfigurationError, match="UnrecognizedClientException"):
            await close_after(provider, provider.send(Message(recipient=ses.TO, text="x"), ses.TO))

    async def test_session_token_is_signed_and_sent(
        self, make_ses: Callable[..., SesProvider], ses: Any, aws_keys: Any
    ) -> None:
        provider = make_ses(
            access_key_id=aws_keys.TEMP_ACCESS_KEY,
            secret_access_key=aws_keys.TEMP_SECRET_KEY,
            session_token=aws_keys.SESSION_TOKEN,
        )
        result = await close_after(provider, provider.send(Message(recipient=ses.TO, text="x"), ses.TO))
        assert result.ok, result.error
        assert ses.headers[0]["X-Amz-Security-Token"] == aws_keys.SESSION_TOKEN
        assert "x-amz-security-token" in ses.headers[0]["Authorization"]

    async def test_tampered_body_is_refused(self, make_ses: Callable[..., SesProvider], ses: Any) -> None:
        """Headers signed for one body, sent with another: the fake notices (the check is real)."""
        provider = make_ses()
        url = provider.endpoint_url + "/v2/email/outbound-emails"
        body = b'{"FromEmailAddress":"alerts@example.com","Destination":{"ToAddresses":["a@b.co"]}}'
        headers = await provider.signer.headers("POST", url, body, "application/json")
        async with httpx.AsyncClient() as client:
            response = await client.post(url, content=body.replace(b"a@b.co", b"x@b.co"), headers=headers)
        await provider.aclose()
        assert response.status_code == 403
        assert response.headers["x-amzn-ErrorType"].startswith("SignatureDoesNotMatch")


class TestCredentials:
    def test_half_credentials_raise(self) -> None:
        with pytest.raises(ConfigurationError, match="both"):
            SnsProvider(region="us-east-1", access_key_id="AKID")

    def test_default_chain_from_environment(self, monkeypatch: pytest.MonkeyPatch, aws_keys: Any) -> None:
        """Without keys in the settings, botocore's chain finds them (here: the environment)."""
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", aws_keys.ACCESS_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", aws_keys.SECRET_KEY)
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        provider = SnsProvider(region="eu-west-1")
        assert provider.signer.access_key_id == aws_keys.ACCESS_KEY
        assert aws_keys.SECRET_KEY not in repr(provider)

    async def test_default_chain_signs_valid_requests(
        self, monkeypatch: pytest.MonkeyPatch, sns_url: str, sns: Any, aws_keys: Any
    ) -> None:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", aws_keys.ACCESS_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", aws_keys.SECRET_KEY)
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        provider = SnsProvider(region="eu-west-1", endpoint_url=sns_url)
        result = await close_after(provider, provider.send(Message(recipient=sns.PHONE, text="x"), sns.PHONE))
        assert result.ok, result.error

    def test_no_credentials_anywhere_raises(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
        monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
        with pytest.raises(ConfigurationError, match="no AWS credentials"):
            SnsProvider(region="eu-west-1")
