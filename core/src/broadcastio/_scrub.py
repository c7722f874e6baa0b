"""Redaction of secrets and personal data in provider error text.

Provider error bodies are quoted into results, logs and spans, and services
echo what they were sent: credentials (``Authorization: Basic QUMw...``),
tokens in URLs, the recipient's email address or phone number. The
orchestrator passes every attempt's error message through :func:`scrub`
once, with the provider's declared ``secret_fields`` values, so no plugin
has to remember to.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import urllib.parse
from collections.abc import Iterable

import msgspec

from broadcastio._models import DeliveryError, DeliveryResult

__all__ = [
    "MASK",
    "mask_address",
    "provider_secrets",
    "redact",
    "redact_key",
    "redact_secret",
    "redact_url_pattern",
    "scrub",
    "scrub_error",
    "scrub_result",
]

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Known secrets shorter than this are not searched for: they would garble
ordinary words more than they hide."""

MAX_TEXT = 8192
"""Provider text longer than this is cut (error bodies are quoted for people, not archived)."""

# Every quantifier is bounded and every pattern anchored at a word start, so scrubbing
# stays linear in the text, whatever a provider sends back.
_AUTH_HEADER = re.compile(
    r"(?P<label>\b(?:proxy-)?authorization\b[\"']?\s{0,4}[:=]\s{0,4}[\"']?)(?P<value>(?:[A-Za-z]{1,16}\s{1,4})?[^\s\"',;}]{1,4096})",
    re.IGNORECASE,
)
_AUTH_SCHEME = re.compile(
    r"\b(?P<scheme>Basic|Bearer|Digest|Token)\s{1,4}(?P<value>[A-Za-z0-9._~+/=-]{4,4096})", re.IGNORECASE
)
_NAMED_SECRET = re.compile(
    r"(?P<label>(?<![\w-])[\w-]{0,32}?(?:token|secret|password|passwd|api[_-]?key|apikey|signature)[\w-]{0,32}"
    r"[\"']?\s{0,4}[:=]\s{0,4}[\"']?)(?P<value>[^\s\"'&,;}]{1,4096})",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(
    r"(?P<scheme>(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,31}://)[^/\s@:]{1,256}:[^/\s@]{1,256}@", re.IGNORECASE
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}\b"
)
# A '+' followed by 8-15 digits (spaces, dots, dashes or brackets between them), or 8-15 bare digits
# standing alone; dates and times do not match (too few digits between separators).
_PHONE = re.compile(r"(?<![\w+])(?:\+\d(?:[\s().-]?\d){7,14}|\d{8,15})(?!\w)")


def mask_address(address: str) -> str:
    """Hide most of an address: ``a***@example.com``, ``+4*********67``.

    Email addresses keep the first character and the domain; everything
    else keeps its first and last two characters (nothing at all when
    shorter than five).
    """
    local, at, domain = address.rpartition("@")
    if at and local:
        return f"{local[0]}***@{domain}"
    if len(address) < 5:
        return "*" * len(address)
    return address[:2] + "*" * (len(address) - 4) + address[-2:]


def _variants(secret: str) -> set[str]:
    """A secret as it may appear in text: raw, URL-encoded (as a segment or a path), form-encoded."""
    return {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret, safe="/"),
        urllib.parse.quote_plus(secret),
    }


MIN_REGISTERED_SECRET = 16
"""Secrets registered process-wide must be at least this long: a shorter one
could mask unrelated text in other libraries' log lines."""

HTTPX_LOGGER = "httpx"
"""httpx logs every request URL at INFO here; secrets in URLs must not reach a handler."""

_lock = threading.Lock()
_registered_secrets: tuple[str, ...] = ()  # longest first: a prefix must not leave a tail
_url_patterns: tuple[tuple[re.Pattern[str], str], ...] = ()


def redact(text: str) -> str:
    """``text`` with every registered URL shape rewritten and every registered secret masked."""
    for pattern, replacement in _url_patterns:
        text = pattern.sub(replacement, text)
    for secret in _registered_secrets:
        text = text.replace(secret, MASK)
    return text


