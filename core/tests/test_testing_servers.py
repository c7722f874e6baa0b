"""The scripted-reply kit of ``broadcastio.testing.servers``, over a real local HTTP server."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

import httpx
import pytest
from aiohttp import web
from broadcastio.testing.servers import Body, Reply, ScriptedReplies, respond, serve_app


class FakeApi(ScriptedReplies):
    """A fake in the shape the plugin conftests use: record, scripted answer first, then its own logic."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/send", self._send)
        return app

    async def _send(self, request: web.Request) -> web.Response:
        self.seen.append(await request.text())
        scripted = await self.scripted()
        if scripted is not None:
            return scripted
        return self.respond(201, {"id": f"msg-{len(self.seen)}"})


class PlainTextApi(FakeApi):
    text_type = "text/plain"


class StampedApi(FakeApi):
    """Every answer carries a header, as some APIs add rate-limit headers to each response."""

    def respond(self, status: int, body: Body = None, headers: Mapping[str, str] | None = None) -> web.Response:
        return super().respond(status, body, {"X-Stamp": "1", **(headers or {})})


@pytest.fixture
def api() -> Iterator[tuple[FakeApi, str]]:
    fake = FakeApi()
    with serve_app(fake.app()) as url:
        yield fake, url


class TestRespond:
    def test_json_body(self) -> None:
        """A dict or a list is sent as JSON with the JSON content type."""
        response = respond(422, {"error": "bad"})
        assert (response.status, response.content_type, response.text) == (422, "application/json", '{"error": "bad"}')
        assert respond(200, [1, 2]).text == "[1, 2]"

    def test_text_body_defaults_to_html(self) -> None:
        """Raw text is text/html unless told otherwise, as a proxy's error page would be."""
        assert respond(502, "<h1>Bad Gateway</h1>").content_type == "text/html"
        assert respond(400, "no_text", text_type="text/plain").content_type == "text/plain"

    def test_json_type_and_headers(self) -> None:
        """The JSON content type and the headers are the caller's."""
        response = respond(401, {"title": "Unauthorized"}, {"Retry-After": "3"}, json_type="application/problem+json")
        assert response.content_type == "application/problem+json"
        assert response.headers["Retry-After"] == "3"

    def test_none_is_no_body(self) -> None:
        """``None`` answers with no body and no content type."""
        response = respond(202, None, {"X-Message-Id": "m1"})
        assert response.body is None
        assert "Content-Type" not in response.headers
        assert response.headers["X-Message-Id"] == "m1"


class TestScriptedReplies:
    def test_reply_names_headers_with_dashes(self) -> None:
        """Header keywords use underscores for dashes; the reply is queued as given."""
        fake = FakeApi()
        fake.reply(429, {"error": "slow down"}, delay=0.25, retry_after="7", X_Request_Id="r1")
        headers = {"retry-after": "7", "X-Request-Id": "r1"}
        assert list(fake.replies) == [Reply(status=429, body={"error": "slow down"}, headers=headers, delay=0.25)]

    async def test_scripted_is_none_when_nothing_is_queued(self) -> None:
        """Without a queued reply the fake's own logic answers."""
        assert await FakeApi().scripted() is None

    def test_replies_answer_in_order_then_the_fake_answers(self, api: tuple[FakeApi, str]) -> None:
        """Queued replies answer the next requests in order; after them the fake's own answer."""
        fake, url = api
        fake.reply(503, "<html>busy</html>")
        fake.reply(429, {"error": "slow down"}, retry_after="2")
        answers = [httpx.post(f"{url}/send", content=f"m{n}") for n in range(3)]
        assert [a.status_code for a in answers] == [503, 429, 201]
        assert answers[0].headers["content-type"].startswith("text/html")
        assert answers[0].text == "<html>busy</html>"
        assert answers[1].json() == {"error": "slow down"}
        assert answers[1].headers["retry-after"] == "2"
        assert answers[2].json() == {"id": "msg-3"}
        assert fake.seen == ["m0", "m1", "m2"]
        assert not fake.replies

    def test_delay_holds_the_answer(self, api: tuple[FakeApi, str]) -> None:
        """A reply's delay is slept before it is sent, so a client with a shorter timeout gives up."""
        fake, url = api
        fake.reply(200, {"late": True}, delay=0.6)
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/send", content="x", timeout=0.2)
        fake.reply(200, {"late": True}, delay=0.3)
        started = time.monotonic()
        assert httpx.post(f"{url}/send", content="y", timeout=5).json() == {"late": True}
        assert time.monotonic() - started >= 0.3

    def test_subclass_text_type(self) -> None:
        """A fake whose API answers bare text as text/plain says so once, for scripted and own answers."""
        fake = PlainTextApi()
        with serve_app(fake.app()) as url:
            fake.reply(400, "no_text")
            answer = httpx.post(f"{url}/send", content="x")
            assert (answer.status_code, answer.text) == (400, "no_text")
            assert answer.headers["content-type"].startswith("text/plain")

    def test_overridden_respond_shapes_scripted_replies_too(self) -> None:
        """Scripted replies go through ``respond``, so headers every answer carries are on them as well."""
        fake = StampedApi()
        with serve_app(fake.app()) as url:
            fake.reply(500, {"error": "boom"}, X_Stamp="scripted")
            scripted = httpx.post(f"{url}/send", content="x")
            own = httpx.post(f"{url}/send", content="y")
            assert (scripted.status_code, scripted.headers["x-stamp"]) == (500, "scripted")
            assert (own.status_code, own.headers["x-stamp"]) == (201, "1")
