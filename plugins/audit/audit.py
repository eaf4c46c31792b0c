"""Audit a content repository's history against the publishing rules, and keep its ledger."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from .conclude import conclude
from .errors import AuditError
from .fold import alerts_at_head, fold
from .gitstream import (
    OBJECT_NAME,
    Change,
    ChangeLog,
    commits_between,
    net_changes,
    resolve_commit,
    tree_paths,
)
from .history import Graph, HistoryReader, Repository, open_repository, read_graph
from .judging import check_signatures, judge_commits, read_signer_files
from .ledger import Ledger, LedgerEntry, RewriteAcceptance
from .policy import AuditPolicy
from .report import AuditReport
from .rules import first_publication
from .state import AuditState, load_state, save_state
from .storage import utc_text
from .verdicts import CachedVerdicts, load_verdicts, save_verdicts


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
    repository = open_repository(repo, policy.content_prefix)
    since = resolve_commit(repository.top, policy.since) if policy.since else None
    graph = read_graph(repository, since, _ledger_tips(ledger))
    published = first_publication(ledger, graph.parents)
    key = _state_key(policy, since)
    reused = _reusable(repository, load_state(cache_dir, key), graph, ledger, published, cache_dir)
    if reused is None:
        base, cached = AuditState(key), load_verdicts(cache_dir)
        new = graph.commits()
    else:
        base, among, cached = reused
        new = graph.commits(among)
    first_seen = {oid: _first_seen(oid, cached, ledger, published, now) for oid in new}
    with HistoryReader(repository, policy) as reader, ChangeLog(repository.top, new) as log:
        # While git diffs the new commits' trees in the background, verify their signatures:
        # the cryptography does not depend on who may sign, so it need not wait for the diff.
        checks = check_signatures(reader, repository, [o for o in new if o not in cached.verdicts])
        known = {base.head: base.head_signers} if base.head_signers else {}
        records = reader.records(log.result(), known)
        states = read_signer_files(reader, records.values(), base.head_signers, policy)
        verdicts = judge_commits(reader, repository, new, records, states, cached, checks, policy)
    judged = {oid: verdict for oid, (_, verdict) in verdicts.items()}
    state, added = fold(base, new, records, judged, first_seen, published, states.files, policy)
    alerts = alerts_at_head(base, records, graph.head, policy) if base.head else None
    state = replace(
        state,
        alerts=_alerts_in_tree(repository, graph.head, policy) if alerts is None else alerts,
        # Once a published head reaches a commit, a revocation at HEAD no longer concerns it.
        unpublished={o: s for o, s in state.unpublished.items() if o not in published},
        ledger_entries=len(ledger.entries),
        ledger_digest=_ledger_digest(ledger.entries),
    )
    assert state.head_signers is not None
    head_files = states.files[state.head_signers]
    net = _net_changes(repository, graph, ledger, policy)
    report = conclude(state, since, ledger, graph.reachable, head_files, net, policy)
    if new or state.unpublished != base.unpublished or state.ledger_digest != base.ledger_digest:
        save_state(cache_dir, state, added, base if reused else None)
    if new:
        # After a full audit, the cache keeps only the commits the range still holds.
        keep = None if reused else {oid for oid in graph.reachable if graph.in_range(oid)}
        save_verdicts(cache_dir, CachedVerdicts(verdicts, first_seen), keep)
    return report


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


def _ledger_digest(entries: Sequence[LedgerEntry]) -> str:
    text = json.dumps([[entry.head, utc_text(entry.published_at)] for entry in entries])
    return hashlib.sha256(text.encode()).hexdigest()


def _reusable(
    repository: Repository,
    state: AuditState | None,
    graph: Graph,
    ledger: Ledger,
    published: Mapping[str, int],
    cache_dir: Path | None,
) -> tuple[AuditState, frozenset[str], CachedVerdicts] | None:
    """The cached totals if still true for this history and ledger, the commits new since,
    and what the verdict cache knows of the commits this audit must look at.

    Otherwise (None) every commit is folded in afresh: after a rewrite, a change of policy,
    or with a ledger that does not extend the one the totals were made with.
    """
    if state is None or not state.head or not graph.in_range(state.head):
        return None
    entries = state.ledger_entries
    if entries > len(ledger.entries):
        return None
    if _ledger_digest(ledger.entries[:entries]) != state.ledger_digest:
        return None
    new = frozenset(commits_between(repository.top, state.head, graph.head))
    newly = {oid for oid, index in published.items() if index >= entries and oid not in new}
    cached = load_verdicts(cache_dir, new | newly)
    for oid in newly:
        # A ledger saying a commit was published before it was first seen would move that
        # time earlier, and with it a validity verdict the totals hold.
        first = cached.first_seen.get(oid)
        if first is not None and ledger.entries[published[oid]].published_at < first:
            return None
    return state, new, cached


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
    repository: Repository, graph: Graph, ledger: Ledger, policy: AuditPolicy
) -> list[Change] | None:
    """What changed in the alerts from the ledger's baseline to HEAD (None: nothing to compare)."""
    baseline = ledger.baseline
    if baseline is None or baseline == graph.head or baseline not in graph.parents:
        return None
    return net_changes(repository.top, baseline, graph.head, policy.alerts_dir)


def _alerts_in_tree(repository: Repository, head: str, policy: AuditPolicy) -> frozenset[str]:
    paths = tree_paths(repository.top, head, policy.alerts_dir)
    return frozenset(path for path in paths if policy.is_alert_path(path))
