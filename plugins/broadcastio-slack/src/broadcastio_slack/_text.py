"""What a broadcastio message becomes in Slack: one text, subject first."""

from __future__ import annotations

from broadcastio import DeliveryError, ErrorCode, Message

__all__ = ["TEXT_LIMIT", "slack_text"]

TEXT_LIMIT = 40_000
"""Slack truncates longer texts; ``msg_too_long`` beyond that."""


def slack_text(message: Message) -> str | DeliveryError:
    """The text to post, or a permanent error when Slack cannot carry the message.

    The subject becomes a bold first line (Slack mrkdwn). Attachments are
    refused rather than dropped, so the orchestrator can fall back to a
    channel that carries files.
    """
    if message.attachments:
        return DeliveryError.permanent(
            "slack.attachments_unsupported", "the Slack providers post text only; this message has attachments"
        )
    text = message.text
    if message.subject:
        text = f"*{message.subject}*\n{text}" if text else f"*{message.subject}*"
    if not text.strip():
        return DeliveryError.permanent(ErrorCode.REJECTED, "Slack needs text; the message has none")
    if len(text) > TEXT_LIMIT:
        return DeliveryError.permanent(
            "slack.msg_too_long", f"text is {len(text)} characters; Slack takes {TEXT_LIMIT}"
        )
    return text
