"""Hypothesis strategies for broadcastio's models (needs ``hypothesis``).

Built with ``st.builds`` rather than ``from_type`` so defaults and
invariants hold.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from broadcastio._errors import ErrorClass, ErrorCode
from broadcastio._models import (
    Attachment,
    DeliveryAttempt,
    DeliveryError,
    DeliveryResult,
    DeliveryTrace,
    Message,
    Metadata,
    Recipient,
    SkippedProvider,
)

__all__ = [
    "attachments",
    "delivery_errors",
    "delivery_results",
    "messages",
    "recipients",
]

_text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), min_size=1, max_size=40)
_names = st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
_datetimes = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
)

recipients = st.builds(
    Recipient,
    phone=st.from_regex(r"\+[1-9][0-9]{7,14}", fullmatch=True),
    email=st.one_of(st.none(), st.from_regex(r"[a-z]{1,8}@example\.com", fullmatch=True)),
    telegram=st.one_of(st.none(), st.from_regex(r"-?[1-9][0-9]{4,11}", fullmatch=True)),
)

attachments = st.builds(
    Attachment,
    filename=st.from_regex(r"[a-z]{1,10}\.(txt|pdf|png)", fullmatch=True),
    content=st.binary(max_size=256),
    mime_type=st.sampled_from(["text/plain", "application/pdf", "image/png"]),
)

messages = st.builds(
    Message,
    recipient=st.one_of(recipients, st.from_regex(r"\+[1-9][0-9]{7,14}", fullmatch=True)),
    text=_text,
    subject=st.one_of(st.none(), _text),
    attachments=st.lists(attachments, max_size=2).map(tuple),
    metadata=st.builds(
        Metadata,
        priority=st.sampled_from(["low", "normal", "high"]),
        reference_id=st.one_of(st.none(), _names),
        tags=st.lists(_names, max_size=3).map(tuple),
    ),
)

delivery_errors = st.builds(
    DeliveryError,
    code=st.one_of(st.sampled_from(list(ErrorCode)).map(str), _names),
    message=_text,
    error_class=st.sampled_from(list(ErrorClass)),
    retry_after=st.one_of(st.none(), st.floats(min_value=0, max_value=3600, allow_nan=False)),
    provider=st.one_of(st.none(), _names),
)

_attempts = st.builds(
    DeliveryAttempt,
    provider=_names,
    channel=_names,
    number=st.integers(min_value=1, max_value=10),
    started_at=_datetimes,
    duration_ms=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    ok=st.booleans(),
    error=st.one_of(st.none(), delivery_errors),
    provider_message_id=st.one_of(st.none(), _names),
)

_traces = st.builds(
    DeliveryTrace,
    idempotency_key=_names,
    started_at=_datetimes,
    finished_at=_datetimes,
    attempts=st.lists(_attempts, max_size=4).map(tuple),
    skipped=st.lists(
        st.builds(
            SkippedProvider,
            provider=_names,
            reason=st.sampled_from(["no_address", "unhealthy", "circuit_open"]),
            detail=st.text(max_size=20),
        ),
        max_size=3,
    ).map(tuple),
    possibly_delivered=st.booleans(),
)

delivery_results = st.builds(
    DeliveryResult,
    status=st.sampled_from(["delivered", "failed", "unknown"]),
    provider=st.one_of(st.none(), _names),
    channel=st.one_of(st.none(), _names),
    provider_message_id=st.one_of(st.none(), _names),
    error=st.one_of(st.none(), delivery_errors),
    idempotency_key=st.one_of(st.none(), _names),
    reference_id=st.one_of(st.none(), _names),
    trace=st.one_of(st.none(), _traces),
)
