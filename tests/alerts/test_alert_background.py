"""BackgroundGit: one git command started at once, its answer read later from files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from alerts.background import BackgroundGit


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def test_its_output_is_read_once_git_has_ended_and_again_if_asked(repo: Path) -> None:
    with BackgroundGit(repo, "rev-parse", "--git-dir") as git:
        assert git.finished(within=30)
        assert git.wait() == 0
        assert git.output() == b".git\n"
        assert git.output() == b".git\n"  # the file is read from its start each time


def test_stdin_is_handed_over(repo: Path) -> None:
    with BackgroundGit(repo, "hash-object", "--stdin", stdin=b"hello\n") as git:
        expected = subprocess.run(
            ["git", "hash-object", "--stdin"], input=b"hello\n", capture_output=True, check=True
        ).stdout
        assert git.output() == expected


def test_a_failure_gives_its_status_and_what_git_said(repo: Path) -> None:
    with BackgroundGit(repo, "rev-parse", "no-such-revision^{commit}") as git:
        assert git.wait() != 0
        assert "no-such-revision" in git.errors()


def test_after_closing_it_can_no_longer_be_asked(repo: Path) -> None:
    git = BackgroundGit(repo, "status", "--porcelain")
    git.close()
    git.close()  # again: nothing happens
    with pytest.raises(RuntimeError, match="after it was closed"):
        git.output()


def test_a_missing_folder_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        BackgroundGit(tmp_path / "nowhere", "status")
