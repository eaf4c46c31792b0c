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


def publish(tmp_path: Path, files: dict[str, tuple[str, bytes]]) -> tuple[list[str], object]:
    """One build emitting `files` (path -> key, bytes); returns what it rendered."""
    rendered: list[str] = []
    out = writer(tmp_path)

    def render(rel: str, data: bytes) -> bytes:
        rendered.append(rel)
        return data

    for rel, (key, data) in files.items():
        out.emit(rel, key, lambda rel=rel, data=data: render(rel, data))  # type: ignore[misc]
    return rendered, out.publish()


def test_an_incremental_build_appends_its_changes_to_the_manifest(tmp_path: Path) -> None:
    state = tmp_path / "state"
    site = {f"p{i}.html": ("1", f"page {i}".encode()) for i in range(50)}
    publish(tmp_path, site)
    snapshot = (state / "manifest.index").read_bytes()
    seal = (state / "manifest.json").stat().st_ino

    site["p3.html"] = ("2", b"page three")
    del site["p4.html"]
    rendered, _ = publish(tmp_path, site)
    assert rendered == ["p3.html"]
    assert (state / "manifest.index").read_bytes() == snapshot  # not written again
    assert (state / "manifest.log").stat().st_size < 500
    assert (state / "manifest.json").stat().st_ino != seal  # rewritten: the build changed it

    rendered, stats = publish(tmp_path, site)
    assert rendered == [] and stats.kept == 49  # type: ignore[attr-defined]
    assert not (tmp_path / "output" / "p4.html").exists()
    assert (tmp_path / "output" / "p3.html").read_bytes() == b"page three"


def test_nothing_changed_writes_no_manifest(tmp_path: Path) -> None:
    site = {"a.html": ("1", b"a"), "b.html": ("1", b"b")}
    publish(tmp_path, site)
    manifest = tmp_path / "state" / "manifest.json"
    seal = manifest.stat()
    assert publish(tmp_path, site)[0] == []
    assert (manifest.stat().st_ino, manifest.stat().st_mtime_ns) == (seal.st_ino, seal.st_mtime_ns)


def test_a_torn_manifest_log_only_means_rendering_again(tmp_path: Path) -> None:
    site = {"a.html": ("1", b"a"), "b.html": ("1", b"b")}
    publish(tmp_path, site)
    site["a.html"] = ("2", b"A")
    publish(tmp_path, site)
    log = tmp_path / "state" / "manifest.log"
    log.write_bytes(log.read_bytes()[:-3])  # killed while appending
    snapshot = (tmp_path / "state" / "manifest.index").read_bytes()
    rendered, _ = publish(tmp_path, site)
    assert rendered == ["a.html"]  # its entry was lost: made again, the same bytes
    assert (tmp_path / "state" / "manifest.index").read_bytes() != snapshot  # a new start
    assert publish(tmp_path, site)[0] == []
    assert (tmp_path / "output" / "a.html").read_bytes() == b"A"


def test_a_publish_killed_before_its_moves_leaves_a_manifest_that_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest's changes travel in the publish journal with the moves they describe:
    a kill after the journal is written is finished, manifest and all, by the next build."""
    import alerts.output

    site = {"a.html": ("1", b"a"), "b.html": ("1", b"b")}
    publish(tmp_path, site)
    finish = alerts.output.recover

    def die(output: Path) -> None:
        if (tmp_path / ".output.journal").exists():
            raise RuntimeError("killed once the journal is written")
        finish(output)

    monkeypatch.setattr(alerts.output, "recover", die)
    site["a.html"] = ("2", b"A")
    del site["b.html"]
    with pytest.raises(RuntimeError):
        publish(tmp_path, site)
    monkeypatch.undo()
    assert (tmp_path / "output" / "a.html").read_bytes() == b"a"  # nothing moved yet

    rendered, _ = publish(tmp_path, site)  # recovers first
    assert rendered == []
    assert (tmp_path / "output" / "a.html").read_bytes() == b"A"
    assert not (tmp_path / "output" / "b.html").exists()
    site["b.html"] = ("1", b"b")  # back as it was: the manifest must know it was deleted
    assert publish(tmp_path, site)[0] == ["b.html"]
    assert (tmp_path / "output" / "b.html").read_bytes() == b"b"


def test_another_build_key_renders_everything(tmp_path: Path) -> None:
    site = {"a.html": ("1", b"a")}
    publish(tmp_path, site)
    out = SiteOutput(tmp_path / "output", tmp_path / "state" / "manifest.json", "other")
    out.emit("a.html", "1", lambda: b"a")
    assert out.publish().full


def test_unchanged_keeps_a_file_only_for_the_same_key(tmp_path: Path) -> None:
    publish(tmp_path, {"a.html": ("1", b"a"), "b.html": ("1", b"b")})
    out = writer(tmp_path)
    assert out.unchanged("a.html", "1")
    assert not out.unchanged("b.html", "2")
    assert not out.unchanged("new.html", "1")
    assert out.published_key("b.html") == "1" and out.published_key("new.html") is None
    assert out.unchanged_endings(["b.html", "c.html", "a.html"], ["1", "1", "1"]) == [1, 2]
    out.emit("new.html", "1", lambda: b"new")
    stats = out.publish()
    assert (stats.kept, stats.rendered, stats.deleted) == (2, 1, 0)  # a and b kept


def test_a_file_kept_in_bulk_and_planned_again_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    publish(tmp_path, {"a.html": ("1", b"a"), "b.html": ("1", b"b")})
    out = writer(tmp_path)
    assert out.unchanged_endings(["a.html", "b.html"], ["1", "1"]) == []
    out.emit("a.html", "2", lambda: b"changed")
    with pytest.raises(BuildError, match=r"two outputs would both be written to a\.html"):
        out.publish()
    out.abandon()
    assert (tmp_path / "output" / "a.html").read_bytes() == b"a"


def test_carried_folders_keep_what_is_not_emitted(tmp_path: Path) -> None:
    site = {"x/1.html": ("1", b"1"), "x/2.html": ("1", b"2"), "y/1.html": ("1", b"y")}
    publish(tmp_path, site)
    out = writer(tmp_path)
    out.carry("x/")
    with pytest.raises(ValueError, match="not a folder"):
        out.carry("y")
    out.emit("x/2.html", "2", lambda: b"two")
    stats = out.publish()
    assert sorted(
        p.relative_to(tmp_path / "output").as_posix() for p in (tmp_path / "output").rglob("*.html")
    ) == ["x/1.html", "x/2.html"]
    assert (tmp_path / "output" / "x" / "2.html").read_bytes() == b"two"
    assert stats.deleted == 1  # y/1.html: not emitted, not carried


def test_unchanged_endings_leaves_a_page_planned_already_to_be_reported(tmp_path: Path) -> None:
    publish(tmp_path, {"a.html": ("k1", b"a"), "b.html": ("k1", b"b"), "c.html": ("k2", b"c")})
    out = writer(tmp_path)
    assert out.unchanged("b.html", "k1")
    # b is planned already; c's key ends otherwise; a is kept.
    assert out.unchanged_endings(["a.html", "b.html", "c.html", "d.html"], ["1"] * 4) == [1, 2, 3]
    with pytest.raises(ValueError, match="one ending per file"):
        out.unchanged_endings(["a.html"], [])
    with pytest.raises(BuildError, match="two outputs"):
        out.emit("b.html", "k1", lambda: b"b")
    out.emit("c.html", "k3", lambda: b"c")
    stats = out.publish()
    assert (stats.kept, stats.rendered, stats.deleted) == (3, 1, 0)  # c rendered the same bytes
