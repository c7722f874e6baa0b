"""The response providers read: status, headers, an already-read body.

Small on purpose: a provider checks the status, reads the JSON body and
perhaps a header or two. Headers are decoded on first access, so a
provider that only looks at the status pays for none of it.
"""

from __future__ import annotations

import http
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

__all__ = ["Headers", "Response"]

RawHeaders = list[tuple[bytes, bytes]]

_decode_json = msgspec.json.decode


class Headers(Mapping[str, str]):
    """Response headers: a read-only, case-insensitive mapping.

    A name sent more than once maps to its values joined with ``", "`` (as
    httpx does); :meth:`get_list` gives them one by one and :attr:`raw` the
    bytes as received.
    """

    __slots__ = ("_index", "raw")

    def __init__(self, raw: RawHeaders) -> None:
        self.raw = raw
        self._index: dict[str, list[str]] | None = None

    def _lookup(self) -> dict[str, list[str]]:
        index = self._index
        if index is None:
            index = {}
            for name, value in self.raw:
                index.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
            self._index = index
        return index

    def __getitem__(self, name: str) -> str:
        values = self._lookup()[name.lower()]
        return values[0] if len(values) == 1 else ", ".join(values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lookup()

    def __iter__(self) -> Iterator[str]:
        return iter(self._lookup())

    def __len__(self) -> int:
        return len(self._lookup())

    def get_list(self, name: str) -> list[str]:
        """Every value of ``name``, in the order received."""
        return list(self._lookup().get(name.lower(), ()))

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


class Response:
    """One HTTP response, body already read (and Content-Encoding undone).

    :ivar status_code: the HTTP status.
    :ivar content: the body as bytes.
    :ivar http_version: ``"HTTP/1.1"`` or ``"HTTP/1.0"``.
    """

    __slots__ = ("_headers", "_raw_headers", "content", "http_version", "status_code")

    def __init__(
        self, status_code: int, raw_headers: RawHeaders, content: bytes, *, http_version: str = "HTTP/1.1"
    ) -> None:
        self.status_code = status_code
        self._raw_headers = raw_headers
        self._headers: Headers | None = None
        self.content = content
        self.http_version = http_version

    @property
    def headers(self) -> Headers:
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers(self._raw_headers)
        return headers

    @property
    def is_success(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status_code < 300

    @property
    def is_error(self) -> bool:
        """A 4xx or 5xx status."""
        return self.status_code >= 400

    @property
    def reason_phrase(self) -> str:
        """The standard phrase for the status (``"Not Found"``), or ``""``."""
        try:
            return http.HTTPStatus(self.status_code).phrase
        except ValueError:
            return ""

    @property
    def encoding(self) -> str:
        """The charset the Content-Type names, or utf-8."""
        content_type = self.headers.get("content-type", "")
        for part in content_type.split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"')
        return "utf-8"

    @property
    def text(self) -> str:
        """The body decoded by its charset (utf-8 by default); undecodable bytes are replaced."""
        try:
            return self.content.decode(self.encoding, "replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON.

        :raises ValueError: the body is empty or not JSON (as ``json.loads`` does).
        """
        try:
            return _decode_json(self.content)
        except msgspec.DecodeError as exc:
            raise ValueError(f"response body is not JSON: {exc}") from None

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"

    @classmethod
    def from_mapping(cls, status_code: int, headers: Mapping[str, str], content: bytes) -> Response:
        """A response from text headers (the library path, tests)."""
        raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
        return cls(status_code, raw, content)
