"""Settings are checked when the provider is built: mistakes raise early and say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from broadcastio import ConfigurationError
from broadcastio_email import EmailProvider

from .conftest import FROM


def build(**settings: object) -> EmailProvider:
    options: dict[str, object] = {"host": "smtp.example.com", "from_address": FROM}
    options.update(settings)
    return EmailProvider(**options)  # type: ignore[arg-type]


class TestSettings:
    def test_defaults(self) -> None:
        """STARTTLS on 587 with certificate checks is the default."""
        provider = build()
        assert (provider.name, provider.channel, provider.tls, provider.port) == ("email", "email", "starttls", 587)
        assert not provider.idempotent

    @pytest.mark.parametrize(("tls", "port"), [("starttls", 587), ("implicit", 465), ("none", 25)])
    def test_default_port_follows_tls_mode(self, tls: str, port: int) -> None:
        """Each TLS mode has its usual port."""
        assert build(tls=tls).port == port

    @pytest.mark.parametrize(
        ("settings", "match"),
        [
            ({"from_address": "not an address"}, "from_address"),
            ({"from_address": "a@example.com, b@example.com"}, "exactly one"),
            ({"from_address": "a@example.com\r\nBcc: x@y.z"}, "CR or LF"),
            ({"reply_to": "nope"}, "reply_to"),
            ({"tls": "ssl"}, "tls must be"),
            ({"port": 0}, "port"),
            ({"port": "25"}, "port"),
            ({"timeout": 0}, "timeout"),
            ({"health_timeout": -1}, "health_timeout"),
            ({"username": "u"}, "both username and password"),
            ({"password": "p"}, "both username and password"),
            ({"host": ""}, "host"),
            ({"host": "smtp.example.com\r\n"}, "host"),
            ({"tls": "none", "ca_file": "ca.pem"}, "no effect with tls='none'"),
            ({"validate_certs": False, "ca_file": "ca.pem"}, "no effect with validate_certs=False"),
            ({"validate_certs": "yes"}, "validate_certs"),
            ({"ca_file": "/nonexistent/ca.pem"}, "cannot load ca_file"),
        ],
    )
    def test_mistakes_raise_configuration_error(self, settings: dict[str, object], match: str) -> None:
        """Each misconfiguration raises ConfigurationError naming the setting."""
        with pytest.raises(ConfigurationError, match=match):
            build(**settings)

    def test_display_name_and_idn_domain_in_from_address(self) -> None:
        """from_address may carry a display name; an internationalised domain is converted to ASCII."""
        provider = build(from_address="Alerts <alerts@bücher.example>")
        assert provider.from_address.display_name == "Alerts"
        assert provider.from_address.domain == "xn--bcher-kva.example"

    def test_ca_file_is_loaded(self, tmp_path: Path, tls_files: object) -> None:
        """A readable PEM ca_file is accepted."""
        ca_file = tls_files.ca_file  # type: ignore[attr-defined]
        assert build(ca_file=ca_file).port == 587

    def test_repr_hides_the_password(self) -> None:
        """The password never shows in repr."""
        text = repr(build(username="user", password="hunter2-secret"))
        assert "hunter2-secret" not in text
        assert "password='***'" in text
