"""Secrets plugins put in URLs: one process-wide filter on the httpx logger, and scrub() for error texts."""

from __future__ import annotations

import logging
import secrets
import urllib.parse

import httpx
import pytest
from aiohttp import web
from broadcastio import logs
from broadcastio.logs import MASK, redact, redact_secret, redact_url_pattern, scrub
from broadcastio.testing.servers import serve_app


def _secret() -> str:
    """A fresh secret per test: registrations are process-wide and never undone."""
    return "s3cr3t-" + secrets.token_urlsafe(18)


def _redacting_filters() -> list[logging.Filter]:
    return [f for f in logging.getLogger("httpx").filters if type(f).__name__ == "_RedactingFilter"]


def test_the_helpers_are_public_in_logs() -> None:
    for name in ("MASK", "redact", "redact_secret", "redact_url_pattern", "scrub"):
        assert name in logs.__all__, name


def test_a_registered_secret_is_masked_plain_and_percent_encoded() -> None:
    secret = _secret() + "/with:colon"
    redact_secret(secret)
    encoded = urllib.parse.quote(secret, safe="")
    assert redact(f"POST https://hooks.example/{secret}") == f"POST https://hooks.example/{MASK}"
    assert redact(f"GET /x?u={encoded}") == f"GET /x?u={MASK}"
    assert redact(f"GET /{urllib.parse.quote(secret, safe='/')}") == f"GET /{MASK}"


def test_a_short_secret_is_not_registered_process_wide() -> None:
    """Fewer than 16 characters could mask unrelated words in other libraries' lines."""
    short = "abcdefghij12345"  # 15 characters
    redact_secret(short)
    assert redact(f"word {short} word") == f"word {short} word"
    assert scrub(f"word {short} word", [short]) == f"word {MASK} word"  # given directly, it is scrubbed


def test_registering_twice_keeps_one_filter_and_one_rule() -> None:
    secret = _secret()
    redact_secret(secret)
    redact_secret(secret)
    redact_url_pattern(r"(/twice-test/)[a-z]+", r"\1" + MASK)
    redact_url_pattern(r"(/twice-test/)[a-z]+", r"\1" + MASK)
    assert len(_redacting_filters()) == 1
    assert redact(f"/twice-test/abc {secret}") == f"/twice-test/{MASK} {MASK}"


def test_a_url_shape_is_masked_in_httpx_log_records(caplog: pytest.LogCaptureFixture) -> None:
    """By shape: even a URL of a provider this process never built."""
    redact_url_pattern(r"(/shape-test/\d+/)[A-Za-z0-9_-]+", r"\1" + MASK)
    caplog.set_level(logging.INFO, logger="httpx")
    logging.getLogger("httpx").info('HTTP Request: POST %s "%s"', "https://x.example/shape-test/42/TOPSECRETVALUE", 200)
    assert "TOPSECRETVALUE" not in caplog.text
    assert f"/shape-test/42/{MASK}" in caplog.text


def test_a_record_that_cannot_be_formatted_passes_untouched() -> None:
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "%d", ("not a number",), None)
    assert all(f.filter(record) for f in _redacting_filters())
    assert record.msg == "%d"


def test_scrub_applies_the_registrations_before_address_masking() -> None:
    """A registered URL shape wins over the phone-number rule that would cut a token in two."""
    redact_url_pattern(r"\d{1,20}:[A-Z]{20,40}\b", MASK)
    text = "POST /bot1234567890:ABCDEFGHIJKLMNOPQRSTUVWX/send failed for ann@example.com"
    cleaned = scrub(text)
    assert "ABCDEFGHIJKLMNOPQRSTUVWX" not in cleaned
    assert f"/bot{MASK}/send" in cleaned
    assert "a***@example.com" in cleaned


def test_scrub_takes_the_given_secrets_in_every_encoding() -> None:
    given = "pa ss/word+1"
    text = f"{given} {urllib.parse.quote(given, safe='')} {urllib.parse.quote_plus(given)}"
    assert scrub(text, [given]) == f"{MASK} {MASK} {MASK}"


async def test_a_real_request_logged_by_httpx_holds_no_registered_secret(caplog: pytest.LogCaptureFixture) -> None:
    """The library path (custom transports, proxies) logs through httpx: the line is masked."""
    secret = _secret()
    redact_secret(secret)

    async def answer(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hooks/{token}", answer)
    caplog.set_level(logging.INFO, logger="httpx")
    with serve_app(app) as base:
        async with httpx.AsyncClient(base_url=base) as client:
            response = await client.post(f"/hooks/{secret}", content=b"x")
    assert response.status_code == 200
    lines = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert any(f"/hooks/{MASK}" in line for line in lines), lines
    assert secret not in caplog.text
