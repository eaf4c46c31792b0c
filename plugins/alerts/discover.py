"""Find alert files under content/ and refuse symbolic links that lead outside it."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import Problem
from .validate import ALERTS_DIR


def find_alert_files(content: Path) -> tuple[list[str], list[Problem]]:
    """Relative POSIX paths of every .md file under content/alerts/, sorted, and problems
    with links or stray files anywhere under content/."""
    problems: list[Problem] = []
    root = content.resolve()
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(content, followlinks=False):
        here = Path(dirpath)
        for name in (*dirnames, *filenames):
            path = here / name
            if path.is_symlink():
                rel = path.relative_to(content).as_posix()
                target = path.resolve()
                if not target.is_relative_to(root):
                    problems.append(
                        Problem(rel, 1, "file", "is a symbolic link to outside content/ (not allowed: copy the file in instead)")
                    )
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not (here / d).is_symlink())
        rel_dir = here.relative_to(content).as_posix()
        if rel_dir == ALERTS_DIR or rel_dir.startswith(ALERTS_DIR + "/"):
            for name in filenames:
                if name.startswith("."):
                    continue
                rel = f"{rel_dir}/{name}"
                if name.endswith(".md"):
                    if not (here / name).is_symlink():
                        found.append(rel)
                else:
                    problems.append(
                        Problem(rel, 1, "file", "is not an alert (only .md files belong in content/alerts/)")
                    )
    return sorted(found), problems
