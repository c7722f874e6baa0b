"""Construction checks and the phone helpers."""

from __future__ import annotations

from typing import Any

import pytest
from broadcastio import ConfigurationError
from broadcastio_sms import TwilioSmsProvider, mask_phone, normalize_e164

SID = "AC" + "0123456789abcdef" * 2
VALID: dict[str, Any] = {"account_sid": SID, "auth_token": "token", "from_number": "+14155550100"}


class TestConstruction:
    def test_from_number_is_normalized(self) -> None:
        """A sender written with spaces and dashes is kept in E.164."""
        provider = TwilioSmsProvider(**{**VALID, "from_number": "+1 415-555-0100"})
        assert provider.from_number == "+14155550100"

    @pytest.mark.parametrize(
        ("override", "complaint"),
        [
            ({"account_sid": "AC123"}, "account_sid"),
            ({"account_sid": "SK" + "0" * 32}, "account_sid"),
            ({"auth_token": ""}, "auth_token"),
            ({"from_number": "+1415555"}, "from_number"),
            ({"from_number": "4155550100"}, "from_number"),
            ({"from_number": "Way too long sender"}, "from_number"),
            ({"from_number": None}, "from_number or messaging_service_sid"),
            ({"messaging_service_sid": "MG1"}, "messaging_service_sid"),
            ({"status_callback": "ftp://example.com"}, "status_callback"),
            ({"base_url": "api.twilio.com"}, "base_url"),
            ({"timeout": 0}, "timeout"),
        ],
    )
    def test_bad_settings_raise_naming_the_setting(self, override: dict[str, Any], complaint: str) -> None:
        """Each wrong setting raises ConfigurationError naming it."""
        with pytest.raises(ConfigurationError, match=complaint):
            TwilioSmsProvider(**{**VALID, **override})

    def test_configuration_error_does_not_echo_the_token(self) -> None:
        """An error about another setting never shows the auth token."""
        with pytest.raises(ConfigurationError) as info:
            TwilioSmsProvider(**{**VALID, "auth_token": "s3cr3t-token", "account_sid": "bad"})
        assert "s3cr3t-token" not in str(info.value)

    def test_default_name_and_base_url(self) -> None:
        """Without a name the provider is called after its type; it talks to api.twilio.com."""
        provider = TwilioSmsProvider(**VALID)
        assert provider.name == "sms"
        assert provider.base_url == "https://api.twilio.com"


class TestPhoneHelpers:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("+14155552671", "+14155552671"),
            ("+44 7911 123456", "+447911123456"),
            ("+33 6 12 34 56 78", "+33612345678"),
            (" +14155552671 ", "+14155552671"),
            ("14155552671", None),
            ("+1415555", None),
            ("+", None),
            ("", None),
        ],
    )
    def test_normalize_e164(self, raw: str, expected: str | None) -> None:
        """Valid international numbers come back in E.164; anything else is None."""
        assert normalize_e164(raw) == expected

    def test_mask_phone_keeps_two_digits(self) -> None:
        """Masking keeps the plus sign and the last two digits."""
        assert mask_phone("+14155552671") == "+*********71"
        assert mask_phone("12") == "**"
