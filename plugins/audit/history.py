"""Read a history for the audit: the commit graph, then each new commit in one pass of git."""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from alerts.frontmatter import FrontMatterError, read_source

from .errors import RepositoryError
from .gitstream import CatFile, Change, CommitChanges, find_objects, parent_map, toplevel
from .policy import AuditPolicy
from .records import AlertChange, AlertVersion, CommitRecord, SignersState, canonical

ObjectFormat = Literal["sha1", "sha256"]
_EDITS: Final = frozenset("MT")


@dataclass(frozen=True)
class Repository:
    """The top of a work tree, its object format, and the commit HEAD names."""

    top: Path
    object_format: ObjectFormat
    head: str


def open_repository(folder: Path, content_prefix: str) -> Repository:
    """The repository holding `folder` (the content folder or any folder in the work tree).

    RepositoryError unless HEAD is a commit whose tree holds both `folder` and the content:
    content that is not committed has no history to audit.
    """
    top, object_format, prefix = toplevel(folder)
    names = _names(prefix, content_prefix)
    return _repository(folder, top, object_format, content_prefix, find_objects(top, names))


@contextlib.contextmanager
def opened(folder: Path, policy: AuditPolicy) -> Iterator[tuple[Repository, HistoryReader]]:
    """`open_repository`, and a reader of its objects: one `git cat-file` answers both."""
    top, object_format, prefix = toplevel(folder)
    with CatFile(top, checked=True) as objects:
        answers = [
            found[0] if found else None
            for found in map(objects.find, _names(prefix, policy.content_prefix))
        ]
        repository = _repository(folder, top, object_format, policy.content_prefix, answers)
        yield repository, HistoryReader(repository, policy, objects)


def _names(prefix: str, content_prefix: str) -> list[str]:
    return ["HEAD^{commit}", f"HEAD:{prefix}", f"HEAD:{content_prefix}"]


def _repository(
    folder: Path,
    top: Path,
    object_format: str,
    content_prefix: str,
    answers: Sequence[str | None],
) -> Repository:
    head, here, content = answers
    if head is None:
        raise RepositoryError(f"the repository {top} has no commits yet")
    if here is None:
        raise RepositoryError(f"{folder} is not committed to the repository at {top}")
    if content is None:
        raise RepositoryError(f"{top / content_prefix} is not committed to the repository at {top}")
    return Repository(top, "sha256" if object_format == "sha256" else "sha1", head)


@dataclass(frozen=True)
class Graph:
    """The history of HEAD (and of published heads), and which part of it is audited."""

    head: str
    parents: Mapping[str, tuple[str, ...]]  # reachable from HEAD or from a published head
    reachable: frozenset[str]  # the history of HEAD, prehistory included
    excluded: frozenset[str]  # the prehistory: what `since`'s parents reach

    def in_range(self, oid: str) -> bool:
        return oid in self.reachable and oid not in self.excluded

    def commits(self, among: Collection[str] | None = None) -> list[str]:
        """The audited commits (or those of them `among` these), each after its parents."""
        return parents_first(self.parents, self.head, self.excluded, among)


def read_graph(repo: Repository, since: str | None, tips: Iterable[str]) -> Graph:
    """The history of HEAD from `since` (inclusive; default the root), in one rev-list.

    `tips` (published heads) are walked too, so that the caller can ask what each of them
    reaches; one that is no longer in the repository is simply absent from `parents`.
    """
    parents = parent_map(repo.top, [repo.head])
    # rev-list lists exactly the history of HEAD; published heads outside it (rewritten
    # away) are walked apart, seldom, so that what HEAD reaches needs no walk of our own.
    reachable = frozenset(parents)
    elsewhere = [tip for tip in tips if tip not in parents]
    if elsewhere:
        parents.update(parent_map(repo.top, elsewhere))
    excluded: set[str] = set()
    if since is not None:
        if since not in reachable:
            raise RepositoryError(f"since {since[:12]} is not in the history of HEAD")
        excluded = ancestors(parents, parents[since])
    return Graph(repo.head, parents, reachable, frozenset(excluded))


