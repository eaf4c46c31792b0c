"""discover.find_alert_files: which files are alerts, and which links are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.discover import (
    find_alert_files,
    last_change_ns,
    pack_stamp,
    scan_alert_files,
    stamp_of,
    walk_content,
)
from alerts.errors import Problem

OUTSIDE = "is a symbolic link to outside content/ (not allowed: copy the file in instead)"
LOOP = "is a symbolic link that loops back on itself (remove it)"
FOLDER_LINK = (
    "is a symbolic link to a folder "
    "(folders in content/alerts/ are not followed: move the folder here)"
)
STRAY = "is not an alert (only .md files belong in content/alerts/)"


def touch(content: Path, rel: str, text: str = "x") -> Path:
    path = content / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside content/, with a file in it."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "2017-04-20-leak.md").write_text("---\n---\n")
    return folder


def test_finds_markdown_files_sorted(content: Path) -> None:
    touch(content, "alerts/2018/2018-01-01-b.md")
    touch(content, "alerts/2017/2017-04-20-a.md")
    touch(content, "alerts/2017/2017-04-20-c.md")
    assert find_alert_files(content) == (
        ["alerts/2017/2017-04-20-a.md", "alerts/2017/2017-04-20-c.md", "alerts/2018/2018-01-01-b.md"],
        [],
    )  # fmt: skip


def test_misplaced_markdown_is_found_so_validation_can_name_it(content: Path) -> None:
    touch(content, "alerts/2017-04-20-top.md")
    touch(content, "alerts/2017/04/2017-04-20-deep.md")
    assert find_alert_files(content)[0] == [
        "alerts/2017-04-20-top.md",
        "alerts/2017/04/2017-04-20-deep.md",
    ]


@pytest.mark.parametrize(
    "name", ["notes.txt", "2017-04-20-a.markdown", "2017-04-20-a.MD", "image.png", "README"]
)
def test_stray_files_in_alerts_are_problems(content: Path, name: str) -> None:
    touch(content, f"alerts/2017/{name}")
    assert find_alert_files(content) == ([], [Problem(f"alerts/2017/{name}", 1, "file", STRAY)])


def test_stray_files_outside_alerts_are_not_this_modules_business(content: Path) -> None:
    touch(content, "pages/about.txt")
    touch(content, "attachments/bulletin.pdf")
    assert find_alert_files(content) == ([], [])


def test_hidden_files_and_folders_are_ignored(content: Path) -> None:
    touch(content, "alerts/2017/.DS_Store")
    touch(content, "alerts/2017/.2017-04-20-draft.md")
    touch(content, "alerts/.drafts/2017-04-20-x.md")
    touch(content, "alerts/.git/config")
    assert find_alert_files(content) == ([], [])


def test_file_link_to_outside_is_refused_and_not_read(content: Path, outside: Path) -> None:
    (content / "alerts" / "2017").mkdir()
    link = content / "alerts" / "2017" / "2017-04-20-leak.md"
    link.symlink_to(outside / "2017-04-20-leak.md")
    assert find_alert_files(content) == (
        [],
        [Problem("alerts/2017/2017-04-20-leak.md", 1, "file", OUTSIDE)],
    )


def test_folder_link_to_outside_is_refused_and_not_walked(content: Path, outside: Path) -> None:
    (content / "alerts" / "2017").symlink_to(outside, target_is_directory=True)
    assert find_alert_files(content) == ([], [Problem("alerts/2017", 1, "file", OUTSIDE)])


@pytest.mark.parametrize(
    "rel",
    ["attachments/leak.pdf", "pages/deep/leak", "leak", "attachments/.hidden-leak"],
)
def test_links_to_outside_are_refused_anywhere_under_content(
    content: Path, outside: Path, rel: str
) -> None:
    link = content / rel
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside / "2017-04-20-leak.md")
    assert find_alert_files(content) == ([], [Problem(rel, 1, "file", OUTSIDE)])


def test_dangling_link_to_outside_is_refused(content: Path, tmp_path: Path) -> None:
    (content / "attachments" / "gone.pdf").symlink_to(tmp_path / "does-not-exist.pdf")
    assert find_alert_files(content) == (
        [],
        [Problem("attachments/gone.pdf", 1, "file", OUTSIDE)],
    )


def test_relative_link_climbing_out_is_refused(content: Path, outside: Path) -> None:
    (content / "attachments" / "up").symlink_to(Path("..") / ".." / "outside")
    assert find_alert_files(content) == ([], [Problem("attachments/up", 1, "file", OUTSIDE)])


def test_link_to_a_sibling_with_a_shared_prefix_is_outside(content: Path, tmp_path: Path) -> None:
    evil = tmp_path / "content-evil"
    evil.mkdir()
    (content / "attachments" / "x").symlink_to(evil, target_is_directory=True)
    assert find_alert_files(content) == ([], [Problem("attachments/x", 1, "file", OUTSIDE)])


def test_links_inside_content_are_allowed(content: Path) -> None:
    touch(content, "attachments/2017/bulletin.pdf")
    (content / "attachments" / "latest.pdf").symlink_to(Path("2017") / "bulletin.pdf")
    (content / "attachments" / "current").symlink_to("2017", target_is_directory=True)
    assert find_alert_files(content) == ([], [])


def test_file_link_inside_content_is_read_as_an_alert(content: Path) -> None:
    touch(content, "drafts/2017-04-20-a.md")
    (content / "alerts" / "2017").mkdir()
    (content / "alerts" / "2017" / "2017-04-20-a.md").symlink_to(
        Path("..") / ".." / "drafts" / "2017-04-20-a.md"
    )
    assert find_alert_files(content) == (["alerts/2017/2017-04-20-a.md"], [])


def test_folder_link_inside_alerts_is_reported_not_silently_skipped(content: Path) -> None:
    touch(content, "archive/2017/2017-04-20-a.md")
    (content / "alerts" / "2017").symlink_to(
        Path("..") / "archive" / "2017", target_is_directory=True
    )
    assert find_alert_files(content) == ([], [Problem("alerts/2017", 1, "file", FOLDER_LINK)])


def test_looping_links_are_reported(content: Path) -> None:
    (content / "attachments" / "a").symlink_to("b")
    (content / "attachments" / "b").symlink_to("a")
    assert find_alert_files(content) == (
        [],
        [Problem("attachments/a", 1, "file", LOOP), Problem("attachments/b", 1, "file", LOOP)],
    )


def test_content_folder_given_through_a_link(content: Path, tmp_path: Path) -> None:
    touch(content, "alerts/2017/2017-04-20-a.md")
    alias = tmp_path / "content-link"
    alias.symlink_to(content, target_is_directory=True)
    assert find_alert_files(alias) == (["alerts/2017/2017-04-20-a.md"], [])


def test_stamps_are_taken_from_the_files(content: Path) -> None:
    path = touch(content, "alerts/2017/2017-04-20-a.md", "twelve bytes")
    stamps, _ = scan_alert_files(content)
    info = path.stat()
    assert stamps == {
        "alerts/2017/2017-04-20-a.md": pack_stamp(
            12, info.st_mtime_ns, info.st_ctime_ns, info.st_ino
        )
    }
    assert last_change_ns(stamps["alerts/2017/2017-04-20-a.md"]) == max(
        info.st_mtime_ns, info.st_ctime_ns
    )


def test_a_stamp_beyond_64_bits_still_compares() -> None:
    huge = pack_stamp(1, 2**70, 3, 4)
    assert huge == pack_stamp(1, 2**70, 3, 4) != pack_stamp(1, 2**70 + 1, 3, 4)
    assert last_change_ns(huge) is None  # so the cache hashes such a file again


def test_known_stamps_of_regular_files_are_used_not_those_of_links(content: Path) -> None:
    touch(content, "alerts/2017/2017-04-20-a.md")
    target = touch(content, "elsewhere/2017-04-20-b.md")
    (content / "alerts/2017/2017-04-20-b.md").symlink_to(target)
    known = {
        rel: pack_stamp(0, 1, 2, 3)
        for rel in ("alerts/2017/2017-04-20-a.md", "alerts/2017/2017-04-20-b.md")
    }
    stamps, problems = scan_alert_files(content, known)
    assert problems == []
    assert stamps["alerts/2017/2017-04-20-a.md"] == pack_stamp(0, 1, 2, 3)
    # A link's own stamp says nothing of the file it leads to: that one is stat-ed.
    assert stamps["alerts/2017/2017-04-20-b.md"] == stamp_of(target.stat())


def _layout(content: Path) -> None:
    touch(content, "alerts/2017/2017-04-20-a.md")
    touch(content, "alerts/2018/05/2018-05-01-b.md")
    touch(content, "alerts/.drafts/2018-05-02-c.md")  # a hidden folder is not read
    touch(content, "alerts/2018/.2018-05-03-d.md")  # nor a hidden file
    touch(content, "sectors.yml")
    touch(content, "attachments/plan.pdf")


def test_a_plain_walk_is_discoverys_whole_answer(content: Path) -> None:
    _layout(content)
    walk = walk_content(content)
    assert walk.plain
    assert walk.alerts == scan_alert_files(content)[0]
    assert sorted(walk.alerts) == ["alerts/2017/2017-04-20-a.md", "alerts/2018/05/2018-05-01-b.md"]
    # The stamp digests everything, hidden or not, folders included.
    for rel in ("alerts/.drafts/2018-05-02-c.md", "sectors.yml", "attachments", "alerts/2018"):
        assert rel in walk.everything
    # Discovery takes the walk's stamps without listing content/ again: a file added
    # since the walk is seen by the next build, not this one.
    touch(content, "alerts/2019/2019-01-01-e.md")
    assert scan_alert_files(content, walk) == (walk.alerts, [])
    assert "alerts/2019/2019-01-01-e.md" in scan_alert_files(content)[0]


@pytest.mark.parametrize("odd", ["stray", "link"])
def test_a_walk_with_links_or_stray_files_leaves_discovery_to_look(
    content: Path, outside: Path, odd: str
) -> None:
    _layout(content)
    if odd == "stray":
        touch(content, "alerts/2018/notes.txt")
        expected = [Problem("alerts/2018/notes.txt", 1, "file", STRAY)]
    else:
        (content / "alerts/2018/2017-04-20-leak.md").symlink_to(outside / "2017-04-20-leak.md")
        expected = [Problem("alerts/2018/2017-04-20-leak.md", 1, "file", OUTSIDE)]
    walk = walk_content(content)
    assert not walk.plain
    assert scan_alert_files(content, walk)[1] == expected
