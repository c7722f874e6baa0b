"""The file provider: JSON lines on disk, honest health."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from broadcastio import Attachment, ConfigurationError, FileProvider, Message, Metadata


async def test_appends_one_json_line_per_message(tmp_path: Path) -> None:
    """Each send appends a line with the message and its address, flushed to disk."""
    provider = FileProvider("outbox", "email", directory=tmp_path)
    attachment = Attachment(filename="a.txt", content=b"hello", mime_type="text/plain")
    first = await provider.send(
        Message(
            recipient="x", text="one", subject="S", attachments=(attachment,), metadata=Metadata(reference_id="r1")
        ),
        "a@example.com",
    )
    second = await provider.send(Message(recipient="x", text="two"), "b@example.com")
    await provider.aclose()
    lines = [json.loads(line) for line in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    assert [line["to"] for line in lines] == ["a@example.com", "b@example.com"]
    assert lines[0]["attachments"] == [{"filename": "a.txt", "mime_type": "text/plain", "size": 5}]
    assert lines[0]["reference_id"] == "r1"
    assert (first.provider_message_id, second.provider_message_id) == ("outbox-1", "outbox-2")


async def test_unwritable_folder_is_unhealthy_and_a_transient_failure(tmp_path: Path) -> None:
    """A folder that cannot be written gives an unhealthy check and a returned failure."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    provider = FileProvider("outbox", directory=blocker / "sub")
    health = await provider.health()
    result = await provider.send(Message(recipient="x", text="hi"), "x")
    assert not health.healthy
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.error_class == "transient"


def test_name_must_be_a_file_name() -> None:
    """A provider name with a path separator is refused."""
    with pytest.raises(ConfigurationError, match="file name"):
        FileProvider("../escape")