def ancestors(parents: Mapping[str, tuple[str, ...]], starts: Iterable[str]) -> set[str]:
    """`starts` and every commit reachable from them through `parents`."""
    seen: set[str] = set()
    stack = [oid for oid in starts if oid in parents]
    while stack:
        oid = stack.pop()
        if oid not in seen:
            seen.add(oid)
            stack.extend(parent for parent in parents[oid] if parent not in seen)
    return seen


def parents_first(
    parents: Mapping[str, tuple[str, ...]],
    head: str,
    excluded: Collection[str],
    among: Collection[str] | None,
) -> list[str]:
    """The history of `head` short of `excluded` (and within `among`, if given), each commit
    after its parents, first parents' line first."""
    order: list[str] = []
    seen: set[str] = set()
    # (commit, whether its parents have been pushed): an iterative post-order walk, as a
    # history can be far deeper than Python's recursion limit.
    stack: list[tuple[str, bool]] = [(head, False)]
    while stack:
        oid, expanded = stack.pop()
        if expanded:
            order.append(oid)
            continue
        if oid in seen or oid in excluded or oid not in parents:
            continue
        if among is not None and oid not in among:
            continue
        seen.add(oid)
        stack.append((oid, True))
        stack.extend((parent, False) for parent in reversed(parents[oid]))
    return order


