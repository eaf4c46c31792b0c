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
from typing import Any, Final, TypeVar

from alerts.parallel import workers_available

from .bulk import collector_paused
from .gitstream import CatFile, ChangeLog, CommitChanges, read_objects
from .history import HistoryReader, Repository
from .judging import check_signatures
from .policy import AuditPolicy
from .signing import SignatureCheck, check_signature
from .sshsig import load_cryptography

# Below this many commits, forking workers costs more than it saves.
PARALLEL_AT: Final = 512
# The first run's size against an even split: it is read here, where the runs are then added
# up and the totals saved, and its trees (the oldest) are the smallest to diff.
FIRST_RUN_WEIGHT: Final = 1.0

R = TypeVar("R")
T = TypeVar("T")

# What is made of each run, in the process that read it, from a reader of that process, the
# run's changes and its signature checks.
Finish = Callable[[HistoryReader, list[CommitChanges], dict[str, SignatureCheck]], T]


def survey(
    reader: HistoryReader,
    repository: Repository,
    policy: AuditPolicy,
    commits: Sequence[str],
    unchecked: Collection[str],
    finish: Finish[T],
) -> Generator[tuple[T, bool], None, None]:
    """What `finish` makes of each run of `commits`, in order, and whether it is the last.

    `finish` is given each run's changes and the signature checks of those of its commits
    that are `unchecked` (whose verdict is not cached). A generator: close it or read it to
    the end. There is always at least one run. With many commits, the first (oldest) run is
    read and finished here while forked workers read and finish the others, each handed out
    as soon as it is complete: the caller adds up the older commits while the newer ones are
    still being read.
    """
    workers = workers_available()
    can_fork = "fork" in multiprocessing.get_all_start_methods()
    if len(commits) < PARALLEL_AT or workers < 2 or not can_fork:
        with ChangeLog(repository.top, commits) as log:
            # While git diffs the trees in the background, verify the signatures: the
            # cryptography does not depend on who may sign, so it need not wait for the diff.
            found = check_signatures(reader, repository, [o for o in commits if o in unchecked])
            changes = log.result()
        yield finish(reader, changes, found), True
        return
    if unchecked:
        load_cryptography()
    work = partial(_survey_run, repository, policy, unchecked, finish)
    runs = split_runs(commits, workers)
    for index, answer in enumerate(forked_but_first(work, runs)):
        yield answer, index == len(runs) - 1


def split_runs(commits: Sequence[str], workers: int) -> list[Sequence[str]]:
    """`commits` cut into one run per worker, the first (read here) weighed by FIRST_RUN_WEIGHT
    against the others, so that every process ends about when the others do."""
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
    repository: Repository,
    policy: AuditPolicy,
    unchecked: Collection[str],
    finish: Finish[T],
    run: Sequence[str],
) -> T:
    """One run of commits, its `git log` working while signatures are checked, finished
    with a `git cat-file` of this process's own."""
    top = repository.top
    with ChangeLog(top, run) as log, collector_paused(), CatFile(top, checked=True) as objects:
        checks = {
            oid: check_signature(content, repository.object_format)
            for oid, _, content in read_objects(top, [oid for oid in run if oid in unchecked])
        }
        changes = log.result()
        return finish(HistoryReader(repository, policy, objects), changes, checks)
