"""The demo's story: WhatsApp first, email as the fallback, both on real local peers.

Each step says what it does; the traces, what the peers recorded and the
checks are rich tables, and the orchestrator's events are structlog lines.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import structlog
from broadcastio import HealthPolicy, Message, Metadata, Orchestrator, Recipient, RetryPolicy
from broadcastio.logs import LoggingHooks
from broadcastio.testing import isolated_plugin_manager
from broadcastio_email import IDEMPOTENCY_HEADER, EmailProvider
from broadcastio_whatsapp import WhatsAppProvider
from broadcastio_whatsapp.testing import NodeWhatsAppProcess, ensure_installed, find_service_dir
from inbox import LocalSmtpServer
from received import inbox_table, whatsapp_table
from rich.console import Console
from rich.table import Table
from rich.text import Text
from trace_table import render_trace

__all__ = ["run"]

_log = structlog.get_logger("demo")

PHONE = "+15550100001"
EMAIL = "alice@example.org"
SENDER = "broadcastio demo <alerts@example.com>"
RETRY = RetryPolicy(max_attempts=3, backoff="exponential", base_delay=0.2, max_delay=2.0)
# Health is checked before every send (the default caches an answer for 30 s),
# so the change of WhatsApp state between the two messages is seen at once.
HEALTH = HealthPolicy(ttl=0.0, timeout=2.0)


@dataclass
class Checks:
    """The outcomes the demo expects, each with whether it happened."""

    rows: list[tuple[str, bool, str]] = field(default_factory=list)

    def expect(self, what: str, ok: bool, detail: str = "") -> None:
        self.rows.append((what, ok, detail))
        (_log.info if ok else _log.error)("demo.check", expected=what, ok=ok)

    @property
    def passed(self) -> bool:
        return bool(self.rows) and all(ok for _, ok, _ in self.rows)

    def table(self) -> Table:
        table = Table(title="expected outcomes", title_justify="left")
        table.add_column("")
        table.add_column("expected")
        table.add_column("observed", overflow="fold")
        for what, ok, detail in self.rows:
            table.add_row(Text("PASS", style="bold green") if ok else Text("FAIL", style="bold red"), what, detail)
        return table


def _setup_table(whatsapp: WhatsAppProvider, mail: EmailProvider, smtp: LocalSmtpServer) -> Table:
    table = Table(title="Orchestrator providers, in fallback order", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("provider")
    table.add_column("channel")
    table.add_column("talks to")
    table.add_column("note", overflow="fold")
    table.add_row(
        "1", whatsapp.name, whatsapp.channel, whatsapp.base_url, "node-whatsapp, fake driver (no WhatsApp account)"
    )
    table.add_row(
        "2",
        mail.name,
        mail.channel,
        f"smtp://{smtp.host}:{smtp.port}",
        Text("tls='none': plain SMTP, only because this is a local demo server (the default is STARTTLS)", "yellow"),
    )
    return table


def _start_peers(console: Console, stack: contextlib.ExitStack) -> tuple[NodeWhatsAppProcess, LocalSmtpServer]:
    service_dir = find_service_dir()
    if not (service_dir / "node_modules").is_dir():
        _log.info("demo.npm_ci", folder=str(service_dir), why="node_modules is missing (first run only)")
        with console.status("npm ci in node-whatsapp (first run only) ..."):
            ensure_installed(service_dir)
        _log.info("demo.npm_ci_done")
    wa = NodeWhatsAppProcess(state="ready", send_timeout_ms=5000)
    stack.callback(_log.info, "demo.stopped", what="node-whatsapp")
    stack.enter_context(wa)
    _log.info("demo.started", peer="node-whatsapp", driver="fake", url=wa.base_url, folder=str(service_dir))
    smtp = LocalSmtpServer()
    stack.callback(_log.info, "demo.stopped", what="smtp-server")
    stack.enter_context(smtp)
    _log.info("demo.started", peer="smtp-server", url=f"smtp://{smtp.host}:{smtp.port}", tls="none")
    return wa, smtp


def run(console: Console) -> bool:
    """Run the story; True when every expected outcome happened. Stops what it started, whatever happens."""
    checks = Checks()
    recipient = Recipient(phone=PHONE, email=EMAIL, name="Alice")
    first_message = Message(
        recipient=recipient,
        subject="Disk alert on db-1",
        text="db-1: /var is 91% full. Clean up or grow the volume.",
        metadata=Metadata(reference_id="alert-1"),
    )
    second_message = Message(
        recipient=recipient,
        subject="Disk alert on db-1 resolved",
        text="db-1: /var is back to 60%.",
        metadata=Metadata(reference_id="alert-2"),
    )
    with contextlib.ExitStack() as stack:
        console.rule("1. Start the local peers")
        wa, smtp = _start_peers(console, stack)

        console.rule("2. Build the orchestrator")
        whatsapp = WhatsAppProvider(base_url=wa.base_url, token=wa.token, timeout=5)
        mail = EmailProvider(
            host=smtp.host, port=smtp.port, tls="none", from_address=SENDER, local_hostname="demo.localhost"
        )
        orchestrator = Orchestrator(
            [whatsapp, mail],
            retry=RETRY,
            health=HEALTH,
            hooks=[LoggingHooks()],
            plugin_manager=isolated_plugin_manager(),
        )
        stack.callback(_log.info, "demo.stopped", what="orchestrator", detail="providers closed")
        stack.enter_context(orchestrator)
        console.print(_setup_table(whatsapp, mail, smtp))
        console.print(
            f"retry: up to {RETRY.max_attempts} attempts per provider, {RETRY.backoff} backoff from "
            f"{RETRY.base_delay:g} s, capped at {RETRY.max_delay:g} s, Retry-After respected\n"
            "health: checked before every send (ttl 0 for the demo; the default keeps an answer 30 s)"
        )

        console.rule("3. Message 1 while WhatsApp is not ready")
        wa.set_state("qr")
        _log.info("demo.whatsapp_state", state=wa.status()["state"], meaning="waiting for a QR scan, cannot send")
        first = orchestrator.send(first_message, trace=True)
        console.print(render_trace("message 1", first))
        skipped = [(s.provider, s.reason) for s in first.trace.skipped] if first.trace else []
        checks.expect(
            "message 1 delivered by email",
            first.ok and first.provider == "email",
            f"{first.status} by {first.provider}",
        )
        checks.expect(
            "message 1: whatsapp skipped as unhealthy", ("whatsapp", "unhealthy") in skipped, f"skipped: {skipped}"
        )
        checks.expect("message 1: nothing sent on WhatsApp", not wa.sent(), f"{len(wa.sent())} WhatsApp message(s)")

        console.rule("4. Message 2 once WhatsApp is ready")
        wa.set_state("ready")
        wa.script({"type": "fail", "code": "RATE_LIMITED", "retryAfterSec": 1})
        _log.info(
            "demo.whatsapp_state",
            state=wa.status()["state"],
            scripted="the fake driver answers RATE_LIMITED (Retry-After 1 s) once, then accepts",
        )
        second = orchestrator.send(second_message, trace=True)
        console.print(render_trace("message 2", second))
        sent = wa.sent()
        console.print(whatsapp_table(sent))
        attempts = second.trace.attempts if second.trace else ()
        codes = [f"{a.provider}: {a.error.code if a.error else 'delivered'}" for a in attempts]
        checks.expect(
            "message 2 delivered by whatsapp",
            second.ok and second.provider == "whatsapp",
            f"{second.status} by {second.provider}",
        )
        checks.expect(
            "message 2: retried after RATE_LIMITED",
            codes == ["whatsapp: whatsapp.RATE_LIMITED", "whatsapp: delivered"],
            f"attempts: {codes}",
        )
        checks.expect(
            "fake WhatsApp recorded message 2 once",
            len(sent) == 1 and sent[0]["id"] == second.provider_message_id and sent[0]["text"] == second_message.text,
            f"{len(sent)} record(s), to {sent[0]['to'] if sent else '-'}",
        )

        console.rule("5. What the SMTP server received")
        received = smtp.received
        console.print(inbox_table(received))
        keys = [mail_.message[IDEMPOTENCY_HEADER] for mail_ in received]
        checks.expect(
            "SMTP server got message 1 once, with its idempotency key",
            keys == [first.idempotency_key] and received[0].rcpt_tos == (EMAIL,),
            f"{len(received)} message(s), keys {keys}",
        )

        console.rule("6. Stop everything")
    console.print(checks.table())
    return checks.passed