class HistoryReader:
    """Reads commits, blobs and signers files through one `git cat-file` process (`objects`,
    open for as long as the reader is used)."""

    def __init__(self, repo: Repository, policy: AuditPolicy, objects: CatFile) -> None:
        self._repo = repo
        self._policy = policy
        self._objects = objects
        self._versions: dict[str, AlertVersion] = {}

    def raw_commits(self, oids: Iterable[str]) -> dict[str, bytes]:
        """Each commit object exactly as stored, signature headers included."""
        return {oid: content for oid, _, content in self._objects.read_many(oids)}

    def blobs(self, oids: Iterable[str]) -> dict[str, bytes]:
        return {oid: content for oid, _, content in self._objects.read_many(dict.fromkeys(oids))}

    def records(
        self, changes: Sequence[CommitChanges], known: Mapping[str, SignersState]
    ) -> dict[str, CommitRecord]:
        """A record of each of `changes` (given parents first).

        `known` gives the signers files of commits already audited (the last audited head),
        so that they need not be looked up.
        """
        wanted = [
            blob
            for commit in changes
            for change in commit.changes
            if self._is_edit(change)
            for blob in (change.old_blob, change.new_blob)
            if blob is not None
        ]
        contents = self.blobs(wanted)
        is_signers_path = self._policy.is_signers_path
        made: dict[str, CommitRecord] = {}
        for commit in changes:
            parent_state = None
            if commit.parents:
                first = commit.parents[0]
                earlier = made.get(first)
                parent_state = (
                    earlier.signers
                    if earlier is not None
                    else known.get(first) or self._signers_state(first)
                )
            signers_changes = tuple(
                path
                for change in commit.changes
                for path in (change.path, change.new_path)
                if path is not None and is_signers_path(path)
            )
            made[commit.oid] = CommitRecord(
                oid=commit.oid,
                parents=commit.parents,
                committer_email=commit.committer_email,
                committer_date=commit.committer_date,
                parent_signers=parent_state,
                # A commit that touches nothing in the signers folder keeps its parent's files.
                signers=(
                    parent_state
                    if parent_state is not None and not signers_changes
                    else self._next_state(parent_state, commit.changes)
                ),
                signers_changes=signers_changes,
                alert_changes=tuple(self._alert_changes(commit.changes, contents)),
            )
        return made

    def _signers_state(self, commit: str) -> SignersState:
        """The signers files of a commit outside the audited range (the parent of `since`)."""
        return SignersState(
            self._blob_id(f"{commit}:{self._policy.allowed_signers_path}"),
            self._blob_id(f"{commit}:{self._policy.revoked_keys_path}"),
        )

    def _blob_id(self, name: str) -> str | None:
        found = self._objects.find(name)
        return found[0] if found is not None and found[1] == "blob" else None

    def _next_state(self, state: SignersState | None, changes: Iterable[Change]) -> SignersState:
        allowed_path = self._policy.allowed_signers_path
        revoked_path = self._policy.revoked_keys_path
        blobs = {
            allowed_path: state.allowed if state else None,
            revoked_path: state.revoked if state else None,
        }
        for change in changes:
            if change.status == "R" and change.path in blobs:
                blobs[change.path] = None
            target = change.new_path or change.path
            if target in blobs:
                blobs[target] = change.new_blob
        return SignersState(blobs[allowed_path], blobs[revoked_path])

    def _is_edit(self, change: Change) -> bool:
        """An edit of an alert, or a rename of one to another: both versions are read."""
        if change.status in _EDITS:
            return self._policy.is_alert_path(change.path)
        return (
            change.status == "R"
            and self._policy.is_alert_path(change.path)
            and change.new_path is not None
            and self._policy.is_alert_path(change.new_path)
        )

    def _alert_changes(
        self, changes: Iterable[Change], contents: Mapping[str, bytes]
    ) -> Iterable[AlertChange]:
        is_alert = self._policy.is_alert_path
        for change in changes:
            old, new = change.path, change.new_path
            if change.status in "RC" and new is not None:
                if change.status == "R" and is_alert(old):
                    yield self._edit(change, old, new, contents)
                elif is_alert(new):
                    # A copy, or a file moved in from elsewhere, adds an alert.
                    yield AlertChange("A", None, new, None, None, "")
            elif is_alert(old):
                if change.status == "A":
                    yield AlertChange("A", None, old, None, None, "")
                elif change.status == "D":
                    yield AlertChange("D", old, None, None, None, "")
                elif change.status in _EDITS:
                    yield self._edit(change, old, old, contents)

    def _edit(
        self, change: Change, old_path: str, new_path: str, contents: Mapping[str, bytes]
    ) -> AlertChange:
        """An edit (both versions summarised), or a rename (a diff when it stays an alert)."""
        if not self._is_edit(change):
            return AlertChange(change.status, old_path, new_path, None, None, "")
        if change.old_blob is None or change.new_blob is None:
            raise RepositoryError(f"git reported no blob for the change to {old_path}")
        before, after = contents[change.old_blob], contents[change.new_blob]
        edit = change.status in _EDITS
        return AlertChange(
            status=change.status,
            old_path=old_path,
            new_path=new_path,
            old=self._version(change.old_blob, before) if edit else None,
            new=self._version(change.new_blob, after) if edit else None,
            diff=unified_diff(before, after, old_path, new_path),
        )

    def _version(self, blob: str, content: bytes) -> AlertVersion:
        # An alert edited n times is read n+1 times, not 2n: each version once.
        if blob not in self._versions:
            self._versions[blob] = summarise_alert(content)
        return self._versions[blob]


def summarise_alert(raw: bytes) -> AlertVersion:
    """The fields of an alert file that the no-silent-edits rule compares, read strictly."""
    try:
        source = read_source(raw)
    except FrontMatterError as error:
        return AlertVersion(None, False, (), f"line {error.line}: {error.field}: {error.message}")
    metadata = source.metadata
    corrections = metadata.get("corrections", [])
    if not isinstance(corrections, list):
        line = source.lines.get("corrections", 1)
        return AlertVersion(
            None, False, (), f"line {line}: corrections is not a list of {{at, note}} entries"
        )
    return AlertVersion(
        issued=canonical(metadata["issued"]) if "issued" in metadata else None,
        withdrawn=metadata.get("status") == "withdrawn",
        corrections=tuple(canonical(entry) for entry in corrections),
    )


def unified_diff(before: bytes, after: bytes, old_path: str, new_path: str) -> str:
    """A unified diff of two versions of a text file, as `git diff` would label it."""
    lines = difflib.unified_diff(
        before.decode("utf-8", errors="replace").splitlines(),
        after.decode("utf-8", errors="replace").splitlines(),
        f"a/{old_path}",
        f"b/{new_path}",
        lineterm="",
    )
    return "\n".join(lines) + "\n" if before != after else ""
