"""Models: validation on construction, JSON round trips, safe reprs."""

from __future__ import annotations

import pytest
from broadcastio import (
    DEFAULT_MAX_ATTACHMENT_BYTES,
    Attachment,
    DeliveryError,
    DeliveryResult,
    ErrorClass,
    ErrorCode,
    InvalidMessageError,
    Message,
    Metadata,
    Recipient,
    decode_result,
    encode_result,
)
from broadcastio.testing import strategies
from hypothesis import given


class TestRecipient:
    def test_phone_serves_whatsapp_and_sms(self) -> None:
        """One phone number is the address on both phone channels."""
        recipient = Recipient(phone="+15550100", email="a@example.com")
        assert recipient.address_for("whatsapp") == "+15550100"
        assert recipient.address_for("sms") == "+15550100"
        assert recipient.address_for("email") == "a@example.com"
        assert recipient.address_for("telegram") is None

    def test_addresses_add_and_override_channels(self) -> None:
        """Named addresses serve other channels and override the phone for one."""
        recipient = Recipient(phone="+15550100", addresses={"whatsapp": "123@g.us", "webhook": "ops"})
        assert recipient.address_for("whatsapp") == "123@g.us"
        assert recipient.address_for("sms") == "+15550100"
        assert recipient.address_for("webhook") == "ops"

    def test_needs_an_address(self) -> None:
        """A recipient without any address is refused, saying so."""
        with pytest.raises(InvalidMessageError, match="at least one address"):
            Recipient(name="nobody")

    def test_refuses_newlines(self) -> None:
        """Header injection through an address is refused at construction."""
        with pytest.raises(InvalidMessageError, match=r"Recipient\.email"):
            Recipient(email="a@example.com\r\nBcc: x@example.com")


class TestMessage:
    def test_bare_string_recipient_serves_every_channel(self) -> None:
        """A bare address string is used whatever the channel."""
        message = Message(recipient="+15550100", text="hi")
        assert message.address_for("sms") == "+15550100"
        assert message.address_for("anything") == "+15550100"

    def test_idempotency_key_is_generated_and_unique(self) -> None:
        """Every message gets its own idempotency key when none is given."""
        first, second = Message(recipient="x", text="a"), Message(recipient="x", text="a")
        assert first.idempotency_key
        assert first.idempotency_key != second.idempotency_key

    def test_given_idempotency_key_is_kept(self) -> None:
        """A caller's idempotency key is used as is."""
        message = Message(recipient="x", text="a", metadata=Metadata(idempotency_key="order-42"))
        assert message.idempotency_key == "order-42"

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"recipient": "", "text": "a"}, "recipient"),
            ({"recipient": "x", "text": ""}, "needs text"),
            ({"recipient": "x", "text": "a", "subject": "a\nb"}, "subject"),
            ({"recipient": 42, "text": "a"}, "Recipient or a string"),
        ],
    )
    def test_invalid_messages_are_refused(self, kwargs: dict[str, object], match: str) -> None:
        """Bad input raises InvalidMessageError naming the field."""
        with pytest.raises(InvalidMessageError, match=match):
            Message(**kwargs)  # type: ignore[arg-type]

    def test_attachments_list_becomes_tuple(self) -> None:
        """Attachments given as a list are stored as a tuple (frozen model)."""
        attachment = Attachment(filename="a.txt", content=b"x", mime_type="text/plain")
        message = Message(recipient="x", text="", attachments=[attachment])  # type: ignore[arg-type]
        assert message.attachments == (attachment,)

    def test_priority_is_checked(self) -> None:
        """Only the three priorities exist."""
        with pytest.raises(InvalidMessageError, match="priority"):
            Metadata(priority="urgent")  # type: ignore[arg-type]


