"""Apprise URLs turned into Apprise services, checked once, described without secrets.

Apprise URLs carry credentials (``slack://TokenA/TokenB/TokenC``,
``mailto://user:password@...``), so a URL is only ever named by its scheme.
Apprise's own log records can quote them too: :func:`silence_apprise_logging`
keeps every ``apprise`` record away from the application's handlers.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import apprise
from broadcastio import ConfigurationError
from msgspec import Struct

__all__ = ["ALL_TAG", "Service", "build_apprise", "silence_apprise_logging"]

ALL_TAG = "all"
"""The address that selects every configured URL (Apprise's own match-all tag)."""

# Schemes whose URL names the server to connect to (self-hosted services): health() probes them.
_HOSTED = frozenset({"json", "jsons", "form", "forms", "xml", "xmls", "ntfy", "ntfys", "gotify", "gotifys"})
_EMAIL = frozenset({"mailto", "mailtos"})


class Service(Struct, frozen=True, kw_only=True):
    """One configured Apprise URL: its scheme, tags and, for self-hosted services, where it connects."""

    scheme: str
    tags: tuple[str, ...]
    endpoint: tuple[str, int] | None


def silence_apprise_logging() -> None:
    """Keep Apprise's records (which may quote service URLs and tokens) out of the application's logs."""
    logger = logging.getLogger("apprise")
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())
    logger.propagate = False


def _scheme(url: str) -> str:
    scheme, separator, _ = url.partition("://")
    return scheme.lower() if separator and scheme.isascii() and scheme.replace("+", "").isalnum() else ""


def _endpoint(scheme: str, service: Any) -> tuple[str, int] | None:
    """``(host, port)`` a self-hosted service connects to, or None for cloud APIs."""
    if scheme in _EMAIL:
        host, port = getattr(service, "smtp_host", None), getattr(service, "port", None)
        return (str(host), int(port)) if host and port else None
    if scheme not in _HOSTED or getattr(service, "mode", None) == "cloud":
        return None
    host = getattr(service, "host", None)
    if not host:
        return None
    port = getattr(service, "port", None) or (443 if getattr(service, "secure", False) else 80)
    return (str(host), int(port))


def _entries(urls: str | Sequence[str] | Mapping[str, str | Sequence[str]], provider: str) -> list[tuple[str, str]]:
    """``(tag, url)`` pairs from a URL, a list of URLs, or a mapping of tag to URL(s)."""
    if isinstance(urls, str):
        return [(ALL_TAG, urls)]
    if isinstance(urls, Mapping):
        pairs: list[tuple[str, str]] = []
        for tag, value in urls.items():
            if not isinstance(tag, str) or not tag.strip() or tag == ALL_TAG:
                raise ConfigurationError(f"provider {provider!r}: urls tags must be non-empty names other than 'all'")
            for url in [value] if isinstance(value, str) else list(value):
                pairs.append((tag, url))
        return pairs
    if isinstance(urls, Sequence):
        return [(ALL_TAG, url) for url in urls]
    raise ConfigurationError(f"provider {provider!r}: urls must be an Apprise URL, a list, or a mapping of tag to URLs")


def build_apprise(
    urls: str | Sequence[str] | Mapping[str, str | Sequence[str]], *, provider: str
) -> tuple[apprise.Apprise, tuple[Service, ...]]:
    """An Apprise object holding every URL; raise :class:`ConfigurationError` for one Apprise cannot use."""
    entries = _entries(urls, provider)
    if not entries:
        raise ConfigurationError(f"provider {provider!r}: urls is empty")
    with warnings.catch_warnings():
        # Apprise loads its service plugins on first use; its email plugin imports the stdlib's
        # deprecated imghdr on Python < 3.13. That warning is Apprise's, not the user's to act on.
        warnings.simplefilter("ignore", DeprecationWarning)
        return _build(entries, provider)


def _build(entries: list[tuple[str, str]], provider: str) -> tuple[apprise.Apprise, tuple[Service, ...]]:
    notifier = apprise.Apprise()
    services: list[Service] = []
    for number, (tag, url) in enumerate(entries, start=1):
        if not isinstance(url, str) or not url.strip():
            raise ConfigurationError(f"provider {provider!r}: Apprise URL #{number} must be a non-empty string")
        scheme = _scheme(url.strip())
        tags = (tag,) if tag != ALL_TAG else ()
        service = apprise.Apprise.instantiate(url.strip(), tag=list(tags) or None)
        if service is None:
            shown = f"{scheme}://..." if scheme else "(no scheme)"
            raise ConfigurationError(
                f"provider {provider!r}: Apprise URL #{number} ({shown}) is unsupported or malformed; "
                "see https://appriseit.com/services/ for each service's URL form"
            )
        notifier.add(service)
        services.append(Service(scheme=scheme, tags=tags, endpoint=_endpoint(scheme, service)))
    return notifier, tuple(services)
