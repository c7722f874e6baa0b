"""Building the bytes of one request: URL, headers, body.

What never changes for a provider (Host, httpx's default headers, the
provider's headers, Basic auth) is validated and encoded once into a header
block per origin; per request only the request line, the per-request
headers (validated here, before any byte is written) and the body are
added. Bodies are encoded once, by msgspec (``json=``), urllib
(``data=`` forms, as httpx does) or httpx's multipart encoder
(``files=``, through a public ``httpx.Request``).
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

import httpx
import msgspec

from broadcastio.http._client import Origin

__all__ = [
    "DEFAULT_HEADERS",
    "HeaderError",
    "Target",
    "basic_auth",
    "encode_form",
    "encode_headers",
    "encode_multipart",
    "encode_request_headers",
    "resolve",
    "with_params",
]

DEFAULT_HEADERS: tuple[tuple[str, str], ...] = (
    ("Accept", "*/*"),
    ("Accept-Encoding", "gzip, deflate"),
    ("Connection", "keep-alive"),
    ("User-Agent", f"python-httpx/{httpx.__version__}"),
)
"""What an ``httpx.AsyncClient`` sends by default, so providers see no change (gzip and deflate are undone)."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# C0 controls but HTAB, DEL, C1 controls (NEL among them), and anything past latin-1.
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]|[^\x00-\xff]")
_NAME_CACHE_SIZE = 1024
json_encode = msgspec.json.encode
_quote = urllib.parse.quote_plus
_quoted_cache: dict[str, str] = {}
_QUOTE_CACHE_TEXT = 256  # longer texts are quoted each time, not kept


class HeaderError(ValueError):
    """A header that cannot be sent: bad name, control character, or not latin-1."""


def check_header(name: object, value: object) -> tuple[str, str]:
    """``(name, value)`` if both can go on the wire as they are, else :class:`HeaderError`."""
    if not isinstance(name, str) or not isinstance(value, str):
        raise HeaderError(f"header names and values must be strings, got {type(name).__name__}: {type(value).__name__}")
    if not _TOKEN.fullmatch(name):
        raise HeaderError(f"header name {name[:40]!r} is not an HTTP token")
    bad = _BAD_VALUE.search(value)
    if bad is not None:
        raise HeaderError(f"header {name!r} holds {bad.group()!r} at {bad.start()}: control character or not latin-1")
    return name, value


def encode_headers(headers: Mapping[Any, Any] | list[tuple[Any, Any]]) -> bytes:
    """Validated ``Name: value\\r\\n`` lines."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    lines = []
    for name, value in items:
        checked_name, checked_value = check_header(name, value)
        lines.append(f"{checked_name}: {checked_value}\r\n")
    return "".join(lines).encode("latin-1")


_checked_names: dict[str, str] = {}  # name -> lower case, for names already validated


def encode_request_headers(items: list[tuple[Any, Any]]) -> tuple[bytes, list[str]]:
    """Per-request headers: validated lines and their lower-case names (names checked once per process)."""
    parts: list[str] = []
    names: list[str] = []
    for name, value in items:
        lower = _checked_names.get(name) if type(name) is str else None
        if lower is None or type(value) is not str:
            check_header(name, value)
            lower = name.lower()
            if len(_checked_names) < _NAME_CACHE_SIZE:
                _checked_names[name] = lower
        elif _BAD_VALUE.search(value) is not None:
            check_header(name, value)  # raises, naming the character
        names.append(lower)
        parts.append(f"{name}: {value}\r\n")
    return "".join(parts).encode("latin-1"), names


def basic_auth(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class Target:
    """Where one URL goes: the origin, the request target, the provider's header block for it."""

    __slots__ = ("_without", "block", "headers", "names", "origin", "path", "url")

    def __init__(self, url: httpx.URL, origin: Origin, path: str, headers: list[tuple[str, str]]) -> None:
        self.url = url
        self.origin = origin
        self.path = path
        self.headers = headers  # Host, defaults, provider headers, auth
        self.block = encode_headers(headers)
        self.names = frozenset(name.lower() for name, _ in headers)
        self._without: dict[frozenset[str], bytes] = {}

    def block_without(self, names: frozenset[str]) -> bytes:
        """The header block without ``names`` (a per-request header overrides a provider one); cached."""
        block = self._without.get(names)
        if block is None:
            block = encode_headers([(name, value) for name, value in self.headers if name.lower() not in names])
            if len(self._without) < _NAME_CACHE_SIZE:
                self._without[names] = block
        return block


def resolve(base_url: httpx.URL, url: str, static: list[tuple[str, str]]) -> Target:
    """Join ``url`` to ``base_url`` as httpx does and build its header block.

    :raises HeaderError: a header (or URL credential) that cannot be sent.
    :raises ValueError: not an http(s) URL with a host.
    """
    merged = httpx.URL(url)
    if merged.is_relative_url:
        merged = base_url.copy_with(raw_path=base_url.raw_path + merged.raw_path.lstrip(b"/"))
    scheme = merged.scheme
    if scheme not in _DEFAULT_PORTS or not merged.host:
        raise ValueError(f"not an http:// or https:// URL with a host: {url!r}")
    host = merged.raw_host.decode("ascii")
    port = merged.port or _DEFAULT_PORTS[scheme]
    shown = f"[{host}]" if ":" in host else host
    if port != _DEFAULT_PORTS[scheme]:
        shown = f"{shown}:{port}"
    headers = [("Host", shown), *static]
    if merged.userinfo:  # user:password@ in the URL becomes Basic auth, as httpx does
        credentials = basic_auth(merged.username, merged.password)
        headers = [(name, value) for name, value in headers if name.lower() != "authorization"]
        headers.append(("Authorization", credentials))
    path = merged.raw_path.decode("ascii") or "/"
    return Target(merged.copy_with(userinfo=b""), (scheme, host, port), path, headers)


def with_params(path: str, params: Any) -> str:
    """``path`` with ``params`` appended to its query, encoded as httpx encodes them."""
    query = str(httpx.QueryParams(params))
    if not query:
        return path
    return f"{path}&{query}" if "?" in path else f"{path}?{query}"


def _form_value(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def _quoted(text: str) -> str:
    """urllib's ``quote_plus`` of ``text``, remembered: a broadcast repeats its keys, sender and body."""
    quoted = _quoted_cache.get(text)
    if quoted is None:
        quoted = _quote(text)
        if len(text) <= _QUOTE_CACHE_TEXT:
            if len(_quoted_cache) >= _NAME_CACHE_SIZE:
                _quoted_cache.clear()
            _quoted_cache[text] = quoted
    return quoted


def encode_form(data: Mapping[str, Any]) -> bytes:
    """``application/x-www-form-urlencoded``, as httpx encodes ``data=`` (urllib's quoting; lists repeat the key)."""
    parts: list[str] = []
    for key, value in data.items():
        name = _quoted(key if type(key) is str else str(key))
        if isinstance(value, (list, tuple)):
            parts.extend(f"{name}={_quoted(_form_value(item))}" for item in value)
        else:
            parts.append(f"{name}={_quoted(value if type(value) is str else _form_value(value))}")
    return "&".join(parts).encode("ascii")


def encode_multipart(data: Mapping[str, Any] | None, files: Any) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body and its Content-Type, by httpx's own encoder."""
    request = httpx.Request("POST", "http://multipart.invalid/", data=data, files=files)
    return request.read(), request.headers["Content-Type"]
