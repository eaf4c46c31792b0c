"""The build stamp: a rebuild with nothing changed stops before Pelican starts, and a
change to any input - content, settings, history, clock, output folder - builds for real."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from alerts import build as alerts_build
from alerts import discover, stamp
from alerts.collection import AlertCollection
from alerts.index import KEY, micros, slim_of
from alerts.model import Alert, Correction, Level
from tests.cli.test_cli import tree_digest
from tests.conftest import DEMO_NOW, ROOT, build, copy_content

SKIPPED = "(nothing changed since the last build)"


def age(root: Path, seconds: float = 3600) -> None:
    """Make every file look written an hour ago: fresh files are never trusted (racy)."""
    moment = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (moment, moment))


class PelicanRuns:
    """Counts real builds: the early stop must not start Pelican at all."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real: Callable[..., Any] = alerts_build.run_pelican

        def counted(settings: dict[str, Any]) -> Any:
            self.count += 1
            return real(settings)

        monkeypatch.setattr(alerts_build, "run_pelican", counted)


@pytest.fixture()
def runs(monkeypatch: pytest.MonkeyPatch) -> PelicanRuns:
    return PelicanRuns(monkeypatch)


@pytest.fixture()
def site(tmp_path: Path) -> tuple[Path, Path]:
    content = copy_content(tmp_path)
    age(content)
    output = tmp_path / "output"
    assert build(content, output) == 0
    return content, output


def stamp_of(content: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (content.parent / ".cascade" / "cache" / stamp.STAMP_FILE).read_text()
    )
    return data


