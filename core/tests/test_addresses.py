"""broadcastio.addresses: the sender setting, recipient checks and masking the email-API plugins share."""

from __future__ import annotations

import pytest
from broadcastio import ConfigurationError
from broadcastio.addresses import is_email, mask_address, parse_sender, redact_emails


@pytest.mark.parametrize("value", ["ann@example.com", "a.b+tag@mail.example.co.uk", "x@sub.example.org"])
def test_bare_addresses_are_emails(value: str) -> None:
    assert is_email(value)


@pytest.mark.parametrize(
    "value",
    ["", "ann", "ann@example", "@example.com", "ann@@example.com", "Ann <ann@example.com>", "a b@example.com", None, 5],
)
def test_anything_else_is_not(value: object) -> None:
    assert not is_email(value)


def test_parse_sender_reads_a_bare_address_and_a_display_name() -> None:
    assert parse_sender("p", "ann@example.com") == (None, "ann@example.com")
    assert parse_sender("p", "Ann Example <ann@example.com>") == ("Ann Example", "ann@example.com")
    assert parse_sender("p", '"Example, Inc." <news@example.com>') == ("Example, Inc.", "news@example.com")


@pytest.mark.parametrize("value", ["not an address", "Ann <ann@example>", "ann@example.com\r\nBcc: x@example.com", 5])
def test_parse_sender_refuses_naming_provider_and_setting_with_the_value_masked(value: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_sender("mail", value, setting="reply_to")
    text = str(caught.value)
    assert "'mail'" in text
    assert "reply_to" in text
    assert "ann@example" not in text


def test_parse_sender_names_from_address_by_default() -> None:
    with pytest.raises(ConfigurationError, match="from_address"):
        parse_sender("mail", "nobody")


def test_redact_emails_masks_every_address_in_a_text() -> None:
    text = "The to field (ann@example.com, bob.smith@mail.example.org) is invalid: 'carl@example.net'"
    cleaned = redact_emails(text)
    assert "ann@example.com" not in cleaned
    assert "bob.smith@" not in cleaned
    assert "carl@" not in cleaned
    assert "a***@example.com" in cleaned
    assert "b***@mail.example.org" in cleaned
    assert cleaned.startswith("The to field (")


def test_redact_emails_leaves_text_without_addresses_alone() -> None:
    assert redact_emails("HTTP 400: bad request at 10:30 for +49 151") == "HTTP 400: bad request at 10:30 for +49 151"


def test_mask_address_is_the_core_one() -> None:
    from broadcastio.logs import mask_address as logs_mask

    assert mask_address is logs_mask


def test_recipient_error_is_none_for_an_email_and_a_masked_permanent_error_otherwise() -> None:
    from broadcastio import ErrorClass, ErrorCode
    from broadcastio.addresses import recipient_error

    assert recipient_error("ada@example.org") is None
    error = recipient_error("+15551234567")
    assert error is not None
    assert error.code == ErrorCode.INVALID_RECIPIENT
    assert error.error_class is ErrorClass.PERMANENT
    assert "15551234567" not in error.message


@pytest.mark.parametrize("value", ["", "   ", "a\nb", "a\rb", None, 42])
def test_single_line_refuses_what_would_break_a_header_and_never_names_the_value(value: object) -> None:
    from broadcastio import ConfigurationError
    from broadcastio.plugins import single_line

    with pytest.raises(
        ConfigurationError, match="provider 'p': api_key must be a non-empty single-line string"
    ) as caught:
        single_line("p", "api_key", value)
    if isinstance(value, str) and value.strip():
        assert value not in str(caught.value)


def test_single_line_returns_the_value_and_honours_forbidden_characters() -> None:
    from broadcastio import ConfigurationError
    from broadcastio.plugins import single_line

    assert single_line("p", "api_key", "k-123") == "k-123"
    with pytest.raises(ConfigurationError, match="api_key"):
        single_line("p", "api_key", "user:pass", forbidden=":")
