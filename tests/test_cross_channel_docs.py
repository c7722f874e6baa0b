"""docs/cross-channel.md runs as written, against local FCM (with its token endpoint), Slack and SendGrid.

The page's blocks marked ``<!-- test: cross-channel -->`` are run here, in
order, in one empty folder (``tests/test_docs.py`` only compiles them: they
need servers): the ```python block in a fresh interpreter, whose output must
equal the ``<!-- test: output -->`` block after it, and the ```console
session step by step, as ``tests/test_docs.py`` runs sessions. The
environment holds what a user would set: the service-account key file
(``GOOGLE_APPLICATION_CREDENTIALS``, made here with ``cryptography``, its
``token_uri`` on the local Google), the Slack bot token, the SendGrid key and
the three base URLs. Further tests check that the outcome comes from the
services' answers: Slack delivers when it is not rate limited, a throttled
Slack is skipped by the next message, and a refused credential keeps its
provider out.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("broadcastio_fcm")
pytest.importorskip("broadcastio_slack")
pytest.importorskip("broadcastio_sendgrid")
pytest.importorskip("cryptography")

from broadcastio.testing.servers import serve_app
from cryptography.hazmat.primitives.asymmetric import rsa

HERE = Path(__file__).resolve().parent
PAGE = HERE.parent / "docs" / "cross-channel.md"
MARKER = "<!-- test: cross-channel -->"


def _load(name: str, path: Path) -> ModuleType:
    """A module of this folder (the suite runs with --import-mode=importlib, so not importable by name)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


fakes = _load("_docs_fakes", HERE / "_docs_fakes.py")
docs = _load("_docs_page_tests", HERE / "test_docs.py")  # its block parser and session rules


@dataclass
class Services:
    google: Any
    slack: Any
    sendgrid: Any
    env: dict[str, str]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """The three fakes on 127.0.0.1, and the environment a user would set for them."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    google, slack, sendgrid = fakes.FakeGoogle(key), fakes.FakeSlack(), fakes.FakeSendGrid()
    slack.limited_for = 120  # the app is over Slack's rate limit for the next two minutes
    with ExitStack() as stack:
        google_url = stack.enter_context(serve_app(google.app()))
        slack_url = stack.enter_context(serve_app(slack.app()))
        sendgrid_url = stack.enter_context(serve_app(sendgrid.app()))
        key_file = tmp_path.parent / f"{tmp_path.name}-firebase-key.json"
        key_file.write_text(json.dumps(fakes.service_account_key(key, f"{google_url}/token")), encoding="utf-8")
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "GOOGLE_APPLICATION_CREDENTIALS": str(key_file),
            "FCM_BASE_URL": google_url,
            "SLACK_BOT_TOKEN": fakes.SLACK_TOKEN,
            "SLACK_API_URL": f"{slack_url}/api",
            "SENDGRID_API_KEY": fakes.SENDGRID_KEY,
            "SENDGRID_BASE_URL": sendgrid_url,
        }
        env.pop("BROADCASTIO_CONFIG", None)
        yield Services(google, slack, sendgrid, env)


def marked(blocks: list[Any]) -> list[int]:
    """Indexes of the blocks right after a ``<!-- test: cross-channel -->`` line."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    return [index for index, block in enumerate(blocks) if lines[block.line - 2].strip() == MARKER]


def run_python(code: str, services: Services, folder: Path) -> subprocess.CompletedProcess[str]:
    """The example in a fresh interpreter, in ``folder``, with the services' environment."""
    return subprocess.run(
        [sys.executable, "-"],
        input=code,
        capture_output=True,
        text=True,
        cwd=folder,
        env=services.env,
        timeout=60,
        check=False,
    )


def test_the_page_has_its_runnable_blocks() -> None:
    """The page has the python example with its output, then a CLI session, all marked to run here."""
    blocks = docs.blocks_of(PAGE)
    indexes = marked(blocks)
    assert [blocks[index].language for index in indexes] == ["python", "console"]
    assert blocks[indexes[0] + 1].marker == docs.OUTPUT


