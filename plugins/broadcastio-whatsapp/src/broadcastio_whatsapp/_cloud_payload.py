"""Request bodies for the WhatsApp Cloud API ``/messages`` endpoint.

Pure functions, no I/O: what a message becomes on the wire (text, template
or media), and the two ``metadata.extra`` keys this provider reads.
"""

from __future__ import annotations

import mimetypes
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from broadcastio import InvalidMessageError

__all__ = [
    "MEDIA_LINK_KEY",
    "TEMPLATE_KEY",
    "media_kind",
    "media_link",
    "media_payload",
    "recipient_digits",
    "template_payload",
    "text_payload",
]

TEMPLATE_KEY = "whatsapp_template"
MEDIA_LINK_KEY = "whatsapp_media_link"

MEDIA_KINDS = frozenset({"image", "video", "audio", "document", "sticker"})
_CAPTIONED = frozenset({"image", "video", "document"})
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
_VIDEO_TYPES = frozenset({"video/mp4", "video/3gpp"})
_PHONE_SEPARATORS = re.compile(r"[\s\-().+]")


def recipient_digits(address: str) -> str | None:
    """The phone number in international digits (``15550100000``), or None.

    Accepts ``+1 555 010 0000`` and ``15550100000@c.us``; groups and other
    ids are not Cloud API recipients.
    """
    text = address.strip()
    if text.endswith("@c.us"):
        text = text[: -len("@c.us")]
    digits = _PHONE_SEPARATORS.sub("", text)
    if not digits.isascii() or not digits.isdigit() or not 6 <= len(digits) <= 15:
        return None
    return digits


def media_kind(mime_type: str) -> str:
    """The Cloud API message type for a file: image, video or document.

    Everything that is not a JPEG/PNG image or an MP4/3GPP video goes as a
    document, which keeps its file name and caption.
    """
    mime = mime_type.split(";", 1)[0].strip().lower()
    if mime in _IMAGE_TYPES:
        return "image"
    if mime in _VIDEO_TYPES:
        return "video"
    return "document"


def _base(to: str, kind: str) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": kind}


def text_payload(to: str, text: str, *, preview_url: bool) -> dict[str, Any]:
    """A plain text message."""
    payload = _base(to, "text")
    payload["text"] = {"body": text, "preview_url": preview_url}
    return payload


def media_payload(
    to: str, kind: str, *, media_id: str | None = None, link: str | None = None, caption: str = "", filename: str = ""
) -> dict[str, Any]:
    """A media message by uploaded media id or by public link."""
    media: dict[str, Any] = {"id": media_id} if media_id else {"link": link}
    if caption and kind in _CAPTIONED:
        media["caption"] = caption
    if filename and kind == "document":
        media["filename"] = filename
    payload = _base(to, kind)
    payload[kind] = media
    return payload


def media_link(extra: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """``(link, kind, filename)`` from ``extra["whatsapp_media_link"]``, or None.

    The value is a URL string (the kind is guessed from its extension), or a
    mapping ``{"link": url, "type"?: kind, "filename"?: name}``.

    :raises InvalidMessageError: when the value has another shape.
    """
    value = extra.get(MEDIA_LINK_KEY)
    if value is None:
        return None
    filename = ""
    kind: str | None = None
    if isinstance(value, str):
        link = value
    elif isinstance(value, Mapping):
        link = value.get("link")  # type: ignore[assignment]
        kind = value.get("type")
        filename = value.get("filename") or ""
    else:
        raise InvalidMessageError(f"metadata.extra[{MEDIA_LINK_KEY!r}] must be a URL or a mapping with 'link'")
    if not isinstance(link, str) or not link.startswith(("https://", "http://")):
        raise InvalidMessageError(f"metadata.extra[{MEDIA_LINK_KEY!r}] needs an http(s) URL, got {link!r}")
    if kind is not None and kind not in MEDIA_KINDS:
        raise InvalidMessageError(
            f"metadata.extra[{MEDIA_LINK_KEY!r}]['type'] must be one of {', '.join(sorted(MEDIA_KINDS))}, got {kind!r}"
        )
    if not isinstance(filename, str):
        raise InvalidMessageError(f"metadata.extra[{MEDIA_LINK_KEY!r}]['filename'] must be a string")
    if kind is None:
        path = urllib.parse.urlsplit(link).path
        guessed, _ = mimetypes.guess_type(path)
        kind = media_kind(guessed or "application/octet-stream")
    if not filename and kind == "document":
        filename = urllib.parse.unquote(link.rsplit("/", 1)[-1].split("?", 1)[0])
    return link, kind, filename


def _parameter(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return {"type": "text", "text": str(value)}
    raise InvalidMessageError(
        f"template parameters must be strings, numbers or Graph API parameter objects, got {value!r}"
    )


def template_payload(to: str, extra: Mapping[str, Any]) -> dict[str, Any] | None:
    """A template message from ``extra["whatsapp_template"]``, or None.

    Shape: ``{"name": str, "language": "en_US" | {"code": "en_US"}}`` plus
    either ``"components"`` (Graph API components, sent as given) or
    ``"parameters"`` (body parameters in order: strings or numbers become
    text parameters, mappings are sent as given).

    :raises InvalidMessageError: when the template has another shape.
    """
    spec = extra.get(TEMPLATE_KEY)
    if spec is None:
        return None
    where = f"metadata.extra[{TEMPLATE_KEY!r}]"
    if not isinstance(spec, Mapping):
        raise InvalidMessageError(f"{where} must be a mapping with 'name' and 'language'")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidMessageError(f"{where}['name'] must be a non-empty string")
    language = spec.get("language")
    if isinstance(language, Mapping):
        language = language.get("code")
    if not isinstance(language, str) or not language:
        raise InvalidMessageError(f"{where}['language'] must be a language code such as 'en_US'")
    components = spec.get("components")
    parameters = spec.get("parameters")
    if components is not None and parameters is not None:
        raise InvalidMessageError(f"{where} takes 'components' or 'parameters', not both")
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components is not None:
        if isinstance(components, (str, bytes)) or not isinstance(components, (list, tuple)):
            raise InvalidMessageError(f"{where}['components'] must be a list of Graph API component objects")
        if not all(isinstance(item, Mapping) for item in components):
            raise InvalidMessageError(f"{where}['components'] must hold mappings only")
        template["components"] = [dict(item) for item in components]
    elif parameters is not None:
        if isinstance(parameters, (str, bytes)) or not isinstance(parameters, (list, tuple)):
            raise InvalidMessageError(f"{where}['parameters'] must be a list")
        if parameters:
            template["components"] = [{"type": "body", "parameters": [_parameter(item) for item in parameters]}]
    payload = _base(to, "template")
    payload["template"] = template
    return payload
