"""Fast reading of a git history: one cat-file process for objects, one log pass for changes."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Final

from alerts.background import BackgroundGit

from .errors import RepositoryError

OBJECT_NAME: Final = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# Requests written to cat-file before reading the answers back. Kept under the 64 KiB a pipe
# holds, so writing a batch can never block while git waits for us to read.
_BATCH: Final = 1000
# %x01 marks the start of each commit; the fields are NUL-separated like the -z changes.
_LOG_FORMAT: Final = "--format=%x01%H%x00%P%x00%ce%x00%cI"
# Any name on one line: cat-file reads a whole line as one name (paths may hold spaces).
_REQUEST: Final = re.compile(r"[^\n\0]+")
_STATUS: Final = re.compile(rb"\n?([ACDMRTUXB])([0-9]{0,3})")
# `--raw` output: ":old-mode new-mode old-blob new-blob status" before the path(s).
_RAW_STATUS: Final = re.compile(
    rb"\n?:[0-7]{6} [0-7]{6} ([0-9a-f]{40}|[0-9a-f]{64}) ([0-9a-f]{40}|[0-9a-f]{64}) "
    rb"([ACDMRTUXB])([0-9]{0,3})"
)
# Where there is no blob, --raw writes an object name of zeros.
_NO_BLOBS: Final = frozenset({b"0" * 40, b"0" * 64})
# How os.fsdecode reads a path, without a call of it for each path of each commit.
_FS_ENCODING: Final = sys.getfilesystemencoding()
_FS_ERRORS: Final = sys.getfilesystemencodeerrors()
_RAW_OPTIONS: Final = ("--raw", "--no-abbrev")
# Options of every `git log` we parse: the user's configuration must not change its output.
_LOG_OPTIONS: Final = (
    "--no-walk=unsorted",
    "--stdin",
    "-z",
    "-M",
    "--root",
    "--diff-merges=first-parent",
    "--no-show-signature",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
)


@dataclass(frozen=True)
class Change:
    """One path a commit changed, as `git log --name-status -M` reports it."""

    status: str  # A, C, D, M, R or T
    path: str
    new_path: str | None = None  # for R (renamed) and C (copied) only
    similarity: int | None = None  # percentage, for R and C only
    old_blob: str | None = None  # with --raw only: the content before (None if added)
    new_blob: str | None = None  # with --raw only: the content after (None if deleted)


@dataclass(frozen=True)
class CommitChanges:
    """A commit's parents, committer and changed paths (against its first parent)."""

    oid: str
    parents: tuple[str, ...]
    committer_email: str
    committer_date: datetime
    changes: tuple[Change, ...]


