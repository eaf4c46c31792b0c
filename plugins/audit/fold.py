"""Fold new commits into the audit's totals, applying every rule that depends on them alone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from .columns import Entry
from .histories import AlertHistories, HistoryBuilder
from .policy import AuditPolicy, alert_id
from .records import CommitRecord, SignersState
from .report import Revision, Violation
from .rules import (
    append_only_violations,
    linear_violations,
    policy_file_violations,
    revision_kind,
    signature_violations,
    silent_edit_violations,
)
from .signing import PolicyFiles
from .state import AuditState, SignerKey
from .verdicts import Verdict

# More commits than this folded at once (a first audit) are not listed in the totals.
MAX_FOLDED: Final = 64


def fold(
    state: AuditState,
    commits: Sequence[str],
    records: Mapping[str, CommitRecord],
    verdicts: Mapping[str, Verdict],
    first_seen: Mapping[str, datetime],
    published: Collection[str],
    files: Mapping[SignersState, PolicyFiles],
    policy: AuditPolicy,
) -> AuditState:
    """`state` with `commits` (new ones, parents first) folded in.

    `published` holds the commits a published head reaches. The alert files at the new head
    are left for the caller to set, as it can often work them out without asking git.
    """
    folding = Folding(state)
    folding.add(fold_run(commits, records, verdicts, first_seen, published, files, policy))
    return folding.result()


@dataclass(frozen=True)
class FoldedRun:
    """What a run of commits adds to the totals, made without them: a first audit folds its
    runs on every core, and adds them up in order."""

    commits: tuple[str, ...]  # parents first
    violations: tuple[Violation, ...]
    histories: Mapping[str, Entry]  # each alert's revisions in the run, chained from none
    signed: Counter[SignerKey]
    unpublished: Mapping[str, SignerKey]
    revoked: frozenset[str]
    verified: int
    unsigned: int
    head_signers: SignersState | None  # as in the last commit; None for no commits


def fold_run(
    commits: Sequence[str],
    records: Mapping[str, CommitRecord],
    verdicts: Mapping[str, Verdict],
    first_seen: Mapping[str, datetime],
    published: Collection[str],
    files: Mapping[SignersState, PolicyFiles],
    policy: AuditPolicy,
) -> FoldedRun:
    """The rules applied to `commits` (a run, parents first), and their revisions.

    Every rule here depends on one commit alone; only the revisions of an alert are chained
    across commits, and Folding chains a run's onto those before it.
    """
    violations: list[Violation] = []
    histories = HistoryBuilder(AlertHistories())
    signed: Counter[SignerKey] = Counter()
    unpublished: dict[str, SignerKey] = {}
    revoked: set[str] = set()
    verified_count = unsigned = 0
    is_alert_path = policy.is_alert_path
    # Most commits rest on the same signers files as the one before them, and are judged by
    # one of a few verdicts: what depends on those alone is worked out once for each.
    states: tuple[SignersState | None, SignersState | None] = (None, None)
    before: PolicyFiles | None = None
    after: PolicyFiles | None = None
    timeless: dict[int, tuple[Verdict, SignerKey | None]] = {}
    for oid in commits:
        record, verdict = records[oid], verdicts[oid]
        if (
            after is None
            or record.parent_signers is not states[0]
            or record.signers is not states[1]
        ):
            states = (record.parent_signers, record.signers)
            before = files[record.parent_signers] if record.parent_signers else None
            after = files[record.signers]
            revoked |= after.revoked | (before.revoked if before else frozenset())
        assert after is not None
        known = timeless.get(id(verdict))
        if known is None or known[0] is not verdict:
            known = timeless[id(verdict)] = (verdict, _timeless_signer(verdict))
        signer = known[1]
        if signer is None:
            # Rules 1 to 3 for a verdict whose validity depends on the commit's dates.
            signature = signature_violations(record, verdict, first_seen[oid])
            violations += signature
            verified = not signature
            if verified and verdict.fingerprint is not None:
                signer = (verdict.fingerprint, verdict.principal or "", verdict.algorithm or "")
        else:
            verified = True
        if record.signers_changes:
            violations += policy_file_violations(record, before, after, policy)
        if len(record.parents) > 1:
            violations += linear_violations(record)
        unsigned += not verdict.signed
        if signer is not None:
            signed[signer] += 1
            verified_count += 1
            if oid not in published:
                unpublished[oid] = signer
        for change in record.alert_changes:
            if change.status != "A":
                # Only deletions, renames and edits can break rules 4 and 5.
                violations += append_only_violations(record)
                violations += silent_edit_violations(record)
                break
        for change in record.alert_changes:
            if change.new_path is None or not is_alert_path(change.new_path):
                continue
            kind, note = ("added", None) if change.status == "A" else revision_kind(change)
            revision = Revision(
                commit=oid,
                committed_at=record.committer_date,
                committer_email=record.committer_email,
                signer_fingerprint=verdict.fingerprint,
                verified=verified,
                kind=kind,
                note=note,
                diff=change.diff,
            )
            histories.add(alert_id(change.new_path), revision)
    return FoldedRun(
        commits=tuple(commits),
        violations=tuple(violations),
        histories=histories.result().changes,
        signed=signed,
        unpublished=unpublished,
        revoked=frozenset(revoked),
        verified=verified_count,
        unsigned=unsigned,
        head_signers=records[commits[-1]].signers if commits else None,
    )


def _timeless_signer(verdict: Verdict) -> SignerKey | None:
    """Who signed with `verdict`, if it is good whenever its commit was dated and seen (a key
    listed without valid-after or valid-before): signature_violations finds nothing then."""
    if not verdict.ok or verdict.fingerprint is None:
        return None
    if not any(after is None and before is None for after, before in verdict.windows):
        return None
    return (verdict.fingerprint, verdict.principal or "", verdict.algorithm or "")


class Folding:
    """`fold`, a run of commits at a time: the runs folded (fold_run) anywhere, then added
    here in order, so that a first audit folds its older commits while it reads the newer."""

    def __init__(self, state: AuditState) -> None:
        self._state = state
        self._commits: list[str] = []
        self._head_signers = state.head_signers
        self._violations: list[Violation] = list(state.violations)
        self._histories = state.histories
        self._signed: Counter[SignerKey] = Counter(state.signed)
        self._unpublished = dict(state.unpublished)
        self._revoked = set(state.revoked)
        self._verified, self._unsigned = state.verified, state.unsigned

    def add(self, run: FoldedRun) -> None:
        """Add `run`, the run after those added before."""
        if not run.commits:
            return
        self._violations += run.violations
        self._signed.update(run.signed)
        self._unpublished.update(run.unpublished)
        self._revoked |= run.revoked
        self._verified += run.verified
        self._unsigned += run.unsigned
        self._commits += run.commits
        self._head_signers = run.head_signers
        self._histories = _chained(self._histories, run.histories)

    def result(self) -> AuditState:
        """The totals with every run added folded in (`state` itself if none was)."""
        state, commits = self._state, self._commits
        if not commits:
            return state
        return AuditState(
            key=state.key,
            head=commits[-1],
            commits=state.commits + len(commits),
            first_commit=state.first_commit or commits[0],
            verified=self._verified,
            unsigned=self._unsigned,
            violations=tuple(self._violations),
            histories=self._histories,
            signed=dict(self._signed),
            unpublished=self._unpublished,
            revoked=frozenset(self._revoked),
            head_signers=self._head_signers,
            alerts=state.alerts,
            ledger_entries=state.ledger_entries,
            ledger_digest=state.ledger_digest,
            publications=state.publications,
            folded_from=state.head,
            folded=tuple(commits) if len(commits) <= MAX_FOLDED else None,
            journal_size=state.journal_size,
            stored=state.stored,
        )


def _chained(histories: AlertHistories, run: Mapping[str, Entry]) -> AlertHistories:
    """`histories` with a run's revisions after each alert's own: an alert new to them takes
    the run's entry as it is (chained from none); the others' revisions are added again."""
    if not run:
        return histories
    entries = dict(run)  # in the run's order, as a fold of all the runs at once would have it
    again = [alert for alert in run if alert in histories]
    if again:
        builder = HistoryBuilder(histories)
        for alert in again:
            for revision in run[alert].pending:
                builder.add(alert, revision)
        chained = builder.result()
        for alert in again:
            entry = chained.get(alert)
            assert entry is not None
            entries[alert] = entry
    return histories.changed(entries)


def alerts_at_head(
    state: AuditState, records: Mapping[str, CommitRecord], head: str, policy: AuditPolicy
) -> frozenset[str] | None:
    """The alert files at `head`, from those at `state.head` and the new commits' changes.

    Each commit's changes are against its first parent (a root commit's against nothing),
    so following first parents from `head` back to the old head, or for empty totals back
    to a root, adds up exactly; None if that line does not lead there.
    """
    line: list[CommitRecord] = []
    oid = head
    while oid != state.head:
        record = records.get(oid)
        if record is None:
            return None
        line.append(record)
        if not record.parents:
            if state.head:
                return None
            break  # a first audit from the root commit: its records are the whole line
        oid = record.parents[0]
    alerts = set(state.alerts)
    for record in reversed(line):
        for change in record.alert_changes:
            if change.old_path is not None and change.status != "A":
                alerts.discard(change.old_path)
            if change.new_path is not None and policy.is_alert_path(change.new_path):
                alerts.add(change.new_path)
    return frozenset(alerts)