class TestAttachment:
    def test_from_path_reads_and_guesses_type(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """Core reads a file and guesses its MIME type from the name."""
        path = tmp_path / "report.pdf"
        path.write_bytes(b"%PDF-1.4")
        attachment = Attachment.from_path(path)
        assert attachment.filename == "report.pdf"
        assert attachment.mime_type == "application/pdf"
        assert attachment.content == b"%PDF-1.4"

    def test_from_path_enforces_the_size_limit(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """A file over the limit is refused before it is read."""
        path = tmp_path / "big.bin"
        path.write_bytes(b"x" * 11)
        with pytest.raises(InvalidMessageError, match="over the 10-byte limit"):
            Attachment.from_path(path, max_bytes=10)

    def test_missing_file(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """A path that is not a file is named in the error."""
        with pytest.raises(InvalidMessageError, match="missing.txt"):
            Attachment.from_path(tmp_path / "missing.txt")

    def test_filename_cannot_carry_a_path(self) -> None:
        """Path separators in a file name are refused."""
        with pytest.raises(InvalidMessageError, match="bare file name"):
            Attachment(filename="../etc/passwd", content=b"")

    def test_content_limit(self) -> None:
        """Content over the global limit is refused."""
        with pytest.raises(InvalidMessageError, match="limit"):
            Attachment(filename="a", content=b"x" * (DEFAULT_MAX_ATTACHMENT_BYTES + 1))

    def test_repr_hides_content(self) -> None:
        """The repr shows the size, not the bytes."""
        assert "size=6" in repr(Attachment(filename="a.txt", content=b"secret"))
        assert "secret" not in repr(Attachment(filename="a.txt", content=b"secret"))


class TestResults:
    def test_failure_status_follows_the_error_class(self) -> None:
        """An ambiguous failure is 'unknown', the others 'failed'."""
        assert DeliveryResult.failure(DeliveryError.ambiguous("timeout", "t")).status == "unknown"
        assert DeliveryResult.failure(DeliveryError.transient("x", "t")).status == "failed"
        assert DeliveryResult.success("id").ok

    def test_error_class_encodes_as_class(self) -> None:
        """The error class is spelled 'class' in JSON."""
        result = DeliveryResult.failure(DeliveryError.permanent(ErrorCode.REJECTED, "no"))
        assert b'"class":"permanent"' in encode_result(result)

    @given(strategies.delivery_results)
    def test_result_with_trace_round_trips(self, result: DeliveryResult) -> None:
        """A result with its trace encodes to JSON and decodes back equal."""
        assert decode_result(encode_result(result)) == result

    @given(strategies.messages)
    def test_generated_messages_are_valid(self, message: Message) -> None:
        """The strategies build only valid messages, each with a key."""
        assert message.idempotency_key
        assert isinstance(message.metadata.priority, str)

    def test_error_codes_compare_to_strings(self) -> None:
        """ErrorCode members equal their string values, so decoded codes match."""
        decoded = decode_result(encode_result(DeliveryResult.failure(DeliveryError.transient(ErrorCode.TIMEOUT, "t"))))
        assert decoded.error is not None
        assert decoded.error.code == ErrorCode.TIMEOUT
        assert decoded.error.error_class is ErrorClass.TRANSIENT


class TestFieldTypes:
    @pytest.mark.parametrize(
        ("build", "field"),
        [
            (lambda: Metadata(tags="urgent"), "Metadata.tags"),
            (lambda: Metadata(tags=("a", 5)), "Metadata.tags"),
            (lambda: Metadata(idempotency_key=5), "Metadata.idempotency_key"),
            (lambda: Metadata(reference_id=7), "Metadata.reference_id"),
            (lambda: Metadata(extra=[1]), "Metadata.extra"),
            (lambda: Message(recipient="x", text="a", subject=5), "Message.subject"),
            (lambda: Message(recipient="x", text="a", html=b"<b>"), "Message.html"),
            (lambda: Message(recipient="x", text="a", metadata=42), "Message.metadata"),
            (lambda: Message(recipient="x", text="a", metadata={}), "Message.metadata"),
            (lambda: Message(recipient="x", text="a", attachments="abc"), "Message.attachments"),
            (lambda: Message(recipient="x", text="a", attachments=[b"x"]), r"Message.attachments\[0\]"),
            (lambda: Recipient(phone=5), "Recipient.phone"),
            (lambda: Recipient(email="a@b.c", name=3), "Recipient.name"),
            (lambda: Recipient(addresses=None), "Recipient.addresses"),
            (lambda: Recipient(addresses={"sms": 5}), "Recipient.addresses"),
            (lambda: Attachment(filename="a.txt", content=None), "Attachment.content"),
            (lambda: Attachment(filename=None, content=b""), "Attachment.filename"),
            (lambda: DeliveryError(code="x", message=None, error_class=ErrorClass.PERMANENT), "DeliveryError.message"),
            (lambda: DeliveryError.transient("x", "m", retry_after=float("nan")), "DeliveryError.retry_after"),
            (lambda: DeliveryResult(status="sent"), "DeliveryResult.status"),
        ],
    )
    def test_wrong_types_name_the_field(self, build, field: str) -> None:  # type: ignore[no-untyped-def]
        """A wrong type is an InvalidMessageError naming the field, never a TypeError or a later failure."""
        with pytest.raises(InvalidMessageError, match=field):
            build()

    def test_lists_become_tuples(self) -> None:
        """Lists given for tuple fields are stored as tuples, so models stay hashable."""
        assert Metadata(tags=["a", "b"]).tags == ("a", "b")  # type: ignore[arg-type]

    def test_error_class_from_its_string(self) -> None:
        """A DeliveryError built with the class's string value holds the enum member."""
        error = DeliveryError(code="x", message="m", error_class="transient")  # type: ignore[arg-type]
        assert error.error_class is ErrorClass.TRANSIENT


class TestDecodeResult:
    @pytest.mark.parametrize(
        "data",
        [5, None, b"", b"[", b"[1]", "{" * 10_000, "[" * 100_000, b'{"status": 5}', b'{"status":"sent"}'],
    )
    def test_bad_input_is_invalid_message_error(self, data: object) -> None:
        """Wrong types, malformed or deeply nested JSON: always an InvalidMessageError."""
        with pytest.raises(InvalidMessageError):
            decode_result(data)  # type: ignore[arg-type]
