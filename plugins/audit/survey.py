"""What an audit reads of each new commit, on every core when there are many (a first audit).

Per commit: the paths it changed (`git log --raw`, mostly tree diffs) and its signature
(mostly the cryptography). Both are the bulk of a first audit and neither depends on
another commit, so forked workers each take a run of commits with a `git log` and a
`git cat-file` of their own, and send back what they found. The oldest run is read here, and
handed out first, so that the audit folds it while the workers still read.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Collection, Generator, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Final, TypeVar

from alerts.parallel import workers_available

from .bulk import collector_paused
from .gitstream import ChangeLog, CommitChanges, read_objects
from .history import HistoryReader, ObjectFormat, Repository
from .judging import check_signatures
from .signing import SignatureCheck, check_signature
from .sshkeys import PublicKey
from .sshsig import load_cryptography

# Below this many commits, forking workers costs more than it saves.
PARALLEL_AT: Final = 512
# The first run's size against an even split: it is read, then folded, here meanwhile.
FIRST_RUN_WEIGHT: Final = 0.9

R = TypeVar("R")

# A SignatureCheck as a worker sends it back, with the key as its wire blob.
_Row = tuple[int, str | None, bytes | None, str | None, bool]
# What a worker finds of one run: the changes of its commits and their signature checks.
_Found = tuple[list[CommitChanges], list[tuple[str, _Row]]]
# What the survey hands out of one run: the changes, the signature checks, and whether it is
# the last run.
Run = tuple[list[CommitChanges], dict[str, SignatureCheck], bool]


def survey(
    reader: HistoryReader,
    repository: Repository,
    commits: Sequence[str],
    unchecked: Collection[str],
) -> Generator[Run, None, None]:
    """The changes of `commits` and the signature checks of those of them that are
    `unchecked` (whose verdict is not cached), a run of commits at a time, in order.

    A generator: close it or read it to the end. There is always at least one run. With many
    commits, the first (oldest) run is read here while forked workers read the others, and
    each is handed out as soon as it is complete: the caller folds the older commits while
    the newer ones are still being read.
    """
    workers = workers_available()
    can_fork = "fork" in multiprocessing.get_all_start_methods()
    if len(commits) < PARALLEL_AT or workers < 2 or not can_fork:
        with ChangeLog(repository.top, commits) as log:
            # While git diffs the trees in the background, verify the signatures: the
            # cryptography does not depend on who may sign, so it need not wait for the diff.
            found = check_signatures(reader, repository, [o for o in commits if o in unchecked])
            yield log.result(), found, True
        return
    if unchecked:
        load_cryptography()
    work = partial(_survey_run, repository.top, repository.object_format, unchecked)
    keys: dict[bytes, PublicKey] = {}
    runs = split_runs(commits, workers)
    for index, (run_changes, rows) in enumerate(forked_but_first(work, runs)):
        yield run_changes, {oid: _check(row, keys) for oid, row in rows}, index == len(runs) - 1


def split_runs(commits: Sequence[str], workers: int) -> list[Sequence[str]]:
    """`commits` cut into one run per worker, the first (read and then folded here) shorter
    by FIRST_RUN_WEIGHT, so that its folding ends about when the other runs have been read."""
    first = max(1, round(len(commits) * FIRST_RUN_WEIGHT / workers))
    size = -(-(len(commits) - first) // (workers - 1))
    return [commits[:first]] + [
        commits[start : start + size] for start in range(first, len(commits), size)
    ]


def forked_but_first(
    work: Callable[[Sequence[str]], R], runs: Sequence[Sequence[str]]
) -> Iterator[R]:
    """`work` of each run, in order, each handed out when done: the first done here, the
    others each in a forked worker, started at once.

    A generator: the workers are stopped when it is closed, and they run on while the
    caller works on an answer. The first run is done here so that the caller can begin
    with it; its answer need not be pickled and sent.
    """
    if len(runs) < 2:
        yield from map(work, runs)
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(len(runs) - 1, initializer=_adopt, initargs=(work, runs)) as pool:
        pending = [pool.apply_async(_run_at, (index,)) for index in range(1, len(runs))]
        yield work(runs[0])
        for answer in pending:
            yield answer.get()


# In a forked worker: the work and its runs, inherited with the parent's memory rather than
# pickled (the set of unchecked commits alone is as long as the history).
_adopted: tuple[Callable[[Sequence[str]], Any], Sequence[Sequence[str]]] | None = None


def _adopt(work: Callable[[Sequence[str]], Any], runs: Sequence[Sequence[str]]) -> None:
    global _adopted
    _adopted = (work, runs)


def _run_at(index: int) -> Any:
    assert _adopted is not None
    work, runs = _adopted
    return work(runs[index])


def _survey_run(
    top: Path, object_format: ObjectFormat, unchecked: Collection[str], run: Sequence[str]
) -> _Found:
    """In a worker: one run of commits, its `git log` working while signatures are checked."""
    with ChangeLog(top, run) as log, collector_paused():
        rows = []
        for oid, _, content in read_objects(top, [oid for oid in run if oid in unchecked]):
            check = check_signature(content, object_format)
            blob = None if check.key is None else check.key.blob
            rows.append((oid, (check.blocks, check.problem, blob, check.namespace, check.valid)))
        return log.result(), rows


def _check(row: _Row, keys: dict[bytes, PublicKey]) -> SignatureCheck:
    blocks, problem, blob, namespace, valid = row
    key = None
    if blob is not None:
        key = keys.get(blob)
        if key is None:
            key = keys[blob] = PublicKey.from_blob(blob)
    return SignatureCheck(blocks, problem, key, namespace, valid)
