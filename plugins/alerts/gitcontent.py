"""content/ as git already knows it: what changed since the last build, without a stat of
every file in Python.

Published content is committed content. When `git status` finds nothing under content/ that
differs from HEAD (no edit, no staged change, no untracked or ignored file), the folder is
exactly the tree HEAD records for it, and that tree's id is a digest of every byte in it. The
files that changed since the last build are then the difference between two trees, which git
computes by comparing only the folders whose ids differ: a handful of entries for one new
alert, however large the archive. git stats the working files itself, in C and on every core,
and handles the "racy clean" case (a file changed within the same clock tick as the index).

Anything else - a dirty or untracked file, no repository, no git, a symbolic link or submodule
in the tree - gives None, and the build walks content/ itself as before.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .background import BackgroundGit
from .discover import ALERTS_DIR

# Tree entry modes git records for what discovery would not read as a plain file.
_LINK, _SUBMODULE = "120000", "160000"


@dataclass(frozen=True)
class Change:
    """One path that differs between two trees (content-relative, POSIX)."""

    path: str
    mode: str  # the new mode ("000000" when deleted)
    blob: str  # the new blob id (all zeros when deleted)

    @property
    def deleted(self) -> bool:
        return self.mode == "000000"


@dataclass(frozen=True)
class GitContent:
    """content/ when it is exactly the tree `tree` of commit `head` (nothing dirty)."""

    content: Path
    head: str
    tree: str

    def changes_since(self, tree: str) -> list[Change] | None:
        """The paths that differ from `tree` (an earlier content tree) to this one, or None
        if git cannot say (that tree was pruned away, say)."""
        if tree == self.tree:
            return []
        out = _git(self.content, "diff-tree", "-r", "-z", "--no-renames", "--raw", tree, self.tree)
        if out is None:
            return None
        return list(_parse_raw(out))

    def listing(self) -> dict[str, tuple[str, str]] | None:
        """Every file of the tree: content-relative path -> (mode, blob id)."""
        out = _git(self.content, "ls-tree", "-r", "-z", "--full-tree", self.tree)
        if out is None:
            return None
        found: dict[str, tuple[str, str]] = {}
        for record in out.split(b"\0"):
            if record:
                meta, _, path = record.partition(b"\t")
                mode, _, blob = meta.decode().split(" ")
                found[path.decode("utf-8", "surrogateescape")] = (mode, blob)
        return found

    def blob_id(self, raw: bytes) -> str:
        """The id git gives a file with these bytes (SHA-1, or SHA-256 in such repositories)."""
        digest = hashlib.sha256() if len(self.tree) == 64 else hashlib.sha1()
        digest.update(b"blob %d\0" % len(raw))
        digest.update(raw)
        return digest.hexdigest()


class Probe:
    """`git status` and `git rev-parse` for content/, started at once and read later, so
    git stats the archive on one core while Python reads settings on the other."""

    def __init__(self, content: Path) -> None:
        self.content = content
        self._result: tuple[GitContent | None] | None = None
        # status, flags, ids: none if git could not be started.
        self._gits: list[BackgroundGit] = []
        try:
            self._gits.append(
                BackgroundGit(
                    content,
                    "status",
                    "--porcelain=v1",
                    "-z",
                    "--untracked-files=all",
                    "--ignored=traditional",
                    "--no-renames",
                    "--",
                    ".",
                )
            )
            # Flags git's view of a file may not match the disk: skip-worktree entries
            # (sparse checkouts) and files marked assume-unchanged.
            self._gits.append(BackgroundGit(content, "ls-files", "-v", "-z", "--", "."))
            self._gits.append(BackgroundGit(content, "rev-parse", "HEAD", "HEAD:./"))
        except OSError:  # no git
            self._close()

    def finished(self, within: float = 0.0) -> bool:
        """Whether git has answered, waiting up to `within` seconds for it."""
        deadline = time.monotonic() + within
        return all(git.finished(max(0.0, deadline - time.monotonic())) for git in self._gits)

    def head(self) -> str | None:
        """The commit checked out: git's first and quickest answer (None without one)."""
        if self._result is not None:
            found = self._result[0]
            return found.head if found is not None else None
        if not self._gits or self._gits[2].wait() != 0:
            return None
        return self._gits[2].output().partition(b"\n")[0].decode().strip() or None

    def result(self) -> GitContent | None:
        """content/ as a clean tree of HEAD, or None."""
        if self._result is None:
            try:
                self._result = (self._wait(),)
            finally:
                self._close()
        return self._result[0]

    def _wait(self) -> GitContent | None:
        if not self._gits:
            return None
        codes = [git.wait() for git in self._gits]
        status, flags, ids = (git.output() for git in self._gits)
        if any(codes) or status or not flags or not _all_plainly_tracked(flags):
            return None
        lines = ids.decode().split()
        if len(lines) != 2:
            return None
        return GitContent(self.content, lines[0], lines[1])

    def _close(self) -> None:
        gits, self._gits = self._gits, []
        for git in gits:
            git.close()


def plain_tree(
    listing: Mapping[str, tuple[str, str]], alerts: Iterable[str], blobs: Mapping[str, str]
) -> bool:
    """Whether a tree holds exactly the alert files `alerts`, with the blob ids `blobs` has
    for those it names, and nothing discovery would treat other than as a plain file."""
    wanted = set(alerts)
    for path, (mode, blob) in listing.items():
        if mode in (_LINK, _SUBMODULE):
            return False
        if is_alert(path):
            if path not in wanted:
                return False
            wanted.discard(path)
            if blobs.get(path, blob) != blob:
                return False
        elif in_alerts(path):
            return False  # a stray file: discovery reports it
    return not wanted


def in_alerts(path: str) -> bool:
    """Whether discovery looks at `path`: under alerts/, in no hidden folder, not hidden."""
    parts = path.split("/")
    return parts[0] == ALERTS_DIR and len(parts) > 1 and not any(p[:1] == "." for p in parts)


def is_alert(path: str) -> bool:
    return path.endswith(".md") and in_alerts(path)


def unusual(change: Change) -> bool:
    """A change a tree difference cannot stand for: a link or submodule, or a stray file
    among the alerts (discovery must look, and report it)."""
    if change.mode in (_LINK, _SUBMODULE):
        return True
    return not change.deleted and in_alerts(change.path) and not is_alert(change.path)


def _all_plainly_tracked(listing: bytes) -> bool:
    # `ls-files -v -z` tags each entry: "H " is a plainly tracked file; "S " skip-worktree,
    # lower case assume-unchanged, others (unmerged...) also make the disk the authority.
    # Counted, not split: an archive lists 100,000 entries.
    return (b"\0" + listing).count(b"\0H ") == listing.count(b"\0")


def _parse_raw(out: bytes) -> Iterable[Change]:
    # ":<old mode> <new mode> <old blob> <new blob> <status>\0<path>\0" per path.
    fields = out.split(b"\0")
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        if not meta.startswith(b":"):
            continue
        _, mode, _, blob, _ = meta[1:].decode().split(" ")
        yield Change(path.decode("utf-8", "surrogateescape"), mode, blob)


def _git(folder: Path, *args: str) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=folder,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None
