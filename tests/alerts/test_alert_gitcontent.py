"""content/ as a tree of HEAD: when git's word is taken, and what changed between two trees.

Real repositories: the probe runs git itself, and the cache reads only the files git names.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from alerts.cache import AlertCache
from alerts.discover import scan_alert_files
from alerts.gitcontent import GitContent, Probe, plain_tree, unusual
from alerts.registry import load_registry
from tests.conftest import copy_content

GIT = ["git", "-c", "user.name=T", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run([*GIT, "-C", str(repo), *args], check=True, capture_output=True)
    return done.stdout.decode().strip()


def commit(repo: Path, message: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """The demo content, committed: the repository is `tmp_path`, content/ a folder in it."""
    content = copy_content(tmp_path)
    git(tmp_path, "init", "-q")
    commit(tmp_path, "the demo content")
    return content


def an_alert(content: Path) -> Path:
    return sorted(content.glob("alerts/2026/*.md"))[0]


def new_alert(content: Path, suffix: str = ".md") -> Path:
    """A copy of `an_alert` under another name (the same date, as the rules want)."""
    source = an_alert(content)
    path = source.with_name(f"{source.stem}-again{suffix}")
    text = source.read_text(encoding="utf-8")
    path.write_text(text.replace("title: ", "title: Again, ", 1), encoding="utf-8")
    return path


def test_committed_content_is_its_tree(repo: Path) -> None:
    found = Probe(repo).result()
    assert found == GitContent(
        repo, git(repo, "rev-parse", "HEAD"), git(repo, "rev-parse", "HEAD:content")
    )


def test_outside_a_repository_there_is_no_tree(tmp_path: Path) -> None:
    content = copy_content(tmp_path)
    assert Probe(content).result() is None


@pytest.mark.parametrize(
    "change",
    ["edited", "staged", "untracked", "ignored", "hidden", "assumed unchanged", "skipped"],
)
def test_anything_not_committed_means_no_tree(repo: Path, change: str) -> None:
    """The disk is the authority whenever it may differ from HEAD: then the build walks."""
    path = an_alert(repo)
    if change == "edited":
        path.write_text(path.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    elif change == "staged":
        path.write_text(path.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
        git(repo.parent, "add", "-A")
    elif change == "untracked":
        new_alert(repo)
    elif change == "ignored":
        (repo.parent / ".gitignore").write_text("*.draft.md\n")
        commit(repo.parent)
        new_alert(repo, ".draft.md")
    elif change == "hidden":
        (repo / ".notes").mkdir()
        (repo / ".notes" / "todo.txt").write_text("x")
    elif change == "assumed unchanged":
        git(repo.parent, "update-index", "--assume-unchanged", str(path))
        path.write_text(path.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    else:
        git(repo.parent, "update-index", "--skip-worktree", str(path))
    assert Probe(repo).result() is None


def test_a_touched_file_is_still_committed_content(repo: Path) -> None:
    path = an_alert(repo)
    path.write_bytes(path.read_bytes())  # new times, same bytes
    assert Probe(repo).result() is not None


def test_changes_between_trees(repo: Path) -> None:
    before = Probe(repo).result()
    assert before is not None
    added = new_alert(repo)
    edited = an_alert(repo)
    edited.write_text(edited.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    removed = sorted(repo.glob("alerts/2026/*.md"))[-1]
    removed.unlink()
    commit(repo.parent)
    after = Probe(repo).result()
    assert after is not None
    changes = {change.path: change for change in after.changes_since(before.tree) or []}
    rel = {path: path.relative_to(repo).as_posix() for path in (added, edited, removed)}
    assert set(changes) == set(rel.values())
    assert changes[rel[removed]].deleted
    assert changes[rel[added]].blob == after.blob_id(added.read_bytes())
    assert changes[rel[edited]].blob == git(repo.parent, "hash-object", str(edited))
    assert not any(map(unusual, changes.values()))
    assert after.changes_since(after.tree) == []
    assert after.changes_since("0" * 40) is None


def test_links_and_stray_files_are_unusual(repo: Path) -> None:
    before = Probe(repo).result()
    assert before is not None
    (repo / "alerts" / "2026" / "notes.txt").write_text("not an alert")
    (repo / "alerts" / "2026" / "link.md").symlink_to(an_alert(repo).name)
    (repo / "alerts" / ".drafts").mkdir()
    (repo / "alerts" / ".drafts" / "x.txt").write_text("hidden: not discovery's")
    commit(repo.parent)
    after = Probe(repo).result()
    assert after is not None
    flagged = {c.path for c in after.changes_since(before.tree) or [] if unusual(c)}
    assert flagged == {"alerts/2026/notes.txt", "alerts/2026/link.md"}
    listing = after.listing()
    assert listing is not None
    alerts = [p for p in listing if p.endswith(".md") and "link" not in p]
    assert not plain_tree(listing, alerts, {})


def test_a_plain_tree_holds_exactly_the_alerts_read(repo: Path) -> None:
    found = Probe(repo).result()
    assert found is not None
    listing = found.listing()
    assert listing is not None
    alerts, _ = scan_alert_files(repo)
    first = sorted(alerts)[0]
    assert plain_tree(listing, alerts, {first: listing[first][1]})
    assert not plain_tree(listing, alerts, {first: "0" * 40})  # read other bytes than git's
    assert not plain_tree(listing, [*alerts, "alerts/2026/extra.md"], {})
    assert not plain_tree(listing, sorted(alerts)[1:], {})


def cache_of(content: Path) -> AlertCache:
    return AlertCache(content.parent / ".cascade" / "alerts", "code")


def test_the_cache_reads_only_what_git_says_changed(repo: Path) -> None:
    registry = load_registry(repo)
    first = cache_of(repo)
    stamps, _ = scan_alert_files(repo)
    tree = Probe(repo).result()
    assert tree is not None
    assert first.scan(repo, stamps, registry, tree) == []
    assert first.next_tree == tree.tree  # the entries stand for that tree
    first.save("one")

    added = new_alert(repo)
    gone = sorted(repo.glob("alerts/2026/*.md"))[-1]
    gone.unlink()
    commit(repo.parent)
    after = Probe(repo).result()
    assert after is not None
    second = cache_of(repo)
    assert second.scan_git(repo, after, registry) == []
    assert second.hashed == 1 and second.parsed == 1  # only the new file was read
    assert second.next_tree == after.tree

    walked = cache_of(repo)
    walked.scan(repo, scan_alert_files(repo)[0], registry)
    assert {rel: entry[1:] for rel, entry in second.fresh.items()} == {
        rel: entry[1:] for rel, entry in walked.fresh.items()
    }
    new_rel, gone_rel = added.relative_to(repo).as_posix(), gone.relative_to(repo).as_posix()
    assert new_rel in second.fresh and gone_rel not in second.fresh
    changes = second.changes()  # named by git's diff, not by comparing the archive's files
    assert set(changes) == {new_rel, gone_rel}
    assert changes[gone_rel][1] is None and changes[new_rel][0] is None
    second.save("two")
    reopened = cache_of(repo)
    assert reopened.scan_git(repo, after, registry) == []  # the same tree
    assert gone_rel not in reopened.entries and new_rel in reopened.entries


def test_a_file_changed_after_git_looked_is_read_as_it_is(repo: Path) -> None:
    registry = load_registry(repo)
    first = cache_of(repo)
    tree = Probe(repo).result()
    assert tree is not None
    first.scan(repo, scan_alert_files(repo)[0], registry, tree)
    first.save("one")
    added = new_alert(repo)
    commit(repo.parent)
    after = Probe(repo).result()
    assert after is not None
    added.write_text(added.read_text(encoding="utf-8").replace("Again", "Later"), encoding="utf-8")
    second = cache_of(repo)
    assert second.scan_git(repo, after, registry) == []
    assert "Later" in second.alert(added.relative_to(repo).as_posix()).title
    assert second.next_tree == ""  # the entries no longer stand for a tree
    second.save("two")
    assert cache_of(repo).scan_git(repo, after, registry) is None  # so the next build walks


def test_without_a_tree_or_with_a_link_the_cache_walks(repo: Path) -> None:
    registry = load_registry(repo)
    tree = Probe(repo).result()
    assert tree is not None
    assert cache_of(repo).scan_git(repo, tree, registry) is None  # never saved with a tree
    first = cache_of(repo)
    first.scan(repo, scan_alert_files(repo)[0], registry, tree)
    first.save("one")
    (repo / "alerts" / "2026" / "link.md").symlink_to(an_alert(repo).name)
    commit(repo.parent)
    after = Probe(repo).result()
    assert after is not None
    assert cache_of(repo).scan_git(repo, after, registry) is None


def test_the_build_stamp_names_committed_content_by_its_tree(repo: Path) -> None:
    """A touched file changes no byte, so no build; an edit not yet committed is walked."""
    from alerts import stamp

    config = Path(__file__).resolve().parents[2] / "pelicanconf.py"
    output = repo.parent / "output"

    def inputs() -> stamp.Inputs:
        found = stamp.read_inputs(config, {}, repo, output)
        assert found is not None
        return found

    first = inputs()
    assert first.git is not None and first.walk is None and first.settled
    path = an_alert(repo)
    path.write_bytes(path.read_bytes())
    assert inputs().digest == first.digest
    path.write_text(path.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    edited = inputs()
    assert edited.git is None and edited.walk is not None
    assert edited.digest != first.digest
    commit(repo.parent)
    committed = inputs()
    assert committed.git is not None and committed.digest not in (first.digest, edited.digest)


def test_other_work_runs_only_while_git_is_still_looking(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alerts import stamp

    config = Path(__file__).resolve().parents[2] / "pelicanconf.py"
    calls: list[str] = []
    for busy in (True, False):
        monkeypatch.setattr(Probe, "finished", lambda self, within=0.0, busy=busy: not busy)
        found = stamp.read_inputs(
            config,
            {},
            repo,
            repo.parent / "output",
            while_waiting=lambda go_on: calls.append("work"),
        )
        assert found is not None and found.git is not None
    assert calls == ["work"]


def test_after_a_new_commit_other_work_starts_without_giving_git_a_moment(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new commit is a build for certain (the digest names HEAD): git's grace is for
    a build that may have nothing to do. The stamp remembers the commit it was made at."""
    from datetime import UTC, datetime

    from alerts import stamp

    config = Path(__file__).resolve().parents[2] / "pelicanconf.py"
    output = repo.parent / "output"
    graces: list[float] = []
    told: list[Callable[[], bool]] = []
    monkeypatch.setattr(Probe, "finished", lambda self, within=0.0: graces.append(within))

    def build_and_stamp() -> None:
        found = stamp.read_inputs(config, {}, repo, output, while_waiting=told.append)
        assert found is not None and found.head == git(repo, "rev-parse", "HEAD")
        stamp.record(found, datetime(2026, 11, 20, tzinfo=UTC), None, "built", [])

    build_and_stamp()  # no stamp yet: a build for certain
    build_and_stamp()  # the same commit: perhaps nothing to do
    path = new_alert(repo)
    commit(repo.parent)
    build_and_stamp()  # a new commit
    path.unlink()
    commit(repo.parent)
    build_and_stamp()
    build_and_stamp()
    grace = stamp.GIT_GRACE_SECONDS
    assert graces == [0.0, grace, 0.0, 0.0, grace]
    # A build for certain does all its work meanwhile; otherwise only while git looks (here,
    # the patched probe has not finished when asked).
    assert [go_on() for go_on in told] == [True, True, True, True, True]
    monkeypatch.setattr(Probe, "finished", lambda self, within=0.0: True)
    assert [go_on() for go_on in told] == [True, False, True, True, False]


def test_a_probe_has_finished_once_it_answered(repo: Path) -> None:
    probe = Probe(repo)
    assert probe.finished(within=30)
    assert probe.result() is not None
    assert probe.finished()
