"""Audit a content repository's history against the publishing rules, and keep its ledger."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from .bulk import collector_paused
from .conclude import conclude
from .errors import AuditError
from .fold import FoldedRun, Folding, alerts_at_head, fold_run
from .gitstream import (
    OBJECT_NAME,
    Change,
    CommitChanges,
    TreeListing,
    net_changes,
    resolve_commit,
    tree_paths,
)
from .history import HistoryReader, Repository, open_repository, opened, read_graph
from .judging import judge_commits, read_signer_files
from .ledger import Ledger, RewriteAcceptance
from .policy import AuditPolicy
from .reach import Reach, full_reach, incremental_reach, ledger_digest
from .records import CommitRecord, SignersState
from .report import AuditReport
from .signing import PolicyFiles, SignatureCheck
from .state import AuditState, load_state, save_state
from .survey import survey
from .verdicts import CachedVerdicts, Verdict, VerdictSaver, verdict_writer


def audit_repository(
    repo: Path,
    policy: AuditPolicy,
    now: datetime,
    ledger: Ledger,
    cache_dir: Path | None = None,
) -> AuditReport:
    """Hold every commit of HEAD's history since `policy.since` to the rules.

    `repo` is the content folder or any folder in the work tree. `now` is the build's clock:
    the moment the publisher first saw any commit that neither the cache nor the ledger has
    seen before. With a `cache_dir`, verdicts, first-seen times and the totals at the last
    audited head are kept there, and a later audit reads only the commits added since.
    Raises RepositoryError when there is no history to audit.
    """
    _check_aware(now)
    # A first audit makes several objects per commit, none in a cycle, and saves them: the
    # collections they would set off only scan the growing heap again and again.
    with opened(repo, policy) as (repository, reader), collector_paused():
        return _audit(repository, reader, policy, now, ledger, cache_dir)


def _audit(
    repository: Repository,
    reader: HistoryReader,
    policy: AuditPolicy,
    now: datetime,
    ledger: Ledger,
    cache_dir: Path | None,
) -> AuditReport:
    since = resolve_commit(repository.top, policy.since) if policy.since else None
    key = _state_key(policy, since)
    cached_state = load_state(cache_dir, key)
    reach = None
    if cached_state is not None:
        reach = incremental_reach(repository, cached_state, ledger, cache_dir)
    if reach is None:
        reach = full_reach(repository, since, ledger, AuditState(key), cache_dir)
    base, new, cached, published = reach.base, reach.new, reach.cached, reach.published
    with contextlib.ExitStack() as stack:
        # A first audit has git list the alert files at HEAD meanwhile; a later one works
        # them out from the last totals and the new commits' records.
        listing = None
        if not base.head:
            listing = TreeListing(repository.top, reach.head, policy.alerts_dir)
            stack.enter_context(listing)
        if cached.first_seen or published:
            first_seen = {oid: _first_seen(oid, cached, ledger, published, now) for oid in new}
        else:
            # Neither the cache nor the ledger knows any commit (a first audit, before the
            # workers that wait for it start): each was first seen now.
            first_seen = dict.fromkeys(new, now)
        # Once judged, the verdicts are written while the last run is added and the totals
        # are saved (after a full audit, the cache keeps only the commits the range holds).
        save = stack.enter_context(verdict_writer(cache_dir if new else None, reach.keep, len(new)))
        runs = _read_runs(reader, repository, reach, first_seen, policy, save, keep=listing is None)
        save(CachedVerdicts(runs.verdicts, first_seen), runs.parts or ())
        runs.folding.add(runs.last)
        if listing is not None:
            alerts = frozenset(filter(policy.is_alert_path, listing.result()))
        else:
            found = alerts_at_head(base, runs.records, reach.head, policy)
            alerts = _alerts_in_tree(repository, reach.head, policy) if found is None else found
        state = runs.folding.result()
        state = replace(
            state,
            alerts=alerts,
            # Once a published head reaches a commit, a revocation at HEAD no longer
            # concerns it.
            unpublished={o: s for o, s in state.unpublished.items() if o not in published},
            ledger_entries=len(ledger.entries),
            ledger_digest=ledger_digest(ledger.entries),
            publications=reach.publications,
        )
        assert state.head_signers is not None
        head_files = runs.files[state.head_signers]
        net = _net_changes(repository, ledger, base, state, policy)
        report = conclude(state, since, ledger, reach.reachable, head_files, net, policy)
        if (
            new
            or state.unpublished != base.unpublished
            or state.ledger_digest != base.ledger_digest
        ):
            save_state(cache_dir, state, base if reach.reused else None)
    return report


@dataclass(frozen=True)
class _Runs:
    """The new commits, read and judged, all but the last run added up."""

    folding: Folding
    last: FoldedRun  # the last run, folded but not added yet
    records: dict[str, CommitRecord]  # of every new commit, if kept
    verdicts: dict[str, tuple[str, Verdict]]  # with the digest each is cached under
    files: dict[SignersState, PolicyFiles]  # every version of the signers files met
    parts: list[int] | None  # each run's verdicts, handed to the saver as they came; or None


def _read_runs(
    reader: HistoryReader,
    repository: Repository,
    reach: Reach,
    first_seen: Mapping[str, datetime],
    policy: AuditPolicy,
    save: VerdictSaver,
    *,
    keep: bool,
) -> _Runs:
    """Read, judge and fold the new commits a run at a time (`survey`), adding up each run
    but the last as it comes; the records are `keep`t only if the caller needs them.

    Each run's verdicts are handed to `save` as soon as they are judged, wherever that is:
    its writer then need not wait for the last run to come back here to have them all."""
    base, cached, published = reach.base, reach.cached, reach.published
    unchecked = {oid for oid in reach.new if oid not in cached.verdicts}
    known = {base.head: base.head_signers} if base.head_signers else {}

    def finish(
        reader: HistoryReader, changes: list[CommitChanges], checks: dict[str, SignatureCheck]
    ) -> tuple[_JudgedRun, FoldedRun]:
        # Wherever the run was read: in a forked worker, `known` is the parent's as it was.
        run = _judge_run(reader, repository, changes, checks, known, base, cached, policy)
        if run.commits:
            seen = {oid: first_seen[oid] for oid in run.commits}
            start = reach.new.index(run.commits[0])
            run = replace(
                run, start=start, sent=save.part(start, CachedVerdicts(run.verdicts, seen))
            )
        folded = fold_run(
            run.commits, run.records, run.judged, first_seen, published, run.files, policy
        )
        # Records not kept are not sent back from a worker either.
        return (run if keep else replace(run, records={})), folded

    folding = Folding(base)
    records: dict[str, CommitRecord] = {}
    verdicts: dict[str, tuple[str, Verdict]] = {}
    files: dict[SignersState, PolicyFiles] = {}
    parts: list[int] | None = []
    surveyed = survey(reader, repository, policy, reach.new, unchecked, finish)
    with contextlib.closing(surveyed):
        for (run, folded), last in surveyed:
            records.update(run.records)
            verdicts.update(run.verdicts)
            files.update(run.files)
            if parts is not None and run.commits:
                parts = [*parts, run.start] if run.sent else None
            if last:
                return _Runs(folding, folded, records, verdicts, files, parts)
            # An older run is added up while the workers still read the newer ones.
            folding.add(folded)
    raise AssertionError("the survey ended without its last run")


@dataclass(frozen=True)
class _JudgedRun:
    """One run of commits as the survey read it, with their records and verdicts."""

    commits: list[str]  # parents first
    records: dict[str, CommitRecord]
    verdicts: dict[str, tuple[str, Verdict]]  # with the digest each is cached under
    files: Mapping[SignersState, PolicyFiles]  # the signers files the records rest on
    start: int = 0  # where the run starts among the audit's new commits
    sent: bool = False  # whether its verdicts were handed to the saver as a part

    @property
    def judged(self) -> dict[str, Verdict]:
        return {oid: verdict for oid, (_, verdict) in self.verdicts.items()}


def _judge_run(
    reader: HistoryReader,
    repository: Repository,
    changes: list[CommitChanges],
    checks: Mapping[str, SignatureCheck],
    known: dict[str, SignersState],
    base: AuditState,
    cached: CachedVerdicts,
    policy: AuditPolicy,
) -> _JudgedRun:
    """Records and verdicts of one run; `known` (the signers files as in each commit
    recorded so far) gains the run's commits."""
    records = reader.records(changes, known)
    known.update((oid, record.signers) for oid, record in records.items())
    states = read_signer_files(reader, records.values(), base.head_signers, policy)
    commits = [commit.oid for commit in changes]
    verdicts = judge_commits(reader, repository, commits, records, states, cached, checks, policy)
    return _JudgedRun(commits, records, verdicts, states.files)