class CatFile:
    """One `git cat-file --batch` process answering object reads for as long as it is open.

    `checked`: the caller already knows `repo` is the top of a repository.
    """

    def __init__(self, repo: Path, *, checked: bool = False) -> None:
        self._repo = repo
        self._checked = checked
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> CatFile:
        if not self._checked:
            check_repository(self._repo)
        self._process = subprocess.Popen(
            ["git", "-C", str(self._repo), "cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None and process.stdout is not None
        # git may already have exited (and closed its end) if the repository vanished.
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
        process.stdout.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def read(self, oid: str) -> tuple[str, bytes]:
        """The type ("commit", "tree", "blob", "tag") and content of one object."""
        stdin, stdout = self._pipes()
        _check_request(oid)
        stdin.write(oid.encode() + b"\n")
        stdin.flush()
        answer = self._answer(stdout)
        if answer is None:
            raise self._missing(oid)
        return answer[1], answer[2]

    def read_many(self, oids: Iterable[str]) -> Iterator[tuple[str, str, bytes]]:
        """(object name, type, content) for each of `oids`, in order, requests pipelined."""
        stdin, stdout = self._pipes()
        batch: list[str] = []
        for oid in oids:
            _check_request(oid)
            batch.append(oid)
            if len(batch) == _BATCH:
                yield from self._exchange(batch, stdin, stdout)
                batch = []
        if batch:
            yield from self._exchange(batch, stdin, stdout)

    def find(self, name: str) -> tuple[str, str, bytes] | None:
        """(object name, type, content) of `name` (such as `commit:path`), or None if none."""
        stdin, stdout = self._pipes()
        _check_request(name)
        stdin.write(name.encode() + b"\n")
        stdin.flush()
        return self._answer(stdout)

    def _exchange(
        self, batch: list[str], stdin: IO[bytes], stdout: IO[bytes]
    ) -> list[tuple[str, str, bytes]]:
        stdin.write("".join(oid + "\n" for oid in batch).encode())
        stdin.flush()
        # Read every answer of the batch before handing any out or raising, so that a caller
        # who stops early, or a missing object, leaves the process in step with us.
        answers = [self._answer(stdout) for _ in batch]
        found = []
        for oid, answer in zip(batch, answers, strict=True):
            if answer is None:
                raise self._missing(oid)
            found.append(answer)
        return found

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        if self._process is None:
            raise RuntimeError("CatFile is used outside its `with` block")
        assert self._process.stdin is not None and self._process.stdout is not None
        return self._process.stdin, self._process.stdout

    def _answer(self, stdout: IO[bytes]) -> tuple[str, str, bytes] | None:
        """The next object from git, or None where git says "missing" or "ambiguous"."""
        header = stdout.readline()
        fields = header.split()
        if not header.endswith(b"\n") or len(fields) not in (2, 3):
            raise RepositoryError(f"git cat-file stopped unexpectedly in {self._repo}")
        if len(fields) == 2:
            return None
        size = int(fields[2])
        content = stdout.read(size + 1)
        if len(content) != size + 1 or content[-1:] != b"\n":
            raise RepositoryError(f"git cat-file stopped unexpectedly in {self._repo}")
        return fields[0].decode(), fields[1].decode(), content[:-1]

    def _missing(self, oid: str) -> RepositoryError:
        return RepositoryError(f"object {oid} is not in the repository {self._repo}")


def read_objects(repo: Path, oids: Sequence[str]) -> Iterator[tuple[str, str, bytes]]:
    """(object name, type, content) of each of `oids`, in order, from one buffered
    `git cat-file --batch` that is handed every request at once: for many objects."""
    for oid in oids:
        _check_request(oid)
    output = _run(repo, "cat-file", "--batch", "--buffer", stdin=_stdin_lines(oids))
    position = 0
    for oid in oids:
        end = output.find(b"\n", position)
        fields = output[position:end].split()
        if end < 0 or len(fields) != 3:
            raise RepositoryError(f"object {oid} is not in the repository {repo}")
        start = end + 1
        position = start + int(fields[2]) + 1
        if position > len(output) or output[position - 1 : position] != b"\n":
            raise RepositoryError(f"git cat-file stopped unexpectedly in {repo}")
        yield fields[0].decode(), fields[1].decode(), output[start : position - 1]


def check_repository(repo: Path) -> None:
    """Raise RepositoryError unless `repo` is the top folder of a repository or a bare one."""
    if not repo.is_dir():
        raise RepositoryError(f"{repo} is not a folder")
    result = _git(repo, "rev-parse", "--absolute-git-dir", "--is-inside-work-tree", "--show-cdup")
    if result.returncode != 0:
        # git's own words matter here: "dubious ownership" reads very differently from "no .git".
        reason = result.stderr.decode(errors="replace").strip().splitlines()
        raise RepositoryError(
            f"{repo} is not a git repository ({reason[0] if reason else 'no reason given'})"
        )
    lines = result.stdout.decode(errors="replace").split("\n")
    git_dir, inside = lines[0], lines[1] == "true"
    at_top = inside and lines[2] == ""
    if not at_top and Path(git_dir) != repo.resolve():
        raise RepositoryError(
            f"{repo} is inside a git repository but is not its top folder ({git_dir})"
        )


def toplevel(folder: Path) -> tuple[Path, str, str]:
    """The top of the work tree holding `folder`, its object format (sha1 or sha256), and
    where `folder` is within it ("" at the top, else a path ending in "/")."""
    if not folder.is_dir():
        raise RepositoryError(f"{folder} is not a folder")
    result = _git(folder, "rev-parse", "--show-toplevel", "--show-object-format", "--show-prefix")
    lines = result.stdout.decode(errors="surrogateescape").split("\n")
    if result.returncode != 0 or len(lines) != 4:
        reason = result.stderr.decode(errors="replace").strip().splitlines()
        raise RepositoryError(
            f"{folder} is not in a git work tree ({reason[0] if reason else 'no reason given'});"
            " the content must be committed to git to be audited"
        )
    if lines[1] not in ("sha1", "sha256"):
        raise RepositoryError(f"{folder}: unknown git object format {lines[1]!r}")
    return Path(lines[0]), lines[1], lines[2]


def find_objects(repo: Path, names: Sequence[str]) -> list[str | None]:
    """The object id each of `names` (such as `HEAD:content`) stands for, or None, in one go."""
    for name in names:
        _check_request(name)
    output = _run(repo, "cat-file", "--batch-check=%(objectname)", stdin=_stdin_lines(names))
    answers = output.decode(errors="surrogateescape").splitlines()
    if len(answers) != len(names):
        raise RepositoryError(f"git cat-file gave {len(answers)} answers for {len(names)} names")
    return [None if OBJECT_NAME.fullmatch(answer) is None else answer for answer in answers]


def resolve_commit(repo: Path, revision: str) -> str:
    """The full object name of the commit `revision` names; RepositoryError if none."""
    if not revision or revision.startswith("-") or "\n" in revision:
        raise RepositoryError(f"{revision!r} is not a revision")
    result = _git(repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if result.returncode != 0:
        raise RepositoryError(f"unknown revision {revision!r} in {repo}")
    return result.stdout.decode("ascii").strip()


def rev_list(repo: Path, head: str, since: str | None = None) -> list[str]:
    """Commits reachable from `head` and not from `since`, parents before children."""
    check_repository(repo)
    arguments = [resolve_commit(repo, head)]
    if since is not None:
        arguments.append("^" + resolve_commit(repo, since))
    output = _run(repo, "rev-list", "--reverse", "--topo-order", *arguments)
    return output.decode("ascii").split()


def parents_of(raw_commit: bytes) -> tuple[str, ...]:
    """The parents named in a raw commit object (`git cat-file commit X`), in order."""
    parents = []
    for line in raw_commit.split(b"\n"):
        if not line:
            break  # the blank line ends the headers
        if line.startswith(b"parent "):
            parents.append(line[len(b"parent ") :].decode("ascii"))
    return tuple(parents)


def name_status(repo: Path, commits: Sequence[str]) -> list[CommitChanges]:
    """Parents, committer and changed paths of each commit, in one `git log` pass.

    Merges are compared with their first parent, the line of history that was published.
    Renames are detected with -M (50% similarity), as `git log -M` does.
    """
    unique = _unique_commits(commits)
    if not unique:
        return []
    check_repository(repo)
    output = _run(
        repo, "log", *_LOG_OPTIONS, "--name-status", _LOG_FORMAT, stdin=_stdin_lines(unique)
    )
    return _parse_checked(repo, output, unique)


class ChangeLog:
    """`git log --raw` over many commits, run in the background (BackgroundGit) while the
    caller works: git diffs trees while Python verifies signatures. Use it as a context
    manager so that the process and its files are cleaned up whatever happens.
    """

    def __init__(self, repo: Path, commits: Sequence[str]) -> None:
        self._repo = repo
        self._commits = _unique_commits(commits)
        self._git: BackgroundGit | None = None

    def __enter__(self) -> ChangeLog:
        if self._commits:
            # Newest first: git stores older trees as deltas of newer ones, so that diffing
            # in this order rebuilds each tree from one it has just read (a fifth less work).
            self._git = BackgroundGit(
                self._repo,
                "log",
                *_LOG_OPTIONS,
                *_RAW_OPTIONS,
                _LOG_FORMAT,
                stdin=_stdin_lines(reversed(self._commits)),
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        git, self._git = self._git, None
        if git is not None:
            git.close()

    def result(self) -> list[CommitChanges]:
        """Wait for git, then each commit's changes with the blob ids before and after."""
        if not self._commits:
            return []
        if self._git is None:
            raise RuntimeError("ChangeLog is used outside its `with` block")
        if self._git.wait() != 0:
            raise RepositoryError(f"git log failed in {self._repo}: {self._git.errors()}")
        newest_first = _parse_checked(self._repo, self._git.output(), self._commits[::-1])
        return newest_first[::-1]


class TreeListing:
    """`tree_paths` run in the background (BackgroundGit) while the caller works, as a
    context manager, so that the process and its output file are cleaned up whatever happens."""

    def __init__(self, repo: Path, commit: str, folder: str) -> None:
        _check_request(commit)
        self._repo, self._commit, self._folder = repo, commit, folder
        self._git: BackgroundGit | None = None

    def __enter__(self) -> TreeListing:
        self._git = BackgroundGit(self._repo, *_ls_tree(self._commit, self._folder))
        return self

    def __exit__(self, *exc_info: object) -> None:
        git, self._git = self._git, None
        if git is not None:
            git.close()

    def result(self) -> list[str]:
        """Wait for git, then the paths it listed."""
        if self._git is None:
            raise RuntimeError("TreeListing is used outside its `with` block")
        if self._git.wait() != 0:
            # Asked again in the foreground, whose error says what git said.
            return tree_paths(self._repo, self._commit, self._folder)
        return _paths(self._git.output())


def parent_map(repo: Path, tips: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Every commit reachable from any of `tips`, mapped to its parents, in one rev-list.

    A tip that is not in the repository (a published head since garbage-collected) is left
    out rather than failing: the caller sees that it is missing from the map.
    """
    names = _unique_commits(tips)
    if not names:
        return {}
    output = _run(
        repo, "rev-list", "--parents", "--stdin", "--ignore-missing", stdin=_stdin_lines(names)
    )
    graph: dict[str, tuple[str, ...]] = {}
    for line in output.decode("ascii").splitlines():
        oid, *parents = line.split()
        graph[oid] = tuple(parents)
    return graph


def walk(
    repo: Path, tips: Sequence[str], stops: Sequence[str]
) -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    """The commits reachable from `tips` but not from `stops`, mapped to their parents; and
    the boundary: the commits of `stops`' history that are parents of those.

    One `git rev-list --boundary`, whose output is as long as the answer, however long the
    history behind `stops`. RepositoryError if any of them is not in the repository.
    """
    names = _unique_commits(tips)
    if not names:
        return {}, frozenset()
    requests = [*names, *("^" + oid for oid in _unique_commits(stops))]
    output = _run(
        repo,
        "rev-list",
        "--parents",
        "--boundary",
        "--stdin",
        stdin=_stdin_lines(requests),
    )
    graph: dict[str, tuple[str, ...]] = {}
    boundary: set[str] = set()
    for line in output.decode("ascii").splitlines():
        oid, *parents = line.split()
        if oid.startswith("-"):
            boundary.add(oid[1:])
        else:
            graph[oid] = tuple(parents)
    return graph, frozenset(boundary)


def tree_paths(repo: Path, commit: str, folder: str) -> list[str]:
    """The paths of the files under `folder` in `commit`, recursively (`git ls-tree -r`)."""
    _check_request(commit)
    return _paths(_run(repo, *_ls_tree(commit, folder)))


def _ls_tree(commit: str, folder: str) -> list[str]:
    return ["ls-tree", "-r", "-z", "--name-only", "--full-tree", commit, "--", folder or "."]


def _paths(output: bytes) -> list[str]:
    return [os.fsdecode(name) for name in output.split(b"\0") if name]


def net_changes(repo: Path, base: str, head: str, folder: str) -> list[Change]:
    """What changed under `folder` between two commits, whatever lies between (`git diff -M`)."""
    _check_request(base)
    _check_request(head)
    output = _run(
        repo,
        "diff",
        "--name-status",
        "-z",
        "-M",
        "--no-ext-diff",
        "--no-textconv",
        "--no-color",
        base,
        head,
        "--",
        folder or ".",
    )
    tokens = output.split(b"\0")
    changes, index = _parse_changes(tokens, 0)
    if index != len(tokens) - 1 and output:
        raise RepositoryError(f"unexpected git diff output in {repo}")
    return changes


def _unique_commits(commits: Sequence[str]) -> list[str]:
    unique = list(dict.fromkeys(commits))
    for oid in unique:
        if not OBJECT_NAME.fullmatch(oid):
            raise RepositoryError(f"{oid!r} is not a full object name")
    return unique


def _stdin_lines(names: Iterable[str]) -> bytes:
    return "".join(name + "\n" for name in names).encode("ascii")


def _parse_checked(repo: Path, output: bytes, asked: list[str]) -> list[CommitChanges]:
    parsed = _parse_log(output.split(b"\0"))
    if [entry.oid for entry in parsed] != asked:
        raise RepositoryError(f"git log in {repo} did not list the commits asked for")
    return parsed


def _parse_log(tokens: list[bytes]) -> list[CommitChanges]:
    """Walk the -z token stream: each commit's four fields, then (status, path[, path])*."""
    commits = []
    index = 0
    # The stream ends with a NUL, so the last token is empty.
    while index < len(tokens) - 1:
        head = tokens[index]
        if not head.startswith(b"\x01") or index + 4 > len(tokens):
            raise RepositoryError(f"unexpected git log output near {head[:60]!r}")
        oid, parents, email, date = tokens[index : index + 4]
        changes, index = _parse_changes(tokens, index + 4)
        commits.append(
            CommitChanges(
                oid=oid[1:].decode("ascii"),
                parents=tuple(parents.decode("ascii").split()),
                committer_email=email.decode("utf-8", errors="surrogateescape"),
                committer_date=datetime.fromisoformat(date.decode("ascii")),
                changes=tuple(changes),
            )
        )
    return commits


def _parse_changes(tokens: list[bytes], index: int) -> tuple[list[Change], int]:
    """The changes from `index` up to the next commit (or the end); and where they stop."""
    changes = []
    last = len(tokens) - 1
    while index < last and not tokens[index].startswith(b"\x01"):
        blobs: tuple[str | None, str | None] = (None, None)
        raw = _RAW_STATUS.fullmatch(tokens[index])
        if raw is not None:
            old, new, letter_bytes, score = raw.groups()
            blobs = (
                None if old in _NO_BLOBS else old.decode("ascii"),
                None if new in _NO_BLOBS else new.decode("ascii"),
            )
        else:
            status = _STATUS.fullmatch(tokens[index])
            if status is None:
                raise RepositoryError(f"unexpected git status {tokens[index][:20]!r}")
            letter_bytes, score = status.groups()
        letter = letter_bytes.decode()
        if letter in "RC":
            if index + 2 >= len(tokens):
                raise RepositoryError("git output ends in the middle of a change")
            path, new_path = tokens[index + 1], tokens[index + 2]
            changes.append(
                Change(
                    letter,
                    path.decode(_FS_ENCODING, _FS_ERRORS),
                    new_path.decode(_FS_ENCODING, _FS_ERRORS),
                    int(score),
                    *blobs,
                )
            )
            index += 3
        else:
            if index + 1 >= len(tokens):
                raise RepositoryError("git output ends in the middle of a change")
            path = tokens[index + 1]
            changes.append(
                Change(letter, path.decode(_FS_ENCODING, _FS_ERRORS), None, None, *blobs)
            )
            index += 2
    return changes, index


def _check_request(oid: str) -> None:
    # A newline would be read by cat-file as a second request and put us out of step.
    if not _REQUEST.fullmatch(oid):
        raise RepositoryError(f"{oid!r} is not an object name")


def _git(repo: Path, *arguments: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    # Always feed stdin (empty if nothing to say) so that git never waits on our terminal.
    # GIT_FLUSH=0: writing to a pipe, git would otherwise flush every line (rev-list: one
    # write, and one wake-up of ours, per commit), and we read the whole answer anyway.
    return subprocess.run(
        ["git", "-C", str(repo), *arguments],
        input=stdin,
        capture_output=True,
        check=False,
        env={**os.environ, "GIT_FLUSH": "0"},
    )


def _run(repo: Path, *arguments: str, stdin: bytes = b"") -> bytes:
    result = _git(repo, *arguments, stdin=stdin)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise RepositoryError(f"git {arguments[0]} failed in {repo}: {message}")
    return result.stdout
