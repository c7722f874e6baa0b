"""Provider settings: validated once, at construction, so mistakes raise early."""

from __future__ import annotations

import os
import ssl
from email.headerregistry import Address
from typing import Literal

from broadcastio import ConfigurationError

from broadcastio_email._addresses import parse_mailbox

__all__ = ["DEFAULT_PORTS", "TLS_MODES", "TlsMode", "build_tls_context", "check_port", "check_timeout", "mailbox"]

TlsMode = Literal["starttls", "implicit", "none"]
TLS_MODES: tuple[TlsMode, ...] = ("starttls", "implicit", "none")
DEFAULT_PORTS: dict[TlsMode, int] = {"starttls": 587, "implicit": 465, "none": 25}


def mailbox(setting: str, value: object) -> Address:
    """A validated sender-side address (``from_address``, ``reply_to``)."""
    if not isinstance(value, str):
        raise ConfigurationError(f"email provider: {setting} must be a string, got {type(value).__name__}")
    try:
        return parse_mailbox(value, allow_display_name=True)
    except ValueError as exc:
        raise ConfigurationError(f"email provider: {setting} {exc}") from None


def check_port(port: object) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigurationError(f"email provider: port must be an integer from 1 to 65535, got {port!r}")
    return port


def check_timeout(setting: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(f"email provider: {setting} must be a number of seconds > 0, got {value!r}")
    return float(value)


def build_tls_context(
    tls: TlsMode,
    *,
    validate_certs: bool,
    ca_file: str | os.PathLike[str] | None,
    tls_context: ssl.SSLContext | None,
) -> ssl.SSLContext | None:
    """The client TLS context, built once per provider (None for ``tls="none"``)."""
    if tls not in TLS_MODES:
        raise ConfigurationError(f"email provider: tls must be 'starttls', 'implicit' or 'none', got {tls!r}")
    if not isinstance(validate_certs, bool):
        raise ConfigurationError(f"email provider: validate_certs must be True or False, got {validate_certs!r}")
    if tls == "none":
        if ca_file is not None or tls_context is not None:
            raise ConfigurationError("email provider: ca_file and tls_context have no effect with tls='none'")
        return None
    if tls_context is not None:
        if ca_file is not None:
            raise ConfigurationError("email provider: give either tls_context or ca_file, not both")
        if not isinstance(tls_context, ssl.SSLContext):
            raise ConfigurationError("email provider: tls_context must be an ssl.SSLContext")
        return tls_context
    if ca_file is not None and not validate_certs:
        raise ConfigurationError("email provider: ca_file has no effect with validate_certs=False")
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=os.fspath(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(f"email provider: cannot load ca_file {os.fspath(ca_file or '')!r}: {exc}") from exc
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
