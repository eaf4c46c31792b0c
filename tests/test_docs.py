"""Every publish.py subcommand is documented in the README and answers --help."""

from __future__ import annotations

import argparse

import pytest

import publish
from tests.conftest import ROOT


def subcommands() -> list[str]:
    parser = publish.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(action.choices)


def test_there_are_subcommands() -> None:
    assert {"check", "new", "build", "serve"} <= set(subcommands())


@pytest.mark.parametrize("command", subcommands())
def test_subcommand_is_in_readme(command: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"publish.py {command}" in readme


@pytest.mark.parametrize("command", subcommands())
def test_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        publish.main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: publish.py {command}" in capsys.readouterr().out


def test_readme_quick_start_is_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Quick start")
    block = readme[start : readme.index("##", start + 3)]
    commands = [line.strip() for line in block.splitlines() if line.strip().startswith("make ")]
    assert commands == ["make build", "make test"]
