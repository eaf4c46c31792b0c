"""Which commits an audit must fold in, and which of them (and of the last ones) were published.

A full audit reads the whole graph. An audit that builds on cached totals asks git only about
what is new since: the commits after the cached head, and what ledger entries added since
reach that earlier ones did not. What it cannot answer that way (a rewrite, a head published
from elsewhere) it leaves to a full audit, whose answer it must equal.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .errors import RepositoryError
from .gitstream import find_objects, walk
from .history import Repository, ancestors, parents_first, read_graph
from .ledger import Ledger, LedgerEntry
from .rules import first_publication
from .state import AuditState, Publications
from .storage import utc_text
from .verdicts import CachedVerdicts, load_verdicts

# Beyond these, a full audit is as quick as asking git entry by entry, and simpler.
MAX_NEW_ENTRIES: Final = 16
MAX_FRONTIER: Final = 64


@dataclass(frozen=True)
class Reach:
    """What this audit folds in, on which totals, and what the ledger's heads reach of it."""

    head: str
    base: AuditState  # the totals to fold into (empty for a full audit)
    new: list[str]  # the commits to fold in, parents first
    # The first ledger entry that reaches each commit, for at least the new commits and the
    # commits the totals hold as unpublished.
    published: Mapping[str, int]
    reachable: Collection[str]  # at least every published head in the history of HEAD
    publications: Publications  # for the totals this audit leaves
    cached: CachedVerdicts  # what the verdict cache knows of the commits looked at
    keep: frozenset[str] | None  # after a full audit: the commits the verdict cache keeps

    @property
    def reused(self) -> bool:
        return bool(self.base.head)


def ledger_digest(entries: Sequence[LedgerEntry]) -> str:
    text = json.dumps([[entry.head, utc_text(entry.published_at)] for entry in entries])
    return hashlib.sha256(text.encode()).hexdigest()


def full_reach(
    repository: Repository,
    since: str | None,
    ledger: Ledger,
    base: AuditState,
    cache_dir: Path | None,
) -> Reach:
    """Every commit from `since` to HEAD, on empty totals `base`."""
    tips = [entry.head for entry in ledger.entries]
    graph = read_graph(repository, since, tips + [a.new_head for a in ledger.acceptances])
    heads = list(dict.fromkeys(tips))
    # Each head reaches what the heads it is an ancestor of reach: only the others are asked.
    behind = ancestors(graph.parents, [p for head in heads for p in graph.parents.get(head, ())])
    return Reach(
        head=graph.head,
        base=base,
        new=graph.commits(),
        published=first_publication(ledger, graph.parents),
        reachable=graph.reachable,
        publications=Publications(
            frontier=tuple(head for head in heads if head not in behind),
            outside=tuple(head for head in heads if head not in graph.reachable),
        ),
        cached=load_verdicts(cache_dir),
        keep=frozenset(oid for oid in graph.reachable if graph.in_range(oid)),
    )


def incremental_reach(
    repository: Repository, state: AuditState, ledger: Ledger, cache_dir: Path | None
) -> Reach | None:
    """The commits since `state.head`, if these totals are still true for HEAD and the ledger.

    None (a full audit, then) after a rewrite, a change of policy, with a ledger that does not
    extend the one the totals were made with or that proves a commit published before it was
    first seen, or with anything unusual that only the whole graph can answer.
    """
    old, head, top = state.head, repository.head, repository.top
    count = state.ledger_entries
    if not old or count > len(ledger.entries):
        return None
    if ledger_digest(ledger.entries[:count]) != state.ledger_digest:
        return None
    if len(ledger.entries) - count > MAX_NEW_ENTRIES:
        return None
    outside = state.publications.outside
    # A full audit fails if a published head or an adopted one has left the repository.
    unseen = [o for o in (*outside, *(a.new_head for a in ledger.acceptances)) if o != head]
    if unseen and None in find_objects(top, [f"{oid}^{{commit}}" for oid in unseen]):
        return None
    try:
        found = _since(top, state, ledger, head)
    except RepositoryError:
        return None  # the cached head (or a published one) was garbage-collected
    if found is None:
        return None
    parents, published, frontier = found
    newly = {oid: index for oid, index in published.items() if oid not in parents}
    cached = load_verdicts(cache_dir, {*parents, *newly})
    for oid, index in newly.items():
        # A ledger saying a commit was published before it was first seen would move that
        # time earlier, and with it a validity verdict the totals hold.
        first = cached.first_seen.get(oid)
        if first is not None and ledger.entries[index].published_at < first:
            return None
    return Reach(
        head=head,
        base=state,
        new=parents_first(parents, head, frozenset(), None),
        published=published,
        reachable=frozenset(e.head for e in ledger.entries if e.head not in outside),
        publications=Publications(tuple(frontier), outside),
        cached=cached,
        keep=None,
    )


def _since(
    top: Path, state: AuditState, ledger: Ledger, head: str
) -> tuple[dict[str, tuple[str, ...]], dict[str, int], list[str]] | None:
    """The commits since the cached head with their parents, what the ledger entries added
    since newly reach, and the frontier after them; None if git cannot tell them alone."""
    old, outside = state.head, state.publications.outside
    parents: dict[str, tuple[str, ...]] = {}
    if head != old:
        parents, boundary = walk(top, [head], [old])
        if old not in boundary:
            return None  # the cached head is not in the history of HEAD: rewritten
        if outside and len(walk(top, [head], [old, *outside])[0]) != len(parents):
            return None  # a head published, then rewritten away, reaches new commits
    found = _newly_published(top, state, ledger, parents)
    return None if found is None else (parents, *found)


def _newly_published(
    top: Path, state: AuditState, ledger: Ledger, new: Mapping[str, tuple[str, ...]]
) -> tuple[dict[str, int], list[str]] | None:
    """What the ledger entries added since the totals reach that earlier ones did not, with
    the first entry reaching each commit; and the frontier after them. None if an entry
    names a head that is neither the cached head nor a new commit (published from elsewhere).
    """
    frontier = list(state.publications.frontier)
    known = {entry.head for entry in ledger.entries[: state.ledger_entries]}
    published: dict[str, int] = {}
    for index in range(state.ledger_entries, len(ledger.entries)):
        tip = ledger.entries[index].head
        if tip in known:
            continue  # what it reaches, an earlier entry reached
        known.add(tip)
        if tip != state.head and tip not in new:
            return None
        if tip == state.head and state.folded and frontier == [state.folded_from]:
            # The cached head, published on top of the head its totals were folded onto:
            # what it newly reaches is what that audit folded (the usual publication).
            reached: Collection[str] = state.folded
            behind = {state.folded_from}
        else:
            found, _ = walk(top, [tip], frontier)
            # Frontier heads that are parents of what `tip` newly reaches are behind it now.
            reached, behind = found, {parent for parents in found.values() for parent in parents}
        if not reached:
            continue  # an ancestor of a published head
        for oid in reached:
            published.setdefault(oid, index)
        frontier = [oid for oid in frontier if oid not in behind] + [tip]
        if len(frontier) > MAX_FRONTIER:
            return None
    return published, frontier
