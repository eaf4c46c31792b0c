"""Incremental builds, step by step, against cold builds of the same content and clock.

An incremental build decides from its caches and manifest which pages to render; anything
it gets wrong leaves a stale page. Each step below changes the content (or the clock) in a
way that moves alerts between listings, threads, months and badges, builds incrementally,
and compares every output byte with a build from nothing.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import DEMO_NOW, build, copy_content

NOW = datetime.fromisoformat(DEMO_NOW)


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def cold(content: Path, output: Path, now: str) -> dict[str, str]:
    """The site built from nothing, from the same folder (pages name it in a notice), with
    the incremental build's state put aside meanwhile."""
    state = content.parent / ".cascade"
    aside = content.parent / ".cascade-aside"
    state.rename(aside)
    try:
        shutil.rmtree(output, ignore_errors=True)
        assert build(content, output, "--no-cache", "--full", now=now) == 0
    finally:
        shutil.rmtree(state, ignore_errors=True)
        aside.rename(state)
    return tree(output)


def alert_file(content: Path, alert_id: str) -> Path:
    """An alert's file: a demo alert's in its year folder, a new one's in its month folder."""
    in_year = content / "alerts" / alert_id[:4] / f"{alert_id}.md"
    return in_year if in_year.exists() else in_year.with_name(alert_id[5:7]) / in_year.name


def write_alert(content: Path, alert_id: str, front: str, body: str = "Body text.") -> None:
    path = alert_file(content, alert_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{front.strip()}\n---\n\n{body}\n", encoding="utf-8")


def edit(content: Path, alert_id: str, old: str, new: str) -> None:
    path = alert_file(content, alert_id)
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {alert_id}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def add_old_month(content: Path) -> None:
    write_alert(
        content,
        "2024-02-10-lone-february-alert",
        """
title: "A February alert, alone in its month and year"
level: "red"
issued: "2024-02-10T10:00:00+00:00"
sectors: ["retail"]
source: "met-police"
""",
    )


def move_sectors(content: Path) -> None:
    path = next((content / "alerts").glob("2026/2026-11-17-*.md"))
    text = path.read_text(encoding="utf-8")
    path.write_text(
        re.sub(r"sectors: \[[^\]]*\]", 'sectors: ["banking-finance", "health"]', text, count=1),
        encoding="utf-8",
    )


def remove_old_month(content: Path) -> None:
    alert_file(content, "2024-02-10-lone-february-alert").unlink()


def grow_a_thread(content: Path) -> None:
    write_alert(
        content,
        "2026-04-21-oxford-street-review",
        """
title: "Oxford Street: review of the evacuation"
level: "green"
issued: "2026-04-21T09:00:00+01:00"
sectors: ["retail"]
source: "met-police"
updates: "2026-04-20-oxford-street-reopened"
""",
    )


def retitle_thread_root(content: Path) -> None:
    edit(content, "2026-04-20-oxford-street-evacuation", 'title: "', 'title: "Retitled: ')


def grow_an_attachment(content: Path) -> None:
    pdf = content / "attachments" / "vehicle-checklist.pdf"
    pdf.write_bytes(pdf.read_bytes() + b"\n% one more line\n")


def withdraw(content: Path) -> None:
    path = next((content / "alerts").glob("2026/2026-11-*.md"))
    text = path.read_text(encoding="utf-8")
    assert "status:" not in text
    path.write_text(
        text.replace(
            "\n---\n",
            '\nstatus: "withdrawn"\ncorrections:\n  - at: "2026-11-20T08:00:00+00:00"\n'
            '    note: "Withdrawn: sent in error."\n---\n',
            1,
        ),
        encoding="utf-8",
    )


def nothing(content: Path) -> None:
    pass


LATER = (NOW + timedelta(days=2)).isoformat()
MUCH_LATER = (NOW + timedelta(days=40)).isoformat()

# (what changes, the clock of the build after it)
STEPS: list[tuple[Callable[[Path], None], str]] = [
    (add_old_month, DEMO_NOW),
    (move_sectors, DEMO_NOW),
    (remove_old_month, DEMO_NOW),
    (grow_a_thread, DEMO_NOW),
    (retitle_thread_root, DEMO_NOW),
    (grow_an_attachment, DEMO_NOW),
    (nothing, LATER),  # badges: expired, no longer current
    (withdraw, LATER),
    (nothing, MUCH_LATER),
    (nothing, DEMO_NOW),  # the clock goes back
]


@pytest.mark.parametrize("steps", [len(STEPS)])
def test_every_incremental_build_equals_a_cold_build(tmp_path: Path, steps: int) -> None:
    content = copy_content(tmp_path)
    site = tmp_path / "site"
    assert build(content, site) == 0
    for number, (change, now) in enumerate(STEPS[:steps], 1):
        change(content)
        assert build(content, site, now=now) == 0
        assert tree(site) == cold(content, tmp_path / "cold", now), (
            f"step {number}: {change.__name__} at {now}"
        )


def test_a_build_without_the_cache_in_between_is_not_forgotten(tmp_path: Path) -> None:
    """The cache says what changed since it was saved; a --no-cache build publishes without
    saving it. Planning from the cache's changes after one would miss what that build did."""
    content = copy_content(tmp_path)
    site = tmp_path / "site"
    assert build(content, site) == 0
    edit(content, "2026-04-20-oxford-street-evacuation", 'title: "', 'title: "Changed: ')
    assert build(content, site, "--no-cache") == 0
    edit(content, "2026-04-20-oxford-street-evacuation", 'title: "Changed: ', 'title: "')
    assert build(content, site) == 0  # the cache has this content already: no change to it
    assert tree(site) == cold(content, tmp_path / "cold", DEMO_NOW)