class _RedactingFilter(logging.Filter):
    """Rewrites a record whose text holds a registered secret or URL shape, before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is logging's problem, not ours
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = ()
        return True


_FILTER = _RedactingFilter(name="")


def _install_filter() -> None:
    logger = logging.getLogger(HTTPX_LOGGER)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)


def redact_secret(secret: str) -> None:
    """Mask ``secret`` (plain or percent-encoded) in the ``httpx`` log and in :func:`scrub`, from now on.

    For credentials a provider puts in a URL (a webhook path, a bot token).
    Secrets shorter than :data:`MIN_REGISTERED_SECRET` are ignored here (pass
    them to :func:`scrub` directly). Registering twice is harmless.
    """
    global _registered_secrets
    if not isinstance(secret, str) or len(secret) < MIN_REGISTERED_SECRET:
        return
    with _lock:
        forms = set(_registered_secrets) | _variants(secret)
        _registered_secrets = tuple(sorted(forms, key=len, reverse=True))
        _install_filter()


def redact_url_pattern(pattern: str | re.Pattern[str], replacement: str) -> None:
    """Rewrite each match of ``pattern`` as ``replacement`` (``re.sub`` syntax) in the httpx log and :func:`scrub`.

    For the documented shape of a secret URL part, so that even a URL of a
    provider this process never built is masked, e.g.
    ``redact_url_pattern(r"/services/[^\\s?#]+", "/services/***")``.
    Keep the pattern's quantifiers bounded or simple: it runs on every log line
    httpx writes. Registering the same rule twice is harmless.
    """
    global _url_patterns
    compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
    with _lock:
        rule = (compiled, replacement)
        if rule not in _url_patterns:
            _url_patterns = (*_url_patterns, rule)
        _install_filter()


def scrub(text: str, known_secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials, the given ``known_secrets``, email addresses and
    phone numbers redacted.

    The given secrets (plain or percent-encoded), then everything registered
    with :func:`redact_secret` and :func:`redact_url_pattern`, then
    Authorization values, ``Basic``/``Bearer`` credentials, ``token=``-style
    values and URL passwords become ``***``; addresses are masked like
    :func:`mask_address` so an operator still sees which kind of address it was.
    """
    if not text:
        return text
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + "... (cut)"
    known = {variant for secret in known_secrets if len(secret) >= MIN_SECRET_LENGTH for variant in _variants(secret)}
    for secret in sorted(known, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = redact(text)
    text = _AUTH_HEADER.sub(lambda match: match.group("label") + MASK, text)
    text = _AUTH_SCHEME.sub(lambda match: f"{match.group('scheme')} {MASK}", text)
    text = _NAMED_SECRET.sub(lambda match: match.group("label") + MASK, text)
    text = _URL_USERINFO.sub(lambda match: f"{match.group('scheme')}{MASK}@", text)
    text = _EMAIL.sub(lambda match: mask_address(match.group()), text)
    return _PHONE.sub(lambda match: mask_address(match.group()), text)


def provider_secrets(provider: object) -> tuple[str, ...]:
    """The values of the attributes a provider declares in ``secret_fields``."""
    fields = getattr(type(provider), "secret_fields", None) or getattr(provider, "secret_fields", ())
    values = []
    for field in fields if isinstance(fields, tuple | list) else ():
        value = getattr(provider, field, None)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value:
            values.append(value)
    return tuple(values)


def scrub_error(error: DeliveryError, known_secrets: Iterable[str] = ()) -> DeliveryError:
    """``error`` with its message scrubbed (the same object when nothing changed)."""
    cleaned = scrub(error.message, known_secrets)
    return error if cleaned == error.message else msgspec.structs.replace(error, message=cleaned)


def scrub_result(result: DeliveryResult) -> DeliveryResult:
    """``result`` with every error message in it, and in its trace, scrubbed."""
    changes: dict[str, object] = {}
    if result.error is not None:
        changes["error"] = scrub_error(result.error)
    if result.trace is not None:
        attempts = tuple(
            attempt if attempt.error is None else msgspec.structs.replace(attempt, error=scrub_error(attempt.error))
            for attempt in result.trace.attempts
        )
        skipped = tuple(msgspec.structs.replace(item, detail=scrub(item.detail)) for item in result.trace.skipped)
        changes["trace"] = msgspec.structs.replace(result.trace, attempts=attempts, skipped=skipped)
    return msgspec.structs.replace(result, **changes) if changes else result


_process_key_secret = secrets.token_bytes(32)
KEY_DIGEST_PREFIX = "h:"


def redact_key(key: str, *, secret: bytes | str | None = None) -> str:
    """An idempotency key as a keyed hash (``h:`` and 20 hex digits), for logs and spans.

    Keys often carry an order number or, against advice, an address; the
    hash still lets an operator follow one message through logs and traces.
    The HMAC key is random per process unless ``secret`` is given (set the
    same one everywhere to correlate across processes).
    """
    if isinstance(secret, str):
        secret = secret.encode()
    digest = hmac.new(secret or _process_key_secret, key.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return KEY_DIGEST_PREFIX + digest.hexdigest()[:20]
