"""Field checks shared by the models and policies.

msgspec checks types only while decoding, so a Struct built in code takes
whatever it is given; these helpers make every constructor refuse a wrong
type or a non-finite number with an error naming the field. Each takes the
exception class to raise: :class:`~broadcastio.InvalidMessageError` for
models, :class:`~broadcastio.ConfigurationError` for policies.
"""

from __future__ import annotations

import math
from typing import Any

from broadcastio._errors import BroadcastioError

__all__ = ["check_any_of", "check_bool", "check_int", "check_number", "check_str", "check_str_tuple", "type_name"]

MAX_COUNT = 1_000_000
"""The largest attempt count, threshold or burst accepted: far above any real
use, small enough that nothing loops or allocates for ever."""


def type_name(value: object) -> str:
    """``int``, ``NoneType``: what to call a wrong value's type in an error."""
    return type(value).__name__


def check_str(value: object, field: str, error: type[BroadcastioError], *, optional: bool = False) -> None:
    """Refuse anything but a string (or None when ``optional``)."""
    if value is None and optional:
        return
    if not isinstance(value, str):
        wanted = "a string or None" if optional else "a string"
        raise error(f"{field} must be {wanted}, got {type_name(value)}")


def check_bool(value: object, field: str, error: type[BroadcastioError]) -> None:
    """Refuse anything but True or False."""
    if not isinstance(value, bool):
        raise error(f"{field} must be True or False, got {type_name(value)}")


def check_int(
    value: object, field: str, error: type[BroadcastioError], *, minimum: int, maximum: int = MAX_COUNT
) -> None:
    """Refuse anything but an integer within ``[minimum, maximum]`` (bools are not integers here)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{field} must be an integer, got {type_name(value)}")
    if value < minimum:
        raise error(f"{field} must be an integer >= {minimum}, got {value}")
    if value > maximum:
        raise error(f"{field} must be an integer <= {maximum}, got {value}")


def check_number(
    value: object,
    field: str,
    error: type[BroadcastioError],
    *,
    minimum: float = 0.0,
    exclusive: bool = False,
    optional: bool = False,
) -> None:
    """Refuse anything but a finite int or float ``>= minimum`` (``>`` when ``exclusive``)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error(f"{field} must be a number, got {type_name(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise error(f"{field} must be a finite number, got {value!r}")
    if number < minimum or (exclusive and number == minimum):
        raise error(f"{field} must be {'>' if exclusive else '>='} {minimum:g}, got {value!r}")


def check_str_tuple(value: object, field: str, error: type[BroadcastioError]) -> None:
    """Refuse anything but a tuple or list of strings (a bare string is refused too)."""
    if not isinstance(value, tuple | list):
        raise error(f"{field} must be a tuple of strings, got {type_name(value)}")
    for position, item in enumerate(value):
        if not isinstance(item, str):
            raise error(f"{field}[{position}] must be a string, got {type_name(item)}")


def check_any_of(value: object, field: str, error: type[BroadcastioError], allowed: tuple[Any, ...]) -> None:
    """Refuse a value outside ``allowed`` (compared by equality, hashable or not)."""
    if not isinstance(value, str) or value not in allowed:
        wanted = ", ".join(repr(item) for item in allowed)
        raise error(f"{field} must be one of {wanted}, got {value!r}")
