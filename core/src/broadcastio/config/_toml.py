"""Where a key sits in a TOML file, and ``${VAR}`` expansion of its strings.

tomllib gives values, not positions, so :func:`index_lines` scans the text
once and records the line of every table header and key assignment by key
path; configuration errors can then name the line that is wrong.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from typing import Any

__all__ = ["EnvError", "KeyPath", "NestingError", "expand_env", "format_path", "index_lines", "line_of", "load_toml"]

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ENV_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


MAX_DEPTH = 32
"""Tables and arrays nested deeper than this are refused: no real configuration
needs it, and the parser and validators recurse."""


class NestingError(ValueError):
    """A TOML document nested deeper than :data:`MAX_DEPTH`."""


def load_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads`` with a nesting cap, so deep input is an error and not a RecursionError."""
    try:
        document = tomllib.loads(text)
    except RecursionError:
        raise NestingError(f"nested deeper than {MAX_DEPTH} levels") from None
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise NestingError(f"nested deeper than {MAX_DEPTH} levels")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return document


def format_path(path: KeyPath) -> str:
    """``("providers", 1, "retry")`` as ``providers[1].retry``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _BARE_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            quoted = '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
            out += f".{quoted}" if out else quoted
    return out


def line_of(index: Mapping[KeyPath, int], path: KeyPath) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one."""
    for end in range(len(path), 0, -1):
        line = index.get(path[:end])
        if line is not None:
            return line
    return None


def _parse_keys(text: str) -> tuple[list[str], str]:
    """Split a (dotted, possibly quoted) key off the front of ``text``."""
    keys: list[str] = []
    rest = text.lstrip()
    while rest:
        if rest[0] in "\"'":
            quote = rest[0]
            end = 1
            while end < len(rest) and rest[end] != quote:
                end += 2 if quote == '"' and rest[end] == "\\" else 1
            raw = rest[: end + 1]
            try:
                keys.append(next(iter(tomllib.loads(f"{raw} = 0"))))
            except (tomllib.TOMLDecodeError, StopIteration):
                keys.append(raw.strip(quote))
            rest = rest[end + 1 :]
        else:
            match = _BARE_KEY.match(rest)
            if match is None:
                break
            keys.append(match.group())
            rest = rest[match.end() :]
        rest = rest.lstrip()
        if not rest.startswith("."):
            break
        rest = rest[1:].lstrip()
    return keys, rest


class _ValueScanner:
    """Tracks strings and bracket depth across lines, so that keys inside
    multi-line arrays and strings are not mistaken for assignments."""

    def __init__(self) -> None:
        self.depth = 0
        self.string: str | None = None  # the open multi-line delimiter

    @property
    def idle(self) -> bool:
        return self.depth == 0 and self.string is None

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            if self.string is not None:
                end = text.find(self.string, i)
                if end < 0:
                    return
                i = end + 3
                self.string = None
                continue
            char = text[i]
            if char == "#":
                return
            if text.startswith(('"""', "'''"), i):
                self.string = text[i : i + 3]
                i += 3
            elif char in "\"'":
                i += 1
                while i < len(text) and text[i] != char:
                    i += 2 if char == '"' and text[i] == "\\" else 1
                i += 1
            else:
                if char in "[{":
                    self.depth += 1
                elif char in "]}":
                    self.depth = max(0, self.depth - 1)
                i += 1


def index_lines(text: str) -> dict[KeyPath, int]:
    """Map every table and key path in a TOML document to its 1-based line.

    Arrays of tables get their index (``providers[1]``); keys inside inline
    tables and arrays are not indexed, so :func:`line_of` falls back to the
    line of the key that holds them, which is the same line or the first.
    """
    index: dict[KeyPath, int] = {}
    table_counts: dict[KeyPath, int] = {}
    current: KeyPath = ()
    scanner = _ValueScanner()
    for number, line in enumerate(text.split("\n"), start=1):
        if not scanner.idle:
            scanner.feed(line)
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            is_array = stripped.startswith("[[")
            keys, _ = _parse_keys(stripped[2 if is_array else 1 :])
            resolved: list[str | int] = []
            for position, key in enumerate(keys):
                resolved.append(key)
                if is_array and position == len(keys) - 1:
                    count = table_counts.get(tuple(resolved), -1) + 1
                    table_counts[tuple(resolved)] = count
                    resolved.append(count)
                elif tuple(resolved) in table_counts:
                    resolved.append(table_counts[tuple(resolved)])
            current = tuple(resolved)
            index.setdefault(current, number)
            continue
        keys, rest = _parse_keys(stripped)
        if not keys or not rest.startswith("="):
            continue
        for end in range(1, len(keys) + 1):
            index.setdefault((*current, *keys[:end]), number)
        scanner.feed(rest[1:])
    return index


class EnvError(Exception):
    """A ``${VAR}`` reference that cannot be expanded, at ``path``."""

    def __init__(self, path: KeyPath, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def _expand_string(value: str, path: KeyPath, env: Mapping[str, str]) -> tuple[str, bool]:
    used_env = False

    def replace(match: re.Match[str]) -> str:
        nonlocal used_env
        token = match.group(0)
        if token == "$${":
            return "${"
        name = match.group(1)
        if name is None:
            raise EnvError(path, "unclosed '${' (write '$${' for a literal '${')")
        if not _ENV_NAME.fullmatch(name):
            raise EnvError(path, f"'${{{name}}}' is not a valid environment variable reference")
        if name not in env:
            raise EnvError(path, f"environment variable {name} is not set")
        used_env = True
        return env[name]

    return _ENV_TOKEN.sub(replace, value), used_env


def expand_env(value: Any, env: Mapping[str, str], path: KeyPath = ()) -> tuple[Any, set[KeyPath]]:
    """Expand ``${VAR}`` in every string of a parsed document.

    Returns the new document and the paths of strings that took a value from
    the environment (to be masked). ``$${`` stands for a literal ``${``.
    """
    secrets: set[KeyPath] = set()
    if isinstance(value, str):
        if "$" not in value:
            return value, secrets
        expanded, used_env = _expand_string(value, path, env)
        if used_env:
            secrets.add(path)
        return expanded, secrets
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out[key], found = expand_env(item, env, (*path, key))
            secrets |= found
        return out, secrets
    if isinstance(value, list):
        items = []
        for position, item in enumerate(value):
            new, found = expand_env(item, env, (*path, position))
            items.append(new)
            secrets |= found
        return items, secrets
    return value, secrets
