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
        rel_dir = here.relative_to(content).as_posix()
        in_alerts = rel_dir == ALERTS_DIR or rel_dir.startswith(ALERTS_DIR + "/")
        refused: set[str] = set()
        for name in sorted((*dirnames, *filenames)):
            path = here / name
            if path.is_symlink():
                message = _link_problem(path, root, in_alerts)
                if message:
                    refused.add(name)
                    problems.append(
                        Problem(path.relative_to(content).as_posix(), 1, "file", message)
                    )
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and not (here / d).is_symlink()
        )
        if in_alerts:
            for name in sorted(filenames):
                if name.startswith(".") or name in refused:
                    continue
                rel = f"{rel_dir}/{name}"
                if name.endswith(".md"):
                    # A link to a file elsewhere in content/ is read like the file itself.
                    found.append(rel)
                else:
                    problems.append(
                        Problem(
                            rel,
                            1,
                            "file",
                            "is not an alert (only .md files belong in content/alerts/)",
                        )
                    )
    return sorted(found), problems


def _link_problem(path: Path, root: Path, in_alerts: bool) -> str | None:
    """Why the symbolic link `path` is refused, or None if it may stay."""
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        target = path.resolve()  # dangling: where it would lead still matters
    except (OSError, RuntimeError):  # a loop: RuntimeError before Python 3.13
        return "is a symbolic link that loops back on itself (remove it)"
    if not target.is_relative_to(root):
        return "is a symbolic link to outside content/ (not allowed: copy the file in instead)"
    if in_alerts and target.is_dir():
        # Walking into linked folders could loop or read an alert twice; skipping them
        # silently would lose alerts.
        return (
            "is a symbolic link to a folder "
            "(folders in content/alerts/ are not followed: move the folder here)"
        )
    return None
