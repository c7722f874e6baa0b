"""Chat fallback from a configuration file: Matrix, then Slack, then Discord, against local servers.

One aiohttp app on 127.0.0.1 answers in the three services' real shapes
(bearer tokens checked, Slack's HTTP-200 ``ok: false`` errors, Matrix's
``errcode``s, Discord's Execute Webhook). The providers come from a
``broadcastio.toml`` with secrets from the environment, as a user would run
them. Needs the matrix, slack and discord plugins (the plugins_all session).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from broadcastio import Message, Recipient, build_orchestrator, make_plugin_manager
from broadcastio.testing import FakeClock
from broadcastio.testing.servers import serve_app

SLACK_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
MATRIX_TOKEN = "syt_YnJvYWRjYXN0aW8_AbCdEfGhIjKlMnOpQrSt_0a1b2c"
DISCORD_PATH = "/api/webhooks/1234567890123456789/AbCdEfGhIjKlMnOpQrStUvWxYz_0123456789"
JOINED_ROOM, OTHER_ROOM = "!joined:example.org", "!elsewhere:example.org"
OPEN_CHANNEL, ARCHIVED_CHANNEL = "C0123ABCDEF", "C0ARCHIVED1"


class ChatCloud:
    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []
        self.slack_rate_limited_once = False

    @staticmethod
    def _json(status: int, body: dict[str, Any], **headers: str) -> web.Response:
        return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers)

    async def matrix_send(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {MATRIX_TOKEN}":
            return self._json(401, {"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed."})
        room = request.match_info["room"]
        self.log.append(("matrix", room))
        if room != JOINED_ROOM:
            return self._json(403, {"errcode": "M_FORBIDDEN", "error": f"User not in room {room}"})
        return self._json(200, {"event_id": "$event1"})

    async def slack_post(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {SLACK_TOKEN}":
            return self._json(200, {"ok": False, "error": "invalid_auth"})
        body = await request.json()
        self.log.append(("slack", body["channel"]))
        if not self.slack_rate_limited_once:
            self.slack_rate_limited_once = True
            return self._json(429, {"ok": False, "error": "ratelimited"}, **{"Retry-After": "2"})
        if body["channel"] == ARCHIVED_CHANNEL:
            return self._json(200, {"ok": False, "error": "is_archived"})
        return self._json(200, {"ok": True, "channel": body["channel"], "ts": "1767225600.000100"})

    async def discord_execute(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.log.append(("discord", body["content"]))
        return self._json(200, {"id": "1100000000000000001", "content": body["content"]})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_put("/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}", self.matrix_send)
        app.router.add_post("/api/chat.postMessage", self.slack_post)
        app.router.add_post(DISCORD_PATH, self.discord_execute)
        return app


@pytest.fixture
def cloud() -> Iterator[tuple[ChatCloud, str]]:
    chat = ChatCloud()
    with serve_app(chat.app()) as url:
        yield chat, url


def config_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "broadcastio.toml"
    path.write_text(
        f"""
[retry]
max_attempts = 2
backoff = "none"

[health]
enabled = false

[[providers]]
name = "matrix"
type = "matrix"

[providers.settings]
homeserver = "{url}"
access_token = "${{MATRIX_TOKEN}}"

[[providers]]
name = "slack"
type = "slack"

[providers.settings]
token = "${{SLACK_TOKEN}}"
base_url = "{url}/api"

[[providers]]
name = "discord"
type = "discord"

[providers.settings]
url = "${{DISCORD_WEBHOOK_URL}}"
""",
        encoding="utf-8",
    )
    return path


async def test_matrix_refuses_slack_waits_then_delivers(cloud: tuple[ChatCloud, str], tmp_path: Path) -> None:
    """M_FORBIDDEN moves on at once; Slack's 429 is waited out (Retry-After 2); Discord is never needed."""
    chat, url = cloud
    env = {"MATRIX_TOKEN": MATRIX_TOKEN, "SLACK_TOKEN": SLACK_TOKEN, "DISCORD_WEBHOOK_URL": url + DISCORD_PATH}
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "matrix,slack,discord"})
    clock = FakeClock()
    orchestrator = build_orchestrator(config_file(tmp_path, url), plugin_manager=manager, clock=clock, env=env)
    recipient = Recipient(addresses={"matrix": OTHER_ROOM, "slack": OPEN_CHANNEL, "discord": "ops"})
    async with orchestrator:
        result = await orchestrator.asend(Message(recipient=recipient, text="disk full on db-1"), trace=True)
    assert result.ok, result.error
    assert result.provider == "slack"
    assert result.provider_message_id == "1767225600.000100"
    assert [(a.provider, a.ok) for a in result.trace.attempts] == [("matrix", False), ("slack", False), ("slack", True)]
    assert result.trace.attempts[0].error.code == "matrix.M_FORBIDDEN"
    assert clock.sleeps == [2.0]
    assert chat.log == [("matrix", OTHER_ROOM), ("slack", OPEN_CHANNEL), ("slack", OPEN_CHANNEL)]


async def test_archived_slack_channel_falls_back_to_discord(cloud: tuple[ChatCloud, str], tmp_path: Path) -> None:
    chat, url = cloud
    chat.slack_rate_limited_once = True
    env = {"MATRIX_TOKEN": MATRIX_TOKEN, "SLACK_TOKEN": SLACK_TOKEN, "DISCORD_WEBHOOK_URL": url + DISCORD_PATH}
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "matrix,slack,discord"})
    orchestrator = build_orchestrator(config_file(tmp_path, url), plugin_manager=manager, clock=FakeClock(), env=env)
    recipient = Recipient(addresses={"slack": ARCHIVED_CHANNEL, "discord": "ops"})  # no Matrix room: skipped
    async with orchestrator:
        result = await orchestrator.asend(Message(recipient=recipient, text="fallback"), trace=True)
    assert result.ok, result.error
    assert result.provider == "discord"
    assert result.provider_message_id == "1100000000000000001"
    assert result.trace.attempts[0].error.code == "slack.is_archived"
    assert chat.log == [("slack", ARCHIVED_CHANNEL), ("discord", "fallback")]
