"""Recipient files (CSV or JSON lines) and message templates for ``broadcast``.

Columns ``phone``, ``email``, ``telegram`` and ``name`` make the
:class:`~broadcastio.Recipient`, ``address.<channel>`` columns add other
channels, ``reference_id`` and ``idempotency_key`` go to the
:class:`~broadcastio.Metadata`, and every column is a template field.

Files come from outside, so reading is bounded: a line over
:data:`MAX_LINE_CHARS`, a CSV field over :data:`MAX_FIELD_CHARS`, JSON nested
deeper than :data:`MAX_JSON_DEPTH` or an integer too long to convert is a
:class:`RowError` naming the line, never a Python traceback.
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
_KNOWN_COLUMNS = frozenset({*_ADDRESS_COLUMNS, "name", "reference_id", "idempotency_key"})

MAX_LINE_CHARS = 1024 * 1024
"""The longest JSON line read (1 MiB): a recipient is a few hundred characters."""
MAX_FIELD_CHARS = csv.field_size_limit()
"""The longest CSV field read (the csv module's limit, 128 KiB)."""
MAX_JSON_DEPTH = 16
"""JSON values nested deeper than this are refused."""


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
        self.fields: frozenset[str] = frozenset()
        names = set()
        for _, field_name, _, _ in parsed:
            if field_name is not None and (field_name == "" or field_name[0].isdigit()):
                raise RowError(f"{option}: template fields must be named, like {{name}}, not {{{field_name}}}")
            if field_name is not None:
                names.add(field_name.split(".")[0].split("[")[0])
        self.fields = frozenset(names)

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


def _check_value(value: Any, where: str) -> None:
    """Refuse JSON nested deeper than MAX_JSON_DEPTH and strings that are not valid Unicode."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise RowError(f"{where}: a string holds an unpaired surrogate escape (\\ud800-\\udfff)") from None
        elif isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise RowError(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)


def _csv_fieldnames(path: Path, names: list[str]) -> list[str]:
    """The header, refused when a column has no name, is repeated, or is an ``address.`` without a channel."""
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        label = name.strip()
        if not label:
            raise RowError(f"{path}:1: column {position} of the header has no name")
        if label in seen:
            raise RowError(f"{path}:1: column {label!r} appears twice in the header")
        if label == _ADDRESS_PREFIX.rstrip(".") or label == _ADDRESS_PREFIX:
            raise RowError(f"{path}:1: column {label!r} needs a channel, like 'address.webhook'")
        seen.add(label)
    return [name.strip() for name in names]


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
        self._unknown: list[str] = []

    def rows(self) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(row number, location for errors, fields) for every data row; rows count from 1."""
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as handle:
                if self.format == "csv":
                    yield from self._csv_rows(handle)
                else:
                    yield from self._jsonl_rows(handle)
        except OSError as exc:
            raise RowError(f"{self.path}: cannot read recipients: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise RowError(f"{self.path}: not UTF-8 text: {exc}") from None

    def _csv_rows(self, handle: Any) -> Iterator[tuple[int, str, dict[str, Any]]]:
        reader = csv.DictReader(handle)
        number = 0
        try:
            if not reader.fieldnames:
                raise RowError(f"{self.path}: empty CSV file (the first line must name the columns)")
            reader.fieldnames = _csv_fieldnames(self.path, list(reader.fieldnames))
            self._check_columns(reader.fieldnames, f"{self.path}:1")
            for number, row in enumerate(reader, start=1):
                where = f"{self.path}:{reader.line_num} (row {number})"
                if None in row:
                    raise RowError(f"{where}: more values than columns")
                if any(value is None for value in row.values()):
                    missing = [key for key, value in row.items() if value is None]
                    raise RowError(f"{where}: fewer values than columns (no value for {', '.join(missing)})")
                yield number, where, dict(row)
        except csv.Error as exc:  # a field over MAX_FIELD_CHARS, a NUL byte, an unclosed quote
            raise RowError(f"{self.path}:{reader.line_num + 1} (row {number + 1}): unreadable CSV: {exc}") from None

    def _jsonl_rows(self, handle: Any) -> Iterator[tuple[int, str, dict[str, Any]]]:
        number = 0
        line_number = 0
        while line := handle.readline(MAX_LINE_CHARS + 1):
            line_number += 1
            if len(line) > MAX_LINE_CHARS:
                raise RowError(f"{self.path}:{line_number}: line longer than {MAX_LINE_CHARS} characters")
            if not line.strip():
                continue
            number += 1
            where = f"{self.path}:{line_number} (row {number})"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RowError(f"{where}: invalid JSON: {exc.msg}") from None
            except RecursionError:
                raise RowError(f"{where}: JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
            except ValueError as exc:  # e.g. an integer over Python's 4,300-digit conversion limit
                raise RowError(f"{where}: unreadable JSON value: {exc}") from None
            if not isinstance(row, dict):
                raise RowError(f"{where}: each line must be a JSON object, got {type(row).__name__}")
            _check_value(row, where)
            if number == 1:
                self._check_columns(list(row), where)
            yield number, where, row

    def _check_columns(self, columns: list[str], where: str) -> None:
        """Remember the columns nothing reads, to name them when a row turns out wrong."""
        used = set().union(*(t.fields for t in (self.text, self.subject, self.html) if t is not None))
        self._unknown = [
            column
            for column in columns
            if column not in _KNOWN_COLUMNS and not column.startswith(_ADDRESS_PREFIX) and column not in used
        ]

    def _hint(self) -> str:
        unknown = self._unknown
        if not unknown:
            return ""
        known = ", ".join(sorted(_KNOWN_COLUMNS))
        return (
            f" (columns not understood: {', '.join(map(repr, unknown))}; known columns are {known}, "
            "address.<channel> and the template fields)"
        )

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
        except RowError as exc:
            raise RowError(f"{exc}{self._hint()}") from None
        except BroadcastioError as exc:
            raise RowError(f"{where}: {exc}{self._hint()}") from None

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
