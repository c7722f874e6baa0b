"""The documentation stays true to the code.

- Every hook in ``broadcastio.hookspecs`` is documented in ``docs/hooks.md``
  with its argument names, and every record (event, result, ...) documented
  there lists exactly the record's fields, in order.
- The Python examples run: every ```python block of ``docs/getting-started.md``
  and every block marked ``<!-- test: run -->`` on another page is executed
  in a fresh interpreter (memory and file providers only, no network, real
  sleeps switched off); a ```text block marked ``<!-- test: output -->`` must
  equal what the block before it printed. ``<!-- test: continue -->`` runs a
  block after the runnable block before it, as one program (a class, then its
  use). ``<!-- test: skip -->`` excludes a block of the getting-started page.
- A ```console block marked ``<!-- test: run -->`` is a shell session: each
  ``$ command`` runs with bash (``# exits N`` at its end expects that exit
  status, otherwise 0) and must print the lines that follow it, where ``...``
  matches anything. All sessions of a page share one empty folder, into which
  a block marked ``<!-- test: file NAME -->`` is written first.
- Every other ```python block compiles, and its ``from x import y`` lines
  name things that exist.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import textwrap
import typing
from dataclasses import dataclass
from pathlib import Path

import broadcastio
import msgspec
import pytest
from broadcastio import hookspecs

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HOOKS_PAGE = DOCS / "hooks.md"
ALWAYS_RUN = ("getting-started.md",)

RUN, SKIP, OUTPUT = "<!-- test: run -->", "<!-- test: skip -->", "<!-- test: output -->"
CONTINUE = "<!-- test: continue -->"
FILE_MARKER = re.compile(r"^<!-- test: file (\S+) -->$")
EXIT_COMMENT = re.compile(r"\s+#\s*exits (\d+)\s*$")
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


# --- parsing -------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    language: str
    code: str
    marker: str | None


def blocks_of(path: Path) -> list[Block]:
    """Fenced code blocks of a page with the marker comment on the line just before each (if any)."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        marker = before if before in (RUN, SKIP, OUTPUT, CONTINUE) or FILE_MARKER.match(before) else None
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(path.name, line, match.group(1), match.group(2), marker))
    return found


def sections(text: str, level: str = "###") -> dict[str, str]:
    """Heading text (backticks stripped) to the body under it, for headings of ``level``."""
    pattern = re.compile(rf"^{level} +(.+?)\s*$", re.MULTILINE)
    matches = list(pattern.finditer(text))
    found = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        # A shallower heading also ends the section.
        shallower = re.compile(rf"^#{{1,{len(level) - 1}}} ", re.MULTILINE).search(text, match.end(), end)
        found[match.group(1).strip("` ")] = text[match.end() : shallower.start() if shallower else end]
    return found


def table_names(body: str) -> list[str]:
    """Names in the first column of the Markdown tables of a section, in order."""
    return re.findall(r"^\| *`([A-Za-z_]\w*)` *\|", body, re.MULTILINE)


def documented_signature(name: str, body: str) -> list[str] | None:
    """Argument names of the first ``name(...)`` signature shown in a section."""
    match = re.search(rf"`{name}\(([^)]*)\)", body)
    if match is None:
        return None
    return [part.split(":")[0].split("=")[0].strip() for part in match.group(1).split(",") if part.strip()]


# --- the hooks reference -----------------------------------------------------------


def hook_specs() -> dict[str, typing.Callable[..., object]]:
    return {
        name: function
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("broadcastio_")
    }


def records_of(function: typing.Callable[..., object]) -> list[type[msgspec.Struct]]:
    """The msgspec records a hook takes or returns (through Iterable[...] too)."""
    hints = typing.get_type_hints(function)
    found = []
    for hint in hints.values():
        for candidate in (hint, *typing.get_args(hint)):
            if isinstance(candidate, type) and (
                issubclass(candidate, msgspec.Struct) or getattr(candidate, "_is_protocol", False)
            ):
                found.append(candidate)
    return found


def field_names(record: type[msgspec.Struct]) -> list[str]:
    if not issubclass(record, msgspec.Struct):  # a Protocol (CampaignWorkers): attributes, then methods
        methods = [name for name, _ in inspect.getmembers(record, inspect.isfunction) if not name.startswith("_")]
        return [*typing.get_type_hints(record), *methods]
    return [field.name for field in msgspec.structs.fields(record)]


@pytest.fixture(scope="module")
def hook_sections() -> dict[str, str]:
    return sections(HOOKS_PAGE.read_text(encoding="utf-8"))


