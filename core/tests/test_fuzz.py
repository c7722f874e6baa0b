"""Fuzzing every public constructor and reader: nothing but a BroadcastioError escapes.

Each test draws a few thousand inputs, valid and not, and stays within a few
seconds. A value a constructor accepts must also be usable: the model encodes.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from broadcastio import (
    Attachment,
    BreakerPolicy,
    BroadcastioError,
    DeliveryError,
    DeliveryResult,
    HealthPolicy,
    Message,
    Metadata,
    ProviderHealth,
    RateLimit,
    Recipient,
    RetryPolicy,
    decode_result,
    encode_result,
)
from broadcastio.config import ConfigFileError, parse_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_FILES = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
"""Readers and the TOML loader do more per example (a file, a parser): fewer examples, same time."""

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=20),
)
junk = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.lists(scalars, max_size=3).map(tuple),
    st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), scalars, max_size=3),
)
plain_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30)


def _either(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly plausible values, often junk, so both the checks and the happy path are exercised."""
    return st.one_of(valid, junk)


def _survives(build: Callable[[], Any]) -> Any:
    """Build, allowing only a BroadcastioError; anything built must encode."""
    try:
        built = build()
    except BroadcastioError:
        return None
    msgspec.json.encode(built)
    return built


addresses = st.dictionaries(st.text(max_size=8), plain_text, max_size=3)
recipient_fields = st.fixed_dictionaries(
    {},
    optional={
        "phone": _either(st.one_of(st.none(), plain_text)),
        "email": _either(st.one_of(st.none(), plain_text)),
        "telegram": _either(st.one_of(st.none(), plain_text)),
        "addresses": _either(addresses),
        "name": _either(st.one_of(st.none(), plain_text)),
    },
)
metadata_fields = st.fixed_dictionaries(
    {},
    optional={
        "priority": _either(st.sampled_from(["low", "normal", "high"])),
        "reference_id": _either(st.one_of(st.none(), plain_text)),
        "idempotency_key": _either(plain_text),
        "tags": _either(st.lists(plain_text, max_size=3).map(tuple)),
        "extra": _either(st.dictionaries(st.text(max_size=5), scalars, max_size=3)),
    },
)
attachment_fields = st.fixed_dictionaries(
    {
        "filename": _either(st.text(max_size=12)),
        "content": _either(st.binary(max_size=32)),
    },
    optional={"mime_type": _either(st.sampled_from(["text/plain", "image/png", "nonsense"]))},
)


@st.composite
def message_fields(draw: st.DrawFn) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "recipient": draw(_either(st.one_of(plain_text, st.just(Recipient(phone="+15550100"))))),
        "text": draw(_either(plain_text)),
    }
    optional = {
        "subject": _either(st.one_of(st.none(), plain_text)),
        "html": _either(st.one_of(st.none(), plain_text)),
        "attachments": _either(st.lists(st.just(Attachment(filename="a.txt", content=b"x")), max_size=2).map(tuple)),
        "metadata": _either(st.just(Metadata())),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            fields[name] = draw(strategy)
    return fields


class TestModelConstructors:
    @FUZZ
    @given(recipient_fields)
    def test_recipient(self, fields: dict[str, Any]) -> None:
        """Recipient refuses every bad field with a BroadcastioError."""
        _survives(lambda: Recipient(**fields))

    @FUZZ
    @given(metadata_fields)
    def test_metadata(self, fields: dict[str, Any]) -> None:
        """Metadata refuses every bad field with a BroadcastioError."""
        built = _survives(lambda: Metadata(**fields))
        if built is not None:
            assert isinstance(built.tags, tuple)

    @FUZZ
    @given(attachment_fields)
    def test_attachment(self, fields: dict[str, Any]) -> None:
        """Attachment refuses every bad field with a BroadcastioError."""
        _survives(lambda: Attachment(**fields))

    @FUZZ
    @given(message_fields())
    def test_message(self, fields: dict[str, Any]) -> None:
        """Message refuses every bad field with a BroadcastioError; what it accepts is well typed."""
        built = _survives(lambda: Message(**fields))
        if built is not None:
            assert isinstance(built.metadata, Metadata)
            assert all(isinstance(item, Attachment) for item in built.attachments)

    @FUZZ
    @given(
        st.fixed_dictionaries(
            {
                "code": _either(plain_text),
                "message": _either(plain_text),
                "error_class": _either(st.sampled_from(["transient", "permanent", "ambiguous"])),
            },
            optional={
                "retry_after": _either(st.one_of(st.none(), st.floats(min_value=0, max_value=60))),
                "provider": _either(st.one_of(st.none(), plain_text)),
            },
        )
    )
    def test_delivery_error(self, fields: dict[str, Any]) -> None:
        """DeliveryError refuses every bad field with a BroadcastioError."""
        _survives(lambda: DeliveryError(**fields))

    @FUZZ
    @given(
        st.fixed_dictionaries(
            {"status": _either(st.sampled_from(["delivered", "failed", "unknown"]))},
            optional={
                "provider": _either(st.one_of(st.none(), plain_text)),
                "error": _either(st.just(DeliveryError.transient("timeout", "t"))),
                "idempotency_key": _either(st.one_of(st.none(), plain_text)),
            },
        )
    )
    def test_delivery_result(self, fields: dict[str, Any]) -> None:
        """DeliveryResult refuses every bad field with a BroadcastioError."""
        _survives(lambda: DeliveryResult(**fields))

    @FUZZ
    @given(
        st.fixed_dictionaries(
            {"healthy": _either(st.booleans())},
            optional={"detail": _either(plain_text), "latency_ms": _either(st.floats(min_value=0, max_value=1e6))},
        )
    )
    def test_provider_health(self, fields: dict[str, Any]) -> None:
        """ProviderHealth refuses every bad field with a BroadcastioError."""
        _survives(lambda: ProviderHealth(**fields))


numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(10**25), max_value=10**25))


