"""Recipient files (CSV or JSON lines) and message templates for ``broadcast``.

Columns ``phone``, ``email``, ``telegram`` and ``name`` make the
:class:`~broadcastio.Recipient`, ``address.<channel>`` columns add other
channels, ``reference_id`` and ``idempotency_key`` go to the
:class:`~broadcastio.Metadata`, and every column is a template field.
"""

from __future__ import annotations

import csv
import hashlib
import json
import string
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from broadcastio import Attachment, BroadcastioError, Message, Metadata, Recipient

__all__ = ["RecipientFile", "RowError", "Template", "detect_format"]

Format = Literal["csv", "jsonl"]
_ADDRESS_COLUMNS = ("phone", "email", "telegram")
_ADDRESS_PREFIX = "address."
_SUFFIXES: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


class RowError(BroadcastioError):
    """A recipient row that cannot become a message; names the file and row."""


def detect_format(path: Path, explicit: str | None) -> Format:
    """The file format: given explicitly, or from the file extension."""
    if explicit is not None:
        return "csv" if explicit == "csv" else "jsonl"
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise RowError(f"{path}: cannot tell the format from the extension; pass --format csv or --format jsonl")
    return found


class Template:
    """A ``str.format_map`` template whose missing fields name the row."""

    def __init__(self, option: str, text: str) -> None:
        self.option = option
        self.text = text
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise RowError(f"{option}: invalid template: {exc} (write '{{{{' and '}}}}' for literal braces)") from None
        for _, field_name, _, _ in parsed:
            if field_name is not None and (field_name == "" or field_name[0].isdigit()):
                raise RowError(f"{option}: template fields must be named, like {{name}}, not {{{field_name}}}")

    def render(self, fields: Mapping[str, Any], where: str) -> str:
        try:
            return self.text.format_map(fields)
        except KeyError as exc:
            known = ", ".join(sorted(fields)) or "none"
            raise RowError(
                f"{where}: {self.option} uses field {{{exc.args[0]}}} but the row has no such column (columns: {known})"
            ) from None
        except (AttributeError, IndexError, ValueError, TypeError) as exc:
            raise RowError(f"{where}: {self.option} cannot be rendered: {exc}") from None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value) if not isinstance(value, str) else value
    return text.strip() or None


class RecipientFile:
    """Reads a recipient file row by row and turns each row into a Message.

    Iterating twice reads the file twice: a first pass validates every row
    and counts them, the second streams messages, so memory stays flat.

    :param derive_keys: give rows without an ``idempotency_key`` a key derived
        from the row and the templates, so running the same broadcast again
        (with an outbox) finds the same keys and sends nothing twice.
    """

    def __init__(
        self,
        path: Path,
        fmt: Format,
        *,
        text: Template | None,
        subject: Template | None = None,
        html: Template | None = None,
        attachments: tuple[Attachment, ...] = (),
        derive_keys: bool = False,
    ) -> None:
        self.path = path
        self.format = fmt
        self.text = text
        self.subject = subject
        self.html = html
        self.attachments = attachments
        self.derive_keys = derive_keys

    def rows(self) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(row number, location for errors, fields) for every data row; rows count from 1."""
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as handle:
                if self.format == "csv":
                    reader = csv.DictReader(handle)
                    if not reader.fieldnames:
                        raise RowError(f"{self.path}: empty CSV file (the first line must name the columns)")
                    for number, row in enumerate(reader, start=1):
                        if None in row:
                            raise RowError(f"{self.path}:{reader.line_num} (row {number}): more values than columns")
                        yield number, f"{self.path}:{reader.line_num} (row {number})", dict(row)
                else:
                    number = 0
                    for line_number, line in enumerate(handle, start=1):
                        if not line.strip():
                            continue
                        number += 1
                        where = f"{self.path}:{line_number} (row {number})"
                        try:
                            row = json.loads(line)
                        except json.JSONDecodeError as exc:
                            raise RowError(f"{where}: invalid JSON: {exc.msg}") from None
                        if not isinstance(row, dict):
                            raise RowError(f"{where}: each line must be a JSON object, got {type(row).__name__}")
                        yield number, where, row
        except OSError as exc:
            raise RowError(f"{self.path}: cannot read recipients: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise RowError(f"{self.path}: not UTF-8 text: {exc}") from None

    def message(self, number: int, where: str, row: Mapping[str, Any]) -> Message:
        """The message for one row; RowError names the row when it cannot be built."""
        fields = {str(key): ("" if value is None else value) for key, value in row.items()}
        addresses = {
            key[len(_ADDRESS_PREFIX) :]: text
            for key, value in row.items()
            if str(key).startswith(_ADDRESS_PREFIX) and (text := _text(value))
        }
        try:
            recipient = Recipient(
                phone=_text(row.get("phone")),
                email=_text(row.get("email")),
                telegram=_text(row.get("telegram")),
                addresses=addresses,
                name=_text(row.get("name")),
            )
            rendered = {
                name: template.render(fields, where) if template is not None else None
                for name, template in (("text", self.text), ("subject", self.subject), ("html", self.html))
            }
            key = _text(row.get("idempotency_key"))
            if key is None and self.derive_keys:
                key = self._derived_key(number, row)
            reference_id = _text(row.get("reference_id"))
            if key is None:
                metadata = Metadata(reference_id=reference_id)
            else:
                metadata = Metadata(reference_id=reference_id, idempotency_key=key)
            return Message(
                recipient=recipient,
                text=rendered["text"] or "",
                subject=rendered["subject"],
                html=rendered["html"],
                attachments=self.attachments,
                metadata=metadata,
            )
        except RowError:
            raise
        except BroadcastioError as exc:
            raise RowError(f"{where}: {exc}") from None

    def _derived_key(self, number: int, row: Mapping[str, Any]) -> str:
        digest = hashlib.sha256()
        parts = [str(number), json.dumps(row, sort_keys=True, default=str)]
        parts += [t.text if t is not None else "" for t in (self.text, self.subject, self.html)]
        parts += [a.filename + hashlib.sha256(a.content).hexdigest() for a in self.attachments]
        for part in parts:
            digest.update(part.encode())
            digest.update(b"\0")
        return f"bcast-{digest.hexdigest()[:40]}"

    def validate(self) -> int:
        """Build every row's message once, raising on the first bad row; returns the count."""
        count = 0
        for number, where, row in self.rows():
            self.message(number, where, row)
            count += 1
        return count

    def messages(self) -> Iterator[tuple[int, Message]]:
        """(row number, message) for every row, read lazily."""
        for number, where, row in self.rows():
            yield number, self.message(number, where, row)
