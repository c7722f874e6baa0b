"""What the two local peers recorded, as rich tables: the fake WhatsApp driver and the SMTP inbox."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from broadcastio_email import IDEMPOTENCY_HEADER
from inbox import ReceivedMail
from rich.table import Table

__all__ = ["inbox_table", "whatsapp_table"]


def _excerpt(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def whatsapp_table(records: Sequence[Mapping[str, Any]]) -> Table:
    """node-whatsapp's ``GET /_fake/sent``: what the fake driver would have sent to WhatsApp."""
    table = Table(title="node-whatsapp fake driver: GET /_fake/sent", title_justify="left")
    table.add_column("WhatsApp message id")
    table.add_column("chat")
    table.add_column("text")
    table.add_column("media")
    for record in records:
        media = record.get("media")
        table.add_row(
            str(record.get("id")),
            str(record.get("to")),
            _excerpt(str(record.get("text", ""))),
            "-" if not media else f"{media.get('filename')} ({media.get('bytes')} bytes)",
        )
    return table


def inbox_table(mails: Sequence[ReceivedMail]) -> Table:
    """The local SMTP server's mailbox, one block per message: envelope, headers and a body excerpt."""
    table = Table(title=f"local SMTP server: {len(mails)} message(s) received", title_justify="left", show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for index, mail in enumerate(mails, 1):
        fields = (
            ("MAIL FROM", mail.mail_from),
            ("RCPT TO", ", ".join(mail.rcpt_tos)),
            ("From", str(mail.message["From"])),
            ("To", str(mail.message["To"])),
            ("Subject", str(mail.message["Subject"])),
            ("body", _excerpt(mail.body, 80)),
            (IDEMPOTENCY_HEADER, str(mail.message[IDEMPOTENCY_HEADER])),
        )
        table.add_row(str(index), "\n".join(name for name, _ in fields), "\n".join(value for _, value in fields))
    return table