def test_the_cross_channel_page_runs(services: Services, tmp_path: Path) -> None:
    """Push fails for good, Slack is rate limited, SendGrid delivers: in Python and from the CLI."""
    blocks = docs.blocks_of(PAGE)
    to_run = marked(blocks)
    for index, block in enumerate(blocks):
        file_marker = docs.FILE_MARKER.match(block.marker or "")
        if file_marker:
            (tmp_path / file_marker.group(1)).write_text(block.code, encoding="utf-8")
        if index not in to_run:
            continue
        where = f"docs/{block.page}:{block.line}"
        if block.language == "python":
            done = run_python(block.code, services, tmp_path)
            assert done.returncode == 0, f"{where} failed:\n{done.stderr}"
            expected = blocks[index + 1]
            assert done.stdout.strip() == expected.code.strip(), f"{where} printed:\n{done.stdout}"
            continue
        for command, status, output in docs.console_steps(block.code):
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=tmp_path,
                env=services.env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            step = f"{where}: $ {command}"
            assert done.returncode == status, f"{step} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            assert docs.output_matches(output, done.stdout), f"{step} printed:\n{done.stdout}"

    # What the services received: each send reached FCM and SendGrid (when it had an email address).
    assert len(services.google.sent) == 3
    assert services.google.sent[0]["message"]["notification"] == {"title": "db-1", "body": "Disk 97% full on db-1"}
    assert services.slack.posted == []
    mails = services.sendgrid.received
    assert [mail["personalizations"][0]["to"] for mail in mails] == [[{"email": "ada@example.org"}]] * 2
    assert mails[0]["subject"] == "db-1"


def test_slack_delivers_when_it_is_not_rate_limited(services: Services, tmp_path: Path) -> None:
    """The same example stops at Slack once Slack takes the post: the fallback really depends on the answers."""
    services.slack.limited_for = 0
    blocks = docs.blocks_of(PAGE)
    done = run_python(blocks[marked(blocks)[0]].code, services, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "delivered slack 1767225600.000001",
        "fcm try 1: permanent invalid_recipient",
        "slack try 1: ok",
    ]
    assert services.sendgrid.received == []
    assert services.slack.posted[0]["channel"] == "C0123ABCDEF"


def test_slack_is_skipped_while_it_asked_to_wait(services: Services) -> None:
    """As the page says: after Slack's 429 with a long Retry-After, the next message skips Slack (throttled)."""
    from broadcastio import Message, Orchestrator, Recipient, RetryPolicy
    from broadcastio_fcm import FcmProvider
    from broadcastio_sendgrid import SendGridProvider
    from broadcastio_slack import SlackProvider

    env = services.env
    providers = [
        FcmProvider(service_account_file=env["GOOGLE_APPLICATION_CREDENTIALS"], base_url=env["FCM_BASE_URL"]),
        SlackProvider(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"]),
        SendGridProvider(
            api_key=env["SENDGRID_API_KEY"], from_address="alerts@example.com", base_url=env["SENDGRID_BASE_URL"]
        ),
    ]
    ada = Recipient(
        email="ada@example.org", addresses={"push": "fYx9kL2mQ3S0:APA91bHqL8dKz0a1", "slack": "C0123ABCDEF"}
    )
    with Orchestrator(providers, retry=RetryPolicy(max_attempts=3)) as orchestrator:
        first = orchestrator.send(Message(recipient=ada, subject="db-1", text="one"), trace=True)
        second = orchestrator.send(Message(recipient=ada, subject="db-1", text="two"), trace=True)
    assert first.trace is not None
    assert second.trace is not None
    assert [attempt.provider for attempt in first.trace.attempts] == ["fcm", "slack", "sendgrid"]
    assert [attempt.provider for attempt in second.trace.attempts] == ["fcm", "sendgrid"]
    assert [(skip.provider, skip.reason) for skip in second.trace.skipped] == [("slack", "throttled")]
    assert (first.provider, second.provider) == ("sendgrid", "sendgrid")


@pytest.mark.parametrize("service", ["fcm", "slack", "sendgrid"])
def test_a_refused_credential_keeps_that_provider_out(service: str, services: Services, tmp_path: Path) -> None:
    """The fakes check credentials: a wrong key or token makes the provider unhealthy, so it is never called."""
    env = services.env
    if service == "fcm":  # a key the service account does not have: the token endpoint refuses the JWT
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_file = tmp_path / "other-key.json"
        key_file.write_text(json.dumps(fakes.service_account_key(other, f"{env['FCM_BASE_URL']}/token")))
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(key_file)
    elif service == "slack":
        env["SLACK_BOT_TOKEN"] = "xoxb-1234567890-0987654321-WrongWrongWrongWrongWron"
    else:
        env["SENDGRID_API_KEY"] = "SG.wrong-key-id.0000000000000000"
    blocks = docs.blocks_of(PAGE)
    done = run_python(blocks[marked(blocks)[0]].code, services, tmp_path)
    assert done.returncode == 0, done.stderr
    tried = [line.split(" try ")[0] for line in done.stdout.splitlines()[1:]]
    assert tried == [name for name in ("fcm", "slack", "sendgrid") if name != service]
    assert len(services.google.sent) == (0 if service == "fcm" else 1)
    assert len(services.sendgrid.received) == (0 if service == "sendgrid" else 1)