def test_the_hookspecs_are_found() -> None:
    """The meta-test itself sees the hooks (guards against a silently empty parametrization)."""
    assert {"broadcastio_provider_types", "broadcastio_attempt", "broadcastio_result"} <= set(hook_specs())


@pytest.mark.parametrize("hook", sorted(hook_specs()))
def test_every_hook_is_documented_with_its_arguments(hook: str, hook_sections: dict[str, str]) -> None:
    """Each hookspec has a section in docs/hooks.md showing its exact argument names."""
    assert hook in hook_sections, f"docs/hooks.md has no '### {hook}' section"
    expected = list(inspect.signature(hook_specs()[hook]).parameters)
    documented = documented_signature(hook, hook_sections[hook])
    assert documented is not None, f"docs/hooks.md: the {hook} section shows no `{hook}(...)` signature"
    assert documented == expected, f"docs/hooks.md documents {hook}({', '.join(documented)}), the spec is {expected}"


@pytest.mark.parametrize("hook", sorted(hook_specs()))
def test_every_hook_lists_its_event_fields(hook: str, hook_sections: dict[str, str]) -> None:
    """The fields table of each hook's record names exactly the record's fields, in order."""
    records = records_of(hook_specs()[hook])
    assert records, f"{hook} takes or returns no record; the meta-test needs updating"
    listed = table_names(hook_sections.get(hook, ""))
    for record in records:
        expected = field_names(record)
        assert listed == expected, f"docs/hooks.md {hook}: fields {listed}, {record.__name__} has {expected}"


def test_no_hook_is_documented_that_does_not_exist(hook_sections: dict[str, str]) -> None:
    """Every broadcastio_* section of docs/hooks.md names a real hook."""
    documented = {name for name in hook_sections if name.startswith("broadcastio_")}
    assert documented <= set(hook_specs()), f"unknown hooks documented: {sorted(documented - set(hook_specs()))}"


def test_documented_records_list_their_fields(hook_sections: dict[str, str]) -> None:
    """Sections of docs/hooks.md named after a broadcastio record list exactly its fields."""
    checked = 0
    for name, body in hook_sections.items():
        record = getattr(broadcastio, name, None)
        if isinstance(record, type) and issubclass(record, msgspec.Struct):
            assert table_names(body) == field_names(record), f"docs/hooks.md {name}: fields differ from the code"
            checked += 1
    assert checked >= 3


# --- runnable examples ----------------------------------------------------------------

PRELUDE = textwrap.dedent(
    """
    import sys
    import structlog
    from broadcastio.testing import no_wait

    # Logs go to stderr so stdout holds only what the example prints.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    source = sys.stdin.read()
    with no_wait():
        exec(compile(source, sys.argv[1], "exec"), {"__name__": "__main__"})
    """
)


def runnable_examples() -> list[tuple[Block, Block | None]]:
    """(python block, expected output block or None) pairs of every page.

    A ``continue`` block is returned with the code of the runnable block it continues prepended.
    """
    found = []
    for path in sorted(DOCS.rglob("*.md")):
        always = path.name in ALWAYS_RUN and path.parent == DOCS
        blocks = blocks_of(path)
        previous: Block | None = None
        for index, block in enumerate(blocks):
            if block.language != "python":
                continue
            if block.marker == CONTINUE:
                assert previous is not None, f"docs/{block.page}:{block.line}: nothing to continue"
                block = Block(block.page, block.line, block.language, previous.code + "\n" + block.code, block.marker)
            elif not ((always and block.marker != SKIP) or block.marker == RUN):
                continue
            previous = block
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            expected = following if following is not None and following.marker == OUTPUT else None
            found.append((block, expected))
    return found


def other_python_blocks() -> list[Block]:
    """Python blocks that are not run: they need a service or a test runner."""
    run = {(block.page, block.line) for block, _ in runnable_examples()}
    return [
        block
        for path in sorted(DOCS.rglob("*.md"))
        for block in blocks_of(path)
        if block.language == "python" and (block.page, block.line) not in run
    ]


def test_getting_started_has_examples() -> None:
    """The getting-started page is found and has runnable examples with outputs."""
    pairs = [pair for pair in runnable_examples() if pair[0].page == "getting-started.md"]
    assert len(pairs) >= 3
    assert any(expected is not None for _, expected in pairs)


