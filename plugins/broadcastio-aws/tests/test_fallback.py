"""Email through SES, SMS through SNS as the fallback: both signed, both verified by the fakes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from broadcastio import Message, Orchestrator, Recipient
from broadcastio.testing import isolated_plugin_manager
from broadcastio_aws import SesProvider, SnsProvider


def test_rejected_email_falls_back_to_sms(
    make_ses: Callable[..., SesProvider], make_sns: Callable[..., SnsProvider], ses: Any, sns: Any
) -> None:
    """SES rejects the unverified sender (permanent), the orchestrator moves to SNS, which delivers."""
    ses_provider = make_ses(from_address="unverified@example.net")
    sns_provider = make_sns()
    message = Message(recipient=Recipient(email=ses.TO, phone=sns.PHONE), subject="Disk", text="db-1 97%")
    with Orchestrator([ses_provider, sns_provider], plugin_manager=isolated_plugin_manager()) as orchestrator:
        result = orchestrator.send(message, trace=True)
    assert result.ok, result.error
    assert result.provider == "sns"
    assert [attempt.provider for attempt in result.trace.attempts] == ["ses", "sns"]
    assert result.trace.attempts[0].error.code == "ses.MessageRejected"
    assert len(ses.received) == 1
    assert dict(sns.received[0])["PhoneNumber"] == sns.PHONE
    assert ses.rejections == []
    assert sns.rejections == []
