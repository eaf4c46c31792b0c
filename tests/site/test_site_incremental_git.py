"""Incremental builds of committed content, where git names the files that changed.

The same steps as test_site_incremental.py, each committed: the build takes the tree of HEAD
for content/ and reads only the files that differ from the last build's tree. Every output
byte must still equal a cold build's.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from alerts.cache import AlertCache
from tests.conftest import build, copy_content
from tests.site.test_site_incremental import STEPS, cold, tree

GIT = ["git", "-c", "user.name=T", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]


def commit(repo: Path) -> None:
    subprocess.run([*GIT, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(
        [*GIT, "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "step"], check=True
    )


def test_every_incremental_build_of_commits_equals_a_cold_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = copy_content(tmp_path)
    (tmp_path / ".gitignore").write_text("/.cascade/\n/site/\n/cold/\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    commit(tmp_path)
    taken: list[bool] = []
    real = AlertCache.scan_git

    def spied(self: AlertCache, *args: Any) -> Any:
        found = real(self, *args)
        taken.append(found is not None)
        return found

    monkeypatch.setattr(AlertCache, "scan_git", spied)
    site = tmp_path / "site"
    assert build(content, site) == 0
    assert taken == [False]  # no tree recorded yet: the first build walks
    for number, (change, now) in enumerate(STEPS, 1):
        change(content)
        commit(tmp_path)
        assert build(content, site, now=now) == 0
        assert tree(site) == cold(content, tmp_path / "cold", now), (
            f"step {number}: {change.__name__} at {now}"
        )
    # Each build after the first asked git (a step that changes only the clock stops early).
    assert taken[1:] and all(taken[1:])