@pytest.mark.parametrize(
    ("block", "expected"), runnable_examples(), ids=lambda value: f"{value.page}:{value.line}" if value else "-"
)
def test_example_runs(block: Block, expected: Block | None, tmp_path: Path) -> None:
    """The example runs in a fresh interpreter in an empty folder and prints what the page says."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE, f"docs/{block.page}:{block.line}"],
        input=block.code,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"docs/{block.page}:{block.line} failed:\n{done.stderr}"
    if expected is not None:
        assert done.stdout.strip() == expected.code.strip(), f"docs/{block.page}:{block.line} printed:\n{done.stdout}"


@pytest.mark.parametrize("block", other_python_blocks(), ids=lambda block: f"{block.page}:{block.line}")
def test_other_examples_compile_and_import_real_names(block: Block) -> None:
    """A block that is not run still compiles, and every name it imports exists."""
    tree = ast.parse(block.code, filename=f"docs/{block.page}:{block.line}")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "broadcastio_pager":
                continue  # the made-up plugin of the plugin-writing guide
            module = pytest.importorskip(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name) or _is_submodule(node.module, alias.name), (
                    f"docs/{block.page}:{block.line}: {node.module} has no {alias.name}"
                )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                pytest.importorskip(alias.name)


def _is_submodule(package: str, name: str) -> bool:
    try:
        importlib.import_module(f"{package}.{name}")
    except ImportError:
        return False
    return True


# --- shell sessions -----------------------------------------------------------------------


def console_pages() -> list[Path]:
    return [
        path
        for path in sorted(DOCS.rglob("*.md"))
        if any(block.language == "console" and block.marker == RUN for block in blocks_of(path))
    ]


def console_steps(code: str) -> list[tuple[str, int, str]]:
    """(command, expected exit status, expected output) for each ``$ `` line of a session."""
    steps: list[tuple[str, int, list[str]]] = []
    for line in code.splitlines():
        if line.startswith("$ "):
            command = line[2:]
            status = EXIT_COMMENT.search(command)
            steps.append((command, int(status.group(1)) if status else 0, []))
        else:
            assert steps, f"output before the first command: {line!r}"
            steps[-1][2].append(line)
    return [(command, status, "\n".join(lines).strip()) for command, status, lines in steps]


def output_matches(expected: str, output: str) -> bool:
    pattern = ".*?".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, output.strip(), re.DOTALL) is not None


@pytest.mark.parametrize("page", console_pages(), ids=lambda path: str(path.relative_to(DOCS)))
def test_console_sessions(page: Path, tmp_path: Path) -> None:
    """Each shell session of the page prints what the page shows and exits as it says."""
    blocks = blocks_of(page)
    if any("$ broadcastio" in block.code for block in blocks) and importlib.util.find_spec("click") is None:
        pytest.skip("the broadcastio command needs the cli extra (click, rich)")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("BROADCASTIO_CONFIG", None)
    for block in blocks:
        file_marker = FILE_MARKER.match(block.marker or "")
        if file_marker:
            (tmp_path / file_marker.group(1)).write_text(block.code, encoding="utf-8")
        elif block.language == "console" and block.marker == RUN:
            for command, status, expected in console_steps(block.code):
                done = subprocess.run(
                    ["bash", "-c", command],
                    cwd=tmp_path,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                where = f"docs/{block.page}:{block.line}: $ {command}"
                assert done.returncode == status, f"{where} exited {done.returncode}:\n{done.stdout}{done.stderr}"
                assert output_matches(expected, done.stdout), f"{where} printed:\n{done.stdout}"


# --- the error vocabulary ----------------------------------------------------------------


def test_every_error_code_and_class_is_in_the_concepts_page() -> None:
    """docs/concepts.md lists every ErrorCode and ErrorClass value in its tables."""
    text = (DOCS / "concepts.md").read_text(encoding="utf-8")
    listed = set(table_names(text))
    missing = {code.value for code in broadcastio.ErrorCode} - listed
    missing |= {error_class.value for error_class in broadcastio.ErrorClass} - listed
    assert not missing, f"docs/concepts.md does not list {sorted(missing)}"


def test_the_exception_tree_matches_the_code() -> None:
    """The exception tree drawn in docs/concepts.md names every exception broadcastio exports."""
    text = (DOCS / "concepts.md").read_text(encoding="utf-8")
    exported = {
        name
        for name in broadcastio.__all__
        if isinstance(getattr(broadcastio, name), type) and issubclass(getattr(broadcastio, name), BaseException)
    }
    drawn = set(re.findall(r"[├└]── (\w+)", text)) | {"BroadcastioError"}
    assert exported == drawn