class TestPolicyConstructors:
    @FUZZ
    @given(
        st.fixed_dictionaries(
            {},
            optional={
                "max_attempts": _either(numbers),
                "backoff": _either(st.sampled_from(["none", "fixed", "exponential"])),
                "base_delay": _either(numbers),
                "max_delay": _either(numbers),
                "jitter": _either(st.booleans()),
                "retry_on": _either(st.lists(st.sampled_from(["transient", "ambiguous", "timeout"])).map(tuple)),
                "retry_ambiguous": _either(st.booleans()),
                "respect_retry_after": _either(st.booleans()),
            },
        )
    )
    def test_retry_policy(self, fields: dict[str, Any]) -> None:
        """RetryPolicy refuses every bad field; what it accepts gives finite, bounded delays."""
        policy = _survives(lambda: RetryPolicy(**fields))
        if policy is not None:
            delay = policy.backoff_delay(1000)
            assert math.isfinite(delay)
            assert 0 <= delay <= policy.max_delay
            assert policy.max_attempts <= 1_000_000

    @FUZZ
    @given(
        st.fixed_dictionaries(
            {},
            optional={
                "failure_threshold": _either(numbers),
                "cooldown": _either(numbers),
                "half_open_probes": _either(numbers),
                "enabled": _either(st.booleans()),
            },
        )
    )
    def test_breaker_policy(self, fields: dict[str, Any]) -> None:
        """BreakerPolicy refuses every bad field with a ConfigurationError."""
        policy = _survives(lambda: BreakerPolicy(**fields))
        if policy is not None:
            assert math.isfinite(policy.cooldown)

    @FUZZ
    @given(
        st.fixed_dictionaries(
            {},
            optional={
                "enabled": _either(st.booleans()),
                "ttl": _either(numbers),
                "timeout": _either(numbers),
                "strict": _either(st.booleans()),
            },
        )
    )
    def test_health_policy(self, fields: dict[str, Any]) -> None:
        """HealthPolicy refuses every bad field with a ConfigurationError."""
        policy = _survives(lambda: HealthPolicy(**fields))
        if policy is not None:
            assert math.isfinite(policy.ttl)
            assert math.isfinite(policy.timeout)

    @FUZZ
    @given(st.fixed_dictionaries({"per_second": _either(numbers)}, optional={"burst": _either(numbers)}))
    def test_rate_limit(self, fields: dict[str, Any]) -> None:
        """RateLimit refuses every bad field with a ConfigurationError."""
        limit = _survives(lambda: RateLimit(**fields))
        if limit is not None:
            assert math.isfinite(limit.per_second)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)),
    max_leaves=10,
)
result_keys = st.sampled_from(
    ["status", "provider", "error", "trace", "code", "message", "class", "retry_after", "attempts", "started_at"]
)
result_like = st.recursive(
    json_values,
    lambda inner: st.dictionaries(result_keys, inner, max_size=5),
    max_leaves=12,
)


class TestDecodeResult:
    @FUZZ
    @given(
        st.one_of(
            st.binary(max_size=80),
            st.text(max_size=80),
            result_like.map(json.dumps),
            st.integers(min_value=1, max_value=20_000).map(lambda depth: "[" * depth + "]" * depth),
            st.integers(min_value=1, max_value=20_000).map(lambda depth: '{"trace":' * depth + "1" + "}" * depth),
            junk,
        )
    )
    def test_only_broadcastio_errors(self, data: Any) -> None:
        """decode_result answers a result or a BroadcastioError, for any input at all."""
        result = _survives(lambda: decode_result(data))
        if result is not None:
            assert decode_result(encode_result(result)) == result


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(key)} = {_toml_value(item)}" for key, item in value.items()) + "}"
    raise AssertionError(value)


