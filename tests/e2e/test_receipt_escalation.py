"""Receipts drive fallback, end to end with real processes and real HTTP on 127.0.0.1.

A local Twilio-shaped server accepts sends (Messages.json, basic auth, a
201 message resource) and later POSTs status callbacks, signed as Twilio
signs them (HMAC-SHA1 over the full URL and the sorted POST parameters), to
a running ``broadcastio receipts serve --outbox`` child process. The outbox
is the only thing the processes share. ``broadcastio outbox watch`` child
processes fire the escalation timers and send what receipts put back.
For silence, the first hop is a memory provider on the ``whatsapp``
channel that never reports a receipt, standing in for the node-whatsapp
gateway; for a failed WhatsApp message, a local Graph API (WhatsApp Cloud)
that accepts the send and then POSTs Meta's signed status webhook.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import itertools
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web
from broadcastio import Escalation, Message, Metadata, Recipient
from broadcastio.outbox import Outbox
from broadcastio.testing.servers import serve_app

pytestmark = pytest.mark.timeout(120)

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-auth-token-e2e-51d4"
FROM_NUMBER = "+14155550100"
PHONE = "+14155552671"
GRAPH_TOKEN = "EAAG-e2e-graph-token-9911"
APP_SECRET = "meta-app-secret-e2e-3c1f"
PHONE_NUMBER_ID = "106540352242922"


class Twilio:
    """Twilio's Messages API, with the status callbacks it posts after accepting a message.

    ``statuses`` is what it reports for each send, in order (``(status, error code)``).
    """

    def __init__(self) -> None:
        self.sends: list[dict[str, str]] = []
        self.statuses: list[tuple[str, str | None]] = [("sent", None), ("delivered", None)]
        self.answers: list[int] = []
        self.lock = threading.Lock()
        self._sids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create)
        app.router.add_get("/2010-04-01/Accounts/{sid}.json", self._account)
        return app

    def _authenticated(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        return hmac.compare_digest(header, expected) and request.match_info["sid"] == ACCOUNT_SID

    async def _account(self, request: web.Request) -> web.Response:
        if not self._authenticated(request):
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        return web.json_response({"sid": ACCOUNT_SID, "status": "active", "type": "Full"})

    async def _create(self, request: web.Request) -> web.Response:
        if not self._authenticated(request):
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        form = {key: str(value) for key, value in (await request.post()).items()}
        with self.lock:
            self.sends.append(form)
        sid = f"SM{next(self._sids):032x}"
        if form.get("StatusCallback"):
            task = asyncio.get_running_loop().create_task(self._call_back(form["StatusCallback"], sid, form))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        resource = {"sid": sid, "status": "queued", "to": form["To"], "from": form.get("From"), "body": form["Body"]}
        return web.json_response({**resource, "account_sid": ACCOUNT_SID, "error_code": None}, status=201)

    async def _call_back(self, url: str, sid: str, form: dict[str, str]) -> None:
        async with aiohttp.ClientSession() as session:
            for status, code in self.statuses:
                await asyncio.sleep(0.2)
                params = {
                    "AccountSid": ACCOUNT_SID,
                    "ApiVersion": "2010-04-01",
                    "From": form.get("From", ""),
                    "MessageSid": sid,
                    "MessageStatus": status,
                    "SmsSid": sid,
                    "SmsStatus": status,
                    "To": form["To"],
                }
                if code is not None:
                    params["ErrorCode"] = code
                data = url + "".join(name + params[name] for name in sorted(params))
                signature = base64.b64encode(hmac.new(AUTH_TOKEN.encode(), data.encode(), hashlib.sha1).digest())
                async with session.post(url, data=params, headers={"X-Twilio-Signature": signature.decode()}) as reply:
                    with self.lock:
                        self.answers.append(reply.status)


class Graph:
    """The Graph API's messages endpoint for one phone number id; after each send it POSTs Meta's
    status webhook (``entry[].changes[].value.statuses[]``), signed ``X-Hub-Signature-256`` with
    the app secret, to ``webhook_url``."""

    def __init__(self) -> None:
        self.sends: list[dict[str, Any]] = []
        self.statuses: list[tuple[str, int | None]] = [("sent", None), ("failed", 131026)]
        self.webhook_url = ""
        self.answers: list[int] = []
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(f"/v21.0/{PHONE_NUMBER_ID}/messages", self._messages)
        app.router.add_get(f"/v21.0/{PHONE_NUMBER_ID}", self._phone_number)
        return app

    async def _phone_number(self, request: web.Request) -> web.Response:
        """The health check: the phone number's record, with its quality rating."""
        if request.headers.get("Authorization") != f"Bearer {GRAPH_TOKEN}":
            return web.json_response({"error": {"message": "Invalid OAuth access token.", "code": 190}}, status=401)
        return web.json_response({"verified_name": "broadcastio e2e", "quality_rating": "GREEN", "id": PHONE_NUMBER_ID})

    async def _messages(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {GRAPH_TOKEN}":
            return web.json_response({"error": {"message": "Invalid OAuth access token.", "code": 190}}, status=401)
        body = await request.json()
        self.sends.append(body)
        wamid = f"wamid.E2E{next(self._ids)}"
        task = asyncio.get_running_loop().create_task(self._webhook(wamid, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                "messages": [{"id": wamid}],
            }
        )

    async def _webhook(self, wamid: str, body: dict[str, Any]) -> None:
        async with aiohttp.ClientSession() as session:
            for word, code in self.statuses:
                await asyncio.sleep(0.2)
                status: dict[str, Any] = {
                    "id": wamid,
                    "status": word,
                    "timestamp": str(int(time.time())),
                    "recipient_id": body.get("to"),
                    "biz_opaque_callback_data": body.get("biz_opaque_callback_data"),
                }
                if code is not None:
                    status["errors"] = [{"code": code, "title": "Message undeliverable"}]
                value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": PHONE_NUMBER_ID}}
                change = {"field": "messages", "value": {**value, "statuses": [status]}}
                raw = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "0", "changes": [change]}]})
                digest = hmac.new(APP_SECRET.encode(), raw.encode(), hashlib.sha256).hexdigest()
                headers = {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}
                async with session.post(self.webhook_url, data=raw.encode(), headers=headers) as reply:
                    self.answers.append(reply.status)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class World:
    """The config, the outbox, the fake Twilio and the child processes of one test."""

    def __init__(self, tmp_path: Path, twilio: Twilio, twilio_url: str, graph: Graph, graph_url: str) -> None:
        self.tmp_path = tmp_path
        self.twilio = twilio
        self.graph = graph
        self.port = free_port()
        self.receipts_url = f"http://127.0.0.1:{self.port}"
        self.outbox_path = tmp_path / "outbox.db"
        self.config = tmp_path / "broadcastio.toml"
        self.config.write_text(
            "[[providers]]\n"
            'name = "chat"\n'
            'type = "memory"\n'
            "[providers.settings]\n"
            'channel = "whatsapp"\n'
            "[[providers]]\n"
            'name = "texts"\n'
            'type = "sms"\n'
            "[providers.settings]\n"
            f'account_sid = "{ACCOUNT_SID}"\n'
            'auth_token = "${TWILIO_AUTH_TOKEN}"\n'
            f'from_number = "{FROM_NUMBER}"\n'
            f'base_url = "{twilio_url}"\n'
            f'receipts_base_url = "{self.receipts_url}"\n'
            "[[providers]]\n"
            'name = "wa"\n'
            'type = "whatsapp-cloud"\n'
            "[providers.settings]\n"
            f'phone_number_id = "{PHONE_NUMBER_ID}"\n'
            'access_token = "${WA_TOKEN}"\n'
            'app_secret = "${WA_APP_SECRET}"\n'
            'webhook_verify_token = "verify-e2e"\n'
            f'base_url = "{graph_url}"\n'
            "[[providers]]\n"
            'name = "backup"\n'
            'type = "memory"\n'
            "[providers.settings]\n"
            'channel = "sms"\n',
            encoding="utf-8",
        )
        self.env = {
            **os.environ,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "WA_TOKEN": GRAPH_TOKEN,
            "WA_APP_SECRET": APP_SECRET,
            "BROADCASTIO_PLUGINS": "sms,whatsapp",
        }
        graph.webhook_url = f"{self.receipts_url}/wa/webhook"
        self.processes: list[subprocess.Popen[str]] = []
        Outbox(self.outbox_path).close()

    def start(self, *args: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "broadcastio", *args]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env, cwd=self.tmp_path
        )
        self.processes.append(process)
        return process

    def serve_receipts(self) -> subprocess.Popen[str]:
        process = self.start(
            "receipts", "serve", "-c", str(self.config), "--outbox", str(self.outbox_path),
            "--port", str(self.port), "--public-url", self.receipts_url,
        )  # fmt: skip

        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"receipts serve exited {process.returncode}: {process.stderr.read()}")  # type: ignore[union-attr]
            try:
                return httpx.get(f"{self.receipts_url}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, 20, "receipts serve")
        return process

    def watcher(self, *args: str) -> subprocess.Popen[str]:
        return self.start("outbox", "watch", str(self.outbox_path), "-c", str(self.config), "--poll", "0.1", *args)

    def row(self) -> dict[str, Any]:
        conn = sqlite3.connect(self.outbox_path)
        conn.row_factory = sqlite3.Row
        try:
            found = conn.execute("SELECT * FROM outbox").fetchone()
            return dict(found)
        finally:
            conn.close()

    def escalations(self) -> list[tuple[str, str]]:
        conn = sqlite3.connect(self.outbox_path)
        try:
            return conn.execute("SELECT from_provider, reason FROM escalations").fetchall()
        finally:
            conn.close()

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    twilio, graph = Twilio(), Graph()
    with serve_app(twilio.app()) as url, serve_app(graph.app()) as graph_url:
        box = World(tmp_path, twilio, url, graph, graph_url)
        try:
            yield box
        finally:
            box.stop_all()


def journal(world: World, after: float | None = None) -> None:
    message = Message(recipient=Recipient(phone=PHONE), text="hi", metadata=Metadata(idempotency_key="order-1"))
    escalate = None if after is None else Escalation(after=dt.timedelta(seconds=after))
    with Outbox(world.outbox_path) as box:
        assert box.add([message], escalate=escalate) == 1


def test_an_undelivered_sms_goes_to_the_next_provider(world: World) -> None:
    """Twilio accepts, then reports ``undelivered`` (30003): the watcher sends it through ``backup``."""
    world.twilio.statuses = [("sent", None), ("undelivered", "30003")]
    server = world.serve_receipts()
    journal(world)
    watcher = world.watcher("--via", "texts,backup")
    wait_for(lambda: world.row()["provider"] == "backup" and world.row()["state"] == "sent", 30, "the fallback")
    assert len(world.twilio.sends) == 1
    assert world.escalations() == [("texts", "failed")]
    assert world.row()["error_code"] is None  # the second provider delivered it
    watcher.send_signal(signal.SIGTERM)
    stdout, _ = watcher.communicate(timeout=20)
    assert watcher.returncode == 143
    assert [line.split(" via ")[1] for line in stdout.splitlines() if line.startswith("sent ")] == [
        "texts: delivered",
        "backup: delivered",
    ]
    with Outbox(world.outbox_path) as box:
        history = [(entry.kind, entry.provider, entry.detail) for entry in box.history("order-1")]
    assert history == [
        ("receipt", "texts", "sent (recorded)"),
        ("receipt", "texts", "undelivered (recorded)"),
        ("escalation", "texts", "failed"),
    ]
    server.send_signal(signal.SIGTERM)
    out, err = server.communicate(timeout=20)
    assert server.returncode == 0, err
    lines = [line.split(" ") for line in out.splitlines() if line.startswith("receipt ")]
    assert [(provider, status, outcome) for _, provider, _, status, outcome in lines] == [
        ("texts", "sent", "recorded"),
        ("texts", "undelivered", "recorded"),
    ]
    assert all(message_id.startswith("SM") for _, _, message_id, _, _ in lines)
    assert f"recording in {world.outbox_path}" in err
    assert AUTH_TOKEN not in out + err
    assert PHONE not in out + err


def test_silence_escalates_once_across_a_killed_watcher(world: World) -> None:
    """chat accepts and stays silent; the watcher is SIGKILLed mid-window and restarted twice over:
    exactly one escalation to SMS, whose ``delivered`` receipt is recorded on the row."""
    world.serve_receipts()
    journal(world, after=2.0)
    first = world.watcher("--via", "chat,texts")
    wait_for(lambda: world.row()["state"] == "sent" and world.row()["escalate_at"] is not None, 30, "the first send")
    assert world.row()["provider"] == "chat"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert world.row()["escalate_at"] is not None  # the timer survived the crash
    assert world.twilio.sends == []
    second, third = world.watcher("--via", "chat,texts"), world.watcher("--via", "chat,texts")
    wait_for(lambda: world.row()["receipt_level"] == 2 and world.row()["provider"] == "texts", 30, "the SMS receipt")
    time.sleep(1.0)  # time enough for a second escalation, were there one
    assert len(world.twilio.sends) == 1
    assert world.escalations() == [("chat", "silence")]
    assert world.twilio.answers == [200, 200]
    for process in (second, third):
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        assert process.returncode == 130


def test_whatsapp_cloud_sent_but_never_delivered_escalates_to_sms(world: World) -> None:
    """Meta accepts and reports ``sent`` only: after the window the watcher escalates to SMS, once;
    the ``sent`` receipt did not cancel it (the escalation waits for ``delivered``)."""
    world.graph.statuses = [("sent", None)]
    world.serve_receipts()
    journal(world, after=1.5)
    watcher = world.watcher("--via", "wa,texts")
    wait_for(lambda: world.row()["receipt_level"] == 1 and world.row()["provider"] == "wa", 30, "Meta's sent")
    assert world.twilio.sends == []
    wait_for(lambda: world.row()["provider"] == "texts" and world.row()["receipt_level"] == 2, 30, "the SMS")
    time.sleep(1.0)
    assert (len(world.graph.sends), len(world.twilio.sends)) == (1, 1)
    assert world.escalations() == [("wa", "silence")]
    watcher.send_signal(signal.SIGTERM)
    watcher.communicate(timeout=20)
    assert watcher.returncode == 143


def test_a_delivered_receipt_cancels_the_escalation(world: World) -> None:
    """texts is delivered within the window: the timer is cancelled and backup is never used."""
    world.serve_receipts()
    journal(world, after=1.5)
    watcher = world.watcher("--via", "texts,backup")
    wait_for(lambda: world.row()["receipt_level"] == 2, 30, "the delivered receipt")
    assert world.row()["escalate_at"] is None
    time.sleep(2.0)  # past the window
    row = world.row()
    assert (row["state"], row["provider"], row["attempts"]) == ("sent", "texts", 1)
    assert world.escalations() == []
    watcher.send_signal(signal.SIGTERM)
    stdout, _ = watcher.communicate(timeout=20)
    assert [line for line in stdout.splitlines() if line.startswith("sent ")] == ["sent order-1 via texts: delivered"]


def test_a_failed_whatsapp_cloud_message_goes_by_sms(world: World) -> None:
    """Meta accepts (a wamid), then its webhook says ``failed`` (131026): the message goes by SMS
    through Twilio at once, and Twilio's ``delivered`` settles it."""
    world.serve_receipts()
    journal(world)
    watcher = world.watcher("--via", "wa,texts")
    wait_for(lambda: world.row()["provider"] == "texts" and world.row()["receipt_level"] == 2, 30, "the SMS")
    assert len(world.graph.sends) == 1
    assert world.graph.sends[0]["biz_opaque_callback_data"] == "order-1"
    assert len(world.twilio.sends) == 1
    assert world.graph.answers == [200, 200]
    assert world.escalations() == [("wa", "failed")]
    with Outbox(world.outbox_path) as box:
        history = [(entry.kind, entry.provider, entry.detail, entry.error_code) for entry in box.history("order-1")]
    assert history[:3] == [
        ("receipt", "wa", "sent (recorded)", None),
        ("receipt", "wa", "failed (recorded)", "whatsapp-cloud.131026"),
        ("escalation", "wa", "failed", None),
    ]
    watcher.send_signal(signal.SIGTERM)
    watcher.communicate(timeout=20)
    assert watcher.returncode == 143
