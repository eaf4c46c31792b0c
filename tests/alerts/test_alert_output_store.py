"""The writer keeps the entries of alerts/ apart: a build that carries the folder reads only
the entries it asks about, and drops the folders of alerts that are gone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts.output import AlertPages, SiteOutput


def writer(tmp_path: Path) -> SiteOutput:
    return SiteOutput(tmp_path / "output", tmp_path / "state" / "manifest.json", "k")


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


PAGES = {
    "index.html": b"home",
    "alerts/a/index.html": b"a",
    "alerts/a/history/index.html": b"a history",
    "alerts/b/index.html": b"b",
    "alerts/b/history/index.html": b"b history",
}


@pytest.fixture
def published(tmp_path: Path) -> Path:
    out = writer(tmp_path)
    for rel, data in PAGES.items():
        out.emit(rel, "1", lambda data=data: data)  # type: ignore[misc]
    assert out.publish().full
    return tmp_path


def test_a_carried_folder_is_kept_without_reading_its_entries(
    published: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []
    monkeypatch.setattr(AlertPages, "load", lambda self: loads.append("all"))
    out = writer(published)
    out.carry("alerts/")
    out.drop("alerts/b/")
    out.emit("index.html", "2", lambda: b"home 2")
    out.emit("alerts/c/index.html", "1", lambda: b"c")
    assert out.unchanged("alerts/a/history/index.html", "1")  # one entry, looked up
    stats = out.publish()
    assert loads == []
    assert (stats.rendered, stats.kept, stats.deleted) == (2, 2, 2)
    assert files(published / "output") == {
        "index.html": b"home 2",
        "alerts/a/index.html": b"a",
        "alerts/a/history/index.html": b"a history",
        "alerts/c/index.html": b"c",
    }
    summary = json.loads((published / "state" / "manifest.json").read_text())
    assert summary["alert_files"] == 3
    # The next build finds each entry as this one left it.
    out = writer(published)
    assert out.unchanged("alerts/c/index.html", "1")
    assert out.unchanged("alerts/a/index.html", "1")
    assert out.published_key("alerts/b/index.html") is None
    out.abandon()


def test_a_folder_not_carried_loses_what_the_build_did_not_emit(published: Path) -> None:
    out = writer(published)
    out.emit("index.html", "1", lambda: b"home")
    assert out.unchanged_endings(["alerts/a/index.html"], ["1"]) == []
    stats = out.publish()
    assert stats.deleted == 3
    assert sorted(files(published / "output")) == ["alerts/a/index.html", "index.html"]


def test_a_store_for_another_site_means_a_full_build(published: Path) -> None:
    store = published / "state" / "manifest.alerts.sqlite"
    AlertPages(store, "another site").replace({})
    out = writer(published)
    assert out.full
    out.abandon()
