"""Installing from the checkout can never pick up a stranger's package, and versions have one source."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_PROJECTS = sorted(ROOT.glob("plugins/*/pyproject.toml"))
MINIMUM = (0, 4, 0)
REQUIREMENT = re.compile(r"^\s*broadcastio(\[[^\]]*\])?\s*(?P<spec>[^;]*)")


def _project(path: Path) -> dict[str, object]:
    project: dict[str, object] = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
    return project


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_core_is_above_the_unrelated_release_line() -> None:
    """Core's version is at least 0.4.0, above the unrelated broadcastio 0.2.x on the package index."""
    assert _version(str(_project(ROOT / "core" / "pyproject.toml")["version"])) >= MINIMUM


@pytest.mark.parametrize("path", PLUGIN_PROJECTS, ids=lambda path: path.parent.name)
def test_every_plugin_requires_broadcastio_0_4_or_later(path: Path) -> None:
    """Every requirement on broadcastio, extras included, has a lower bound of at least 0.4.0."""
    project = _project(path)
    optional = project.get("optional-dependencies", {})
    assert isinstance(optional, dict)
    requirements = [*project.get("dependencies", []), *(r for group in optional.values() for r in group)]
    on_core = [r for r in requirements if re.match(r"^\s*broadcastio(\[|\s|>|=|$)", r)]
    assert on_core, f"{path}: no requirement on broadcastio"
    for requirement in on_core:
        spec = REQUIREMENT.match(requirement)
        assert spec is not None, requirement
        bounds = re.findall(r">=\s*([0-9.]+)", spec.group("spec"))
        assert bounds, f"{path}: {requirement!r} has no lower bound"
        assert _version(bounds[0]) >= MINIMUM, f"{path}: {requirement!r} allows a version below 0.4.0"


def test_the_checkout_is_a_uv_workspace_resolving_core_locally() -> None:
    """The root pyproject makes core and every plugin workspace members, broadcastio a workspace source."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["uv"]
    assert {"core", "plugins/*"} <= set(tool["workspace"]["members"])
    assert tool["sources"]["broadcastio"] == {"workspace": True}


def test_no_hard_coded_versions_in_code() -> None:
    """Versions and user agents come from importlib.metadata, never from a literal in the code."""
    literal_version = re.compile(r"""__version__\s*=\s*["']|["']broadcastio[a-z-]*/\d+\.\d+""")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for base in (ROOT / "core" / "src", *ROOT.glob("plugins/*/src"))
        for path in sorted(base.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if literal_version.search(line)
    ]
    assert not offenders, offenders


def test_the_readme_keeps_two_set_up_commands() -> None:
    """A fresh machine needs exactly two commands: the demo and the tests."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Set-up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in section.splitlines() if line.startswith("    ") and line.strip()]
    assert commands == [
        "python3 -m pip install --quiet nox uv && nox -s demo",
        "python3 -m pip install --quiet nox uv && nox",
    ]