def test_nothing_changed_stops_before_pelican_and_keeps_the_site(
    site: tuple[Path, Path], runs: PelicanRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    content, output = site
    before = tree_digest(output)
    capsys.readouterr()
    assert build(content, output) == 0
    out = capsys.readouterr().out
    assert runs.count == 0
    assert SKIPPED in out and " 0 rendered" in out and "built 41 alerts" in out
    assert "note: History not verified" in out  # the honest notice is printed again
    assert tree_digest(output) == before


def test_a_build_runs_without_the_collector_from_its_first_step(
    site: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stamp's step may import Pelican while git looks (a new commit): the collector
    is paused by then, and the build leaves it as it found it."""
    import gc

    content, output = site
    seen: list[bool] = []
    real = stamp.read_inputs

    def watched(*args: Any, **kwargs: Any) -> stamp.Inputs | None:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(stamp, "read_inputs", watched)
    assert gc.isenabled()
    assert build(content, output) == 0
    assert seen == [False]
    assert gc.isenabled()


def test_an_edit_that_keeps_the_size_still_builds(
    site: tuple[Path, Path], runs: PelicanRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    content, output = site
    path = next(content.glob("alerts/2026/2026-11-18-*.md"))
    text = path.read_text(encoding="utf-8")
    changed = text.replace("the", "teh", 1)
    assert len(changed) == len(text) and changed != text
    path.write_text(changed, encoding="utf-8")
    capsys.readouterr()
    assert build(content, output) == 0
    assert runs.count == 1 and SKIPPED not in capsys.readouterr().out
    assert "teh" in (output / "alerts" / path.stem / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "change",
    ["new attachment", "full", "no-cache", "output removed", "output file tampered"],
)
def test_every_other_change_builds_for_real(
    site: tuple[Path, Path], runs: PelicanRuns, change: str
) -> None:
    content, output = site
    before = tree_digest(output)
    extra: list[str] = []
    if change == "new attachment":
        (content / "attachments" / "extra.txt").write_text("x", encoding="utf-8")
    elif change in ("full", "no-cache"):
        extra = [f"--{change}"]
    elif change == "output removed":
        subprocess.run(["rm", "-rf", str(output)], check=True)
    else:
        # Someone edited the published site: the output folder is ours, so --full repairs it.
        (output / "index.html").write_text("tampered", encoding="utf-8")
        extra = ["--full"]
    assert build(content, output, *extra) == 0
    assert runs.count == 1
    if change != "new attachment":
        assert tree_digest(output) == before  # the real build restores the site exactly


def test_other_settings_build_for_real(
    site: tuple[Path, Path], runs: PelicanRuns, tmp_path: Path
) -> None:
    content, output = site
    conf = tmp_path / "conf.py"
    conf.write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom pelicanconf import *\n"
        f"THEME = {str(ROOT / 'theme')!r}\nPLUGIN_PATHS = [{str(ROOT / 'plugins')!r}]\n"
        "HOME_LATEST = 5\n",
        encoding="utf-8",
    )
    assert build(content, output, "--settings", str(conf)) == 0
    assert build(content, output, "--settings", str(conf)) == 0
    assert runs.count == 1
    conf.write_text(conf.read_text().replace("HOME_LATEST = 5", "HOME_LATEST = 6"))
    assert build(content, output, "--settings", str(conf)) == 0
    assert runs.count == 2


def test_a_new_commit_builds_for_real(
    tmp_path: Path, runs: PelicanRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    """The audit pages show the history, so a commit that changes no file still counts."""
    content = copy_content(tmp_path)
    git = [
        "git",
        "-c",
        "user.name=T",
        "-c",
        "user.email=t@example.org",
        "-c",
        "commit.gpgsign=false",
    ]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "add", "."], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-qm", "one"], check=True)
    age(content)
    output = tmp_path / "output"
    assert build(content, output) == 0
    assert build(content, output) == 0
    assert runs.count == 1
    subprocess.run(
        [*git, "-C", str(tmp_path), "commit", "-q", "--allow-empty", "-m", "two"], check=True
    )
    capsys.readouterr()
    assert build(content, output) == 0
    assert runs.count == 2
    assert "2 violation(s) of the rules: signed" in capsys.readouterr().out  # both commits


def test_the_stamp_holds_exactly_until_the_clock_changes_a_page(
    site: tuple[Path, Path], runs: PelicanRuns, tmp_path: Path
) -> None:
    content, output = site
    stamped = tree_digest(output)
    until = datetime.fromisoformat(stamp_of(content)["valid_until"])
    assert until > datetime.fromisoformat(DEMO_NOW)
    just_before = (until - timedelta(seconds=1)).isoformat()
    assert build(content, output, now=just_before) == 0
    assert runs.count == 0
    # What the stamp kept is what a cold build at that moment writes.
    cold = tmp_path / "cold"
    assert build(content, cold, "--full", "--no-cache", now=just_before) == 0
    assert tree_digest(cold) == stamped
    runs.count = 0
    assert build(content, output, now=until.isoformat()) == 0
    assert runs.count == 1
    assert tree_digest(output) != stamped  # the boundary was real: a page changed


def test_a_clock_that_goes_back_builds_for_real(site: tuple[Path, Path], runs: PelicanRuns) -> None:
    content, output = site
    earlier = (datetime.fromisoformat(DEMO_NOW) - timedelta(hours=1)).isoformat()
    assert build(content, output, now=earlier) == 0
    assert runs.count == 1


def test_files_written_a_moment_ago_are_not_trusted(tmp_path: Path, runs: PelicanRuns) -> None:
    content = copy_content(tmp_path)
    age(content)
    (content / "attachments" / "fresh.txt").write_text("now", encoding="utf-8")
    output = tmp_path / "output"
    assert build(content, output) == 0
    assert not (tmp_path / ".cascade" / "cache" / stamp.STAMP_FILE).exists()
    assert build(content, output) == 0
    assert runs.count == 2


def test_a_failed_build_forgets_the_stamp(site: tuple[Path, Path]) -> None:
    content, output = site
    path = content / "alerts" / "2026" / "2026-11-19-broken.md"
    path.write_text("---\ntitle: x\n---\n", encoding="utf-8")
    assert build(content, output) == 1
    assert not (content.parent / ".cascade" / "cache" / stamp.STAMP_FILE).exists()


def test_next_change_is_the_earliest_boundary_after_now() -> None:
    now = datetime(2026, 11, 20, 9, tzinfo=UTC)

    def alert(issued: datetime, expires: datetime | None, corrected: list[datetime]) -> Alert:
        return Alert(
            id=f"{issued:%Y-%m-%d}-x",
            path="alerts/x.md",
            title="x",
            level=Level.AMBER,
            issued=issued,
            sectors=("retail",),
            sources=("met-police",),
            summary="",
            body_html="",
            expires=expires,
            corrections=tuple(Correction(at, "note") for at in corrected),
        )

    alerts = [
        alert(now - timedelta(days=100), None, [now - timedelta(days=44, hours=23)]),
        alert(now - timedelta(days=6, hours=20), now + timedelta(days=3), []),
        alert(now - timedelta(days=40), now - timedelta(days=1), []),
    ]
    # the second alert leaves the 7-day current window in 4 hours; the first alert's
    # correction leaves the 45-day retention window in 1 hour, which comes first
    slims = sorted((slim_of(a, ()) for a in alerts), key=itemgetter(KEY))  # newest first
    for collection in (AlertCollection.of(alerts), SimpleNamespace(slims=slims)):
        boundaries = stamp.alert_boundaries(collection, window_days=7, retention_days=45, now=now)
        assert stamp.next_change(boundaries, now) == now + timedelta(hours=1)
    assert stamp.next_change([], now) is None
    assert stamp.next_change([micros(now), micros(now) - 1], now) is None


@pytest.mark.parametrize(
    ("issued_ago", "expires_in", "corrected_ago", "first_in"),
    [
        # expires in 2 h, before anything else
        (timedelta(days=1), timedelta(hours=2), None, timedelta(hours=2)),
        # issued 3 h from now (within tolerance): it begins then
        (-timedelta(hours=3), None, None, timedelta(hours=3)),
        # leaves the 7-day current box in 5 h
        (timedelta(days=6, hours=19), None, None, timedelta(hours=5)),
        # leaves the 45-day feed retention window in 6 h
        (timedelta(days=44, hours=18), None, None, timedelta(hours=6)),
        # its correction leaves the retention window in 7 h
        (timedelta(days=90), None, timedelta(days=44, hours=17), timedelta(hours=7)),
    ],
)
def test_each_kind_of_boundary_is_found(
    issued_ago: timedelta,
    expires_in: timedelta | None,
    corrected_ago: timedelta | None,
    first_in: timedelta,
) -> None:
    now = datetime(2026, 11, 20, 9, tzinfo=UTC)
    alert = Alert(
        id="2026-11-20-x",
        path="alerts/x.md",
        title="x",
        level=Level.AMBER,
        issued=now - issued_ago,
        sectors=("retail",),
        sources=("met-police",),
        summary="",
        body_html="",
        expires=None if expires_in is None else now + expires_in,
        corrections=() if corrected_ago is None else (Correction(now - corrected_ago, "n"),),
    )
    collection = SimpleNamespace(slims=[slim_of(alert, ())])
    boundaries = stamp.alert_boundaries(collection, window_days=7, retention_days=45, now=now)
    assert stamp.next_change(boundaries, now) == now + first_in


def test_folders_named_relative_to_the_working_folder_are_stamped_too(
    site: tuple[Path, Path], runs: PelicanRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    content, output = site
    monkeypatch.chdir(content.parent)
    relative = (Path(content.name), Path(output.name))
    assert build(*relative) == 0  # the stamp was taken for the absolute folders: same inputs
    assert runs.count == 0
    (content / "sectors.yml").write_text((content / "sectors.yml").read_text() + "\n")
    age(content)
    assert build(*relative) == 0 and runs.count == 1
    assert build(*relative) == 0 and runs.count == 1  # and that build stamped itself


def test_a_real_build_reads_content_once(
    site: tuple[Path, Path], runs: PelicanRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stamp's walk of content/ is handed to discovery, which does not list it again."""
    content, output = site
    source = next(content.glob("alerts/2026/2026-11-18-*.md"))
    copy = source.with_name(source.name.replace(".md", "-again.md"))
    copy.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")  # a new alert
    listed: list[str] = []
    real_scan = discover._scan

    def counted(content: Path, rel_dir: str, *rest: Any) -> None:
        listed.append(rel_dir)
        real_scan(content, rel_dir, *rest)

    monkeypatch.setattr(discover, "_scan", counted)
    assert build(content, output) == 0
    assert runs.count == 1 and listed == []
    assert (output / "alerts" / copy.stem / "index.html").is_file()