def accept_rewrite(
    repo: Path, policy: AuditPolicy, ledger: Ledger, reason: str, now: datetime
) -> Ledger:
    """The ledger with the current HEAD's rewrite of published history accepted, and why.

    Waives exactly the published heads that are not in the history of HEAD now (and were not
    waived before); AuditError if there are none, or if no reason is given.
    """
    _check_aware(now)
    if not reason.strip():
        raise AuditError("a rewrite of published history can only be accepted with a reason")
    repository = open_repository(repo, policy.content_prefix)
    graph = read_graph(repository, None, _ledger_tips(ledger))
    waived = tuple(
        dict.fromkeys(
            entry.head
            for entry in ledger.entries
            if entry.head not in graph.reachable and entry.head not in ledger.waived
        )
    )
    if not waived:
        raise AuditError(
            "there is no rewrite to accept: every published head is in the history of HEAD"
        )
    return ledger.with_acceptance(RewriteAcceptance(now, reason.strip(), graph.head, waived))


def record_publication(ledger: Ledger, head: str, now: datetime) -> Ledger:
    """The ledger with `head` published at `now`; unchanged if `head` was the last published."""
    _check_aware(now)
    if not OBJECT_NAME.fullmatch(head):
        raise AuditError(f"{head!r} is not a full commit id")
    return ledger if ledger.last_head == head else ledger.with_entry(head, now)


