"""The one writer of output files: path rules, double writes, incremental publish, recovery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts.errors import BuildError
from alerts.output import SiteOutput, recover


def writer(tmp_path: Path, full: bool = False) -> SiteOutput:
    return SiteOutput(tmp_path / "output", tmp_path / "state" / "manifest.json", "k", full=full)


@pytest.mark.parametrize(
    "rel",
    [
        "../x.html",
        "/etc/passwd",
        "a/../../x.html",
        "../output-evil/x.html",
        "a/../..",
        "",
        ".",
        "a\\..\\x",
        "x\x00y",
    ],
)
def test_refuses_paths_outside_the_output_folder(tmp_path: Path, rel: str) -> None:
    out = writer(tmp_path)
    with pytest.raises(BuildError, match="refusing to write"):
        out.emit(rel, "k", lambda: b"x")
    out.abandon()


def test_refuses_writing_the_same_file_twice(tmp_path: Path) -> None:
    out = writer(tmp_path)
    out.emit("a/index.html", "1", lambda: b"one")
    with pytest.raises(BuildError, match=r"two outputs would both be written to a/index\.html"):
        out.emit("a/index.html", "2", lambda: b"two")
    out.abandon()


def test_incremental_publish_writes_only_changes_and_removes_stale(tmp_path: Path) -> None:
    out = writer(tmp_path)
    out.emit("keep.html", "1", lambda: b"keep")
    out.emit("change.html", "1", lambda: b"old")
    out.emit("gone.html", "1", lambda: b"gone")
    assert out.publish().full
    rendered: list[str] = []

    def render(name: str, data: bytes) -> bytes:
        rendered.append(name)
        return data

    out = writer(tmp_path)
    out.emit("keep.html", "1", lambda: render("keep", b"keep"))
    out.emit("change.html", "2", lambda: render("change", b"new"))
    out.emit("same-bytes.html", "1", lambda: render("same", b"s"))
    stats = out.publish()
    assert not stats.full and rendered == ["change", "same"]
    site = tmp_path / "output"
    assert sorted(p.name for p in site.iterdir()) == ["change.html", "keep.html", "same-bytes.html"]
    assert (site / "change.html").read_bytes() == b"new"
    assert stats.deleted == 1


def test_recover_finishes_an_interrupted_publish(tmp_path: Path) -> None:
    site = tmp_path / "output"
    (site / "a").mkdir(parents=True)
    (site / "a" / "old.html").write_text("old")
    (site / "stale.html").write_text("stale")
    staging = tmp_path / ".output.staging"
    (staging / "a").mkdir(parents=True)
    (staging / "a" / "old.html").write_text("new")
    (staging / "b.html").write_text("b")
    journal = tmp_path / ".output.journal"
    journal.write_text(
        json.dumps(
            {"staging": str(staging), "moves": ["a/old.html", "b.html"], "deletes": ["stale.html"]}
        )
    )
    recover(site)
    assert (site / "a" / "old.html").read_text() == "new"
    assert (site / "b.html").read_text() == "b"
    assert not (site / "stale.html").exists()
    assert not journal.exists() and not staging.exists()


def test_torn_journal_means_nothing_was_moved(tmp_path: Path) -> None:
    site = tmp_path / "output"
    site.mkdir()
    (site / "x.html").write_text("published")
    (tmp_path / ".output.journal").write_text('{"staging": ')
    recover(site)
    assert (site / "x.html").read_text() == "published"
    assert not (tmp_path / ".output.journal").exists()