toml_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
)
toml_values = st.one_of(
    toml_scalars,
    st.lists(toml_scalars, max_size=3),
    st.dictionaries(st.sampled_from(["max_attempts", "per_second", "burst", "x"]), toml_scalars, max_size=3),
)
policy_keys = {
    "retry": ["max_attempts", "backoff", "base_delay", "max_delay", "jitter", "retry_on", "colour"],
    "breaker": ["failure_threshold", "cooldown", "half_open_probes", "enabled"],
    "health": ["ttl", "timeout", "strict", "enabled"],
    "orchestrator": ["fallback_on_ambiguous"],
}


@st.composite
def toml_documents(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for section, keys in policy_keys.items():
        if draw(st.booleans()):
            lines.append(f"[{section}]")
            for key in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
                lines.append(f"{key} = {_toml_value(draw(toml_values))}")
    for index in range(draw(st.integers(min_value=0, max_value=2))):
        lines.append("[[providers]]")
        lines.append(f"name = {_toml_value(draw(st.one_of(st.just(f'p{index}'), toml_scalars)))}")
        lines.append(f"type = {_toml_value(draw(st.one_of(st.just('memory'), toml_scalars)))}")
        for key in draw(st.lists(st.sampled_from(["retry", "rate_limit", "settings", "enabled"]), unique=True)):
            lines.append(f"{key} = {_toml_value(draw(toml_values))}")
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        depth = draw(st.sampled_from([2, 31, 32, 33, 100]))
        lines.append("deep = " + "[" * depth + "]" * depth)
    return "\n".join(lines) + "\n"


class TestTomlLoader:
    @FUZZ_FILES
    @given(st.one_of(toml_documents(), st.text(max_size=60)))
    def test_only_config_file_errors(self, text: str) -> None:
        """Any text at all parses to a Config or raises a ConfigFileError naming the source."""
        try:
            parse_config(text, source="fuzz.toml", env={"A": "b"})
        except ConfigFileError as exc:
            problem = str(exc)
        else:
            return
        assert "fuzz.toml" in problem


_FOLDER = Path(tempfile.mkdtemp(prefix="broadcastio-fuzz-"))
csv_cells = st.one_of(
    st.sampled_from(["phone", "email", "name", "address.webhook", "idempotency_key", "+15550100", "a@b.co", ""]),
    st.text(max_size=8),
    st.text('",\n\r\x00', max_size=4),
)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    rows = draw(st.lists(st.lists(csv_cells, max_size=4), max_size=4))
    text = "\n".join(",".join(row) for row in rows)
    if draw(st.integers(min_value=0, max_value=50)) == 0:
        text += "\n+15550100," + "x" * (128 * 1024 + 1)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def jsonl_files(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        kind = draw(st.integers(min_value=0, max_value=19))
        if kind == 0:
            depth = draw(st.sampled_from([15, 16, 17, 200]))
            lines.append('{"phone": "+15550100", "x": ' + "[" * depth + "]" * depth + "}")
        elif kind == 1:
            lines.append('{"phone": "+15550100", "n": ' + "9" * draw(st.sampled_from([4300, 4301])) + "}")
        elif kind == 2:
            lines.append(draw(st.text(max_size=30)))
        else:
            keys = st.sampled_from(["phone", "email", "name", "x", "address.sms"])
            row = draw(st.dictionaries(keys, st.one_of(st.text(max_size=12), st.integers(), st.none()), max_size=4))
            lines.append(json.dumps(row))
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def _read(name: str, fmt: str, content: bytes) -> None:
    from broadcastio.cli._recipients import RecipientFile, Template

    path = _FOLDER / name
    path.write_bytes(content)
    reader = RecipientFile(path, fmt, text=Template("--text", "hi {name}"), derive_keys=True)  # type: ignore[arg-type]
    try:
        for _number, message in reader.messages():
            msgspec.json.encode(message)
    except BroadcastioError as exc:
        problem = str(exc)
    else:
        return
    assert str(path) in problem


class TestRecipientReaders:
    @FUZZ_FILES
    @given(st.one_of(csv_files(), st.binary(max_size=40)))
    def test_csv(self, content: bytes) -> None:
        """Any CSV file gives messages or a BroadcastioError naming the file."""
        pytest.importorskip("click")
        _read("fuzz.csv", "csv", content)

    @FUZZ_FILES
    @given(st.one_of(jsonl_files(), st.binary(max_size=40)))
    def test_jsonl(self, content: bytes) -> None:
        """Any JSON lines file gives messages or a BroadcastioError naming the file."""
        pytest.importorskip("click")
        _read("fuzz.jsonl", "jsonl", content)