def _check_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the audit needs a timezone-aware `now`")


def _ledger_tips(ledger: Ledger) -> list[str]:
    heads = [entry.head for entry in ledger.entries]
    return heads + [acceptance.new_head for acceptance in ledger.acceptances]


def _state_key(policy: AuditPolicy, since: str | None) -> tuple[str, ...]:
    return (
        since or "",
        ",".join(sorted(policy.trusted_signers)),
        policy.content_prefix,
        policy.signers_dir,
    )


def _first_seen(
    oid: str,
    cached: CachedVerdicts,
    ledger: Ledger,
    published: Mapping[str, int],
    now: datetime,
) -> datetime:
    """When the publisher first saw `oid`: the earlier of what the cache remembers and what
    the ledger proves; `now` if neither knows. Never later than a time already recorded."""
    index = published.get(oid)
    known = [
        when
        for when in (
            cached.first_seen.get(oid),
            None if index is None else ledger.entries[index].published_at,
        )
        if when is not None
    ]
    return min(known, default=now)


def _net_changes(
    repository: Repository,
    ledger: Ledger,
    base: AuditState,
    state: AuditState,
    policy: AuditPolicy,
) -> list[Change] | None:
    """What changed in the alerts from the ledger's baseline to HEAD (None: nothing to compare).

    The baseline is in the repository: reading the history fails otherwise.
    """
    baseline = ledger.baseline
    if baseline is None or baseline == state.head:
        return None
    if baseline == base.head and base.alerts <= state.alerts:
        # Every alert the baseline had is still there: nothing was deleted or renamed away,
        # which is all that the comparison looks for.
        return []
    return net_changes(repository.top, baseline, state.head, policy.alerts_dir)


def _alerts_in_tree(repository: Repository, head: str, policy: AuditPolicy) -> frozenset[str]:
    paths = tree_paths(repository.top, head, policy.alerts_dir)
    return frozenset(path for path in paths if policy.is_alert_path(path))
