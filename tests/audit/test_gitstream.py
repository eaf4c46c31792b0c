"""Reading a real repository: commit order, changed paths, raw objects, and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.errors import RepositoryError
from audit.gitstream import CatFile, Change, name_status, parents_of, rev_list
from tests.support.signing import SignedRepo

ALERT = "".join(f"line {number} of a long alert\n" for number in range(20))
ODD_NAME = "content/odd name\nwith newline ü.md"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[SignedRepo, list[str]]:
    """add; modify; rename (with a small edit); delete; a side branch merged back."""
    repo = SignedRepo(tmp_path_factory.mktemp("stream"))
    oids = [
        repo.commit(
            {"content/a.md": "a\n", "content/b.md": ALERT, ODD_NAME: "odd\n"},
            "Add",
            None,
            "alice@police.example",
            "2024-05-01T09:00:00Z",
        ),
        repo.commit(
            {"content/a.md": "a, revised\n"},
            "Modify",
            None,
            "bob@police.example",
            "2024-05-02T09:00:00+02:00",
        ),
    ]
    (repo.path / "content/b.md").rename(repo.path / "content/c.md")
    (repo.path / "content/c.md").write_text(ALERT + "one more line\n")
    repo.git("add", "-A")
    oids.append(repo.commit({}, "Rename", None, "alice@police.example", "2024-05-03T09:00:00Z"))
    oids.append(
        repo.commit(
            {"content/a.md": None}, "Delete", None, "alice@police.example", "2024-05-04T09:00:00Z"
        )
    )
    repo.git("checkout", "-q", "-b", "side", oids[1])
    oids.append(
        repo.commit(
            {"content/side.md": "s\n"}, "Side", None, "carol@police.example", "2024-05-05T09:00:00Z"
        )
    )
    repo.git("checkout", "-q", "main")
    repo.git(
        "merge",
        "-q",
        "--no-edit",
        "--no-gpg-sign",
        "side",
        env={
            "GIT_COMMITTER_DATE": "2024-05-06T09:00:00Z",
            "GIT_AUTHOR_DATE": "2024-05-06T09:00:00Z",
        },
    )
    oids.append(repo.git("rev-parse", "HEAD").decode().strip())
    return repo, oids


def test_rev_list_puts_parents_before_children(history: tuple[SignedRepo, list[str]]) -> None:
    repo, oids = history
    listed = rev_list(repo.path, "main")
    assert sorted(listed) == sorted(oids)
    position = {oid: index for index, oid in enumerate(listed)}
    for oid in listed:
        raw = repo.raw_commit(oid)
        assert all(position[parent] < position[oid] for parent in parents_of(raw))
    assert listed[0] == oids[0]
    assert listed[-1] == oids[-1]


def test_rev_list_since_leaves_out_what_was_already_audited(
    history: tuple[SignedRepo, list[str]],
) -> None:
    repo, oids = history
    assert rev_list(repo.path, oids[3], since=oids[1]) == oids[2:4]
    assert set(rev_list(repo.path, "main", since=oids[3])) == {oids[4], oids[5]}
    assert rev_list(repo.path, oids[1], since=oids[1]) == []


def test_name_status_reports_adds_modifies_renames_and_deletes(
    history: tuple[SignedRepo, list[str]],
) -> None:
    repo, oids = history
    commits = name_status(repo.path, oids)
    assert [commit.oid for commit in commits] == oids
    add, modify, rename, delete, side, merge = commits
    assert add.parents == ()
    assert add.changes == (
        Change("A", "content/a.md"),
        Change("A", "content/b.md"),
        Change("A", ODD_NAME),
    )
    assert modify.changes == (Change("M", "content/a.md"),)
    assert modify.committer_email == "bob@police.example"
    assert modify.committer_date == datetime(2024, 5, 2, 7, 0, tzinfo=UTC)
    assert modify.committer_date.utcoffset() is not None
    assert modify.committer_date.utcoffset().total_seconds() == 7200  # type: ignore[union-attr]
    assert len(rename.changes) == 1
    renamed = rename.changes[0]
    assert (renamed.status, renamed.path, renamed.new_path) == ("R", "content/b.md", "content/c.md")
    assert renamed.similarity is not None and 90 <= renamed.similarity < 100
    assert delete.changes == (Change("D", "content/a.md"),)
    assert delete.parents == (oids[2],)
    assert side.parents == (oids[1],)
    # A merge is compared with its first parent: what landed on main.
    assert merge.parents == (oids[3], oids[4])
    assert merge.changes == (Change("A", "content/side.md"),)
    assert merge.committer_email == "editor@police.example"


def test_name_status_of_nothing_runs_nothing(tmp_path: Path) -> None:
    assert name_status(tmp_path, []) == []


def test_name_status_keeps_order_and_drops_repeats(history: tuple[SignedRepo, list[str]]) -> None:
    repo, oids = history
    asked = [oids[3], oids[0], oids[3]]
    assert [commit.oid for commit in name_status(repo.path, asked)] == [oids[3], oids[0]]


def test_name_status_wants_full_object_names(history: tuple[SignedRepo, list[str]]) -> None:
    repo, _ = history
    with pytest.raises(RepositoryError, match="not a full object name"):
        name_status(repo.path, ["main"])
    with pytest.raises(RepositoryError, match="git log failed"):
        name_status(repo.path, ["0" * 40])


def test_cat_file_reads_objects_exactly(history: tuple[SignedRepo, list[str]]) -> None:
    repo, oids = history
    blob = repo.git("rev-parse", f"{oids[0]}:content/b.md").decode().strip()
    with CatFile(repo.path) as objects:
        for oid in oids:
            assert objects.read(oid) == ("commit", repo.raw_commit(oid))
        assert objects.read(blob) == ("blob", ALERT.encode())
        kind, _ = objects.read(f"{oids[0]}^{{tree}}")
        assert kind == "tree"
        many = list(objects.read_many([*oids, blob]))
    assert [oid for oid, _, _ in many] == [*oids, blob]
    assert many[-1][1:] == ("blob", ALERT.encode())


def test_cat_file_reports_missing_objects_and_stays_usable(
    history: tuple[SignedRepo, list[str]],
) -> None:
    repo, oids = history
    with CatFile(repo.path) as objects:
        with pytest.raises(RepositoryError, match=f"object {'0' * 40} is not in the repository"):
            objects.read("0" * 40)
        with pytest.raises(RepositoryError, match="is not an object name"):
            objects.read(f"{oids[0]}\n{oids[1]}")
        assert objects.read(oids[0])[0] == "commit"
        with pytest.raises(RepositoryError, match=f"object {'1' * 40} is not in the repository"):
            list(objects.read_many([oids[0], "1" * 40, oids[1]]))
        assert objects.read(oids[2]) == ("commit", repo.raw_commit(oids[2]))


def test_cat_file_outside_its_block_is_a_mistake(history: tuple[SignedRepo, list[str]]) -> None:
    repo, oids = history
    objects = CatFile(repo.path)
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        objects.read(oids[0])


def test_parents_of_reads_only_the_headers() -> None:
    raw = (
        b"tree 1111\nparent aaaa\nparent bbbb\nauthor a <a@x> 1 +0000\n\n"
        b"parent cccc is mentioned in the message\n"
    )
    assert parents_of(raw) == ("aaaa", "bbbb")


def test_a_folder_that_is_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match=f"{tmp_path} is not a git repository"):
        rev_list(tmp_path, "main")
    with pytest.raises(RepositoryError, match="is not a git repository"), CatFile(tmp_path):
        pass
    with pytest.raises(RepositoryError, match="is not a folder"):
        rev_list(tmp_path / "missing", "main")


def test_a_folder_inside_a_repository_is_not_its_top(
    history: tuple[SignedRepo, list[str]],
) -> None:
    repo, _ = history
    with pytest.raises(RepositoryError, match="is not its top folder"):
        rev_list(repo.path / "content", "main")


@pytest.mark.parametrize("revision", ["no-such-branch", "0" * 40, "main~99", "--all", ""])
def test_an_unknown_revision(history: tuple[SignedRepo, list[str]], revision: str) -> None:
    repo, _ = history
    with pytest.raises(RepositoryError, match="revision"):
        rev_list(repo.path, revision)
    with pytest.raises(RepositoryError, match="revision"):
        rev_list(repo.path, "main", since=revision)


def test_a_revision_that_is_not_a_commit(history: tuple[SignedRepo, list[str]]) -> None:
    repo, oids = history
    blob = repo.git("rev-parse", f"{oids[0]}:content/a.md").decode().strip()
    with pytest.raises(RepositoryError, match=f"unknown revision '{blob}'"):
        rev_list(repo.path, blob)
