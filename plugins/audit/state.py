"""The audit's running totals at a head, kept so that the next audit reads only new commits."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from .errors import AuditError
from .records import SignersState
from .report import Revision, Violation
from .storage import append_line, cache_lock, read_json, write_json

FORMAT_VERSION: Final = 1
CACHE_FILE: Final = "audit-state.json"
JOURNAL_FILE: Final = "audit-revisions.jsonl"

# (key fingerprint, principal, key algorithm) of a verified commit's signer.
SignerKey = tuple[str, str, str]


@dataclass(frozen=True)
class AuditState:
    """What the rules found in the history of `head`, except what depends on HEAD or the ledger.

    Commits never change, so these totals stay true for any descendant of `head`; the audit
    of a descendant folds its new commits in and then applies the checks that depend on the
    ledger and on HEAD (revocations at HEAD, rewrites, what HEAD lacks).
    """

    key: tuple[str, ...]  # the policy the totals were made under
    head: str = ""  # "" before any commit is folded in
    commits: int = 0
    first_commit: str = ""
    verified: int = 0
    unsigned: int = 0
    violations: tuple[Violation, ...] = ()
    revisions: Mapping[str, tuple[Revision, ...]] = field(default_factory=dict)
    signed: Mapping[SignerKey, int] = field(default_factory=dict)  # verified commits per signer
    # Verified commits that no published head reached when folded in, with their signer:
    # until one does, a revocation at HEAD still withdraws their acceptance.
    unpublished: Mapping[str, SignerKey] = field(default_factory=dict)
    revoked: frozenset[str] = frozenset()  # keys revoked by any signers file in the range
    head_signers: SignersState | None = None
    alerts: frozenset[str] = frozenset()  # alert files at `head`
    # The ledger entries the totals were made with: a later audit may reuse them only with a
    # ledger that extends these, since whether a commit was published decides some rules.
    ledger_entries: int = 0
    ledger_digest: str = ""
    journal_size: int = 0  # bytes of the revisions journal that hold `revisions`


def load_state(cache_dir: Path | None, key: tuple[str, ...]) -> AuditState | None:
    """The state cached in `cache_dir` if it was made under the same policy, else None."""
    if cache_dir is None:
        return None
    path = cache_dir / CACHE_FILE
    data = read_json(path)
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        return None
    if tuple(data.get("key", ())) != key:
        return None
    try:
        size = int(data["journal_size"])
        with (
            contextlib.suppress(FileNotFoundError),
            (cache_dir / JOURNAL_FILE).open("rb") as journal,
        ):
            batches = journal.read(size)
            if len(batches) == size:
                return _state(data, key, batches.decode("utf-8"))
        # The revisions the totals count are not all there: start afresh.
        return None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise AuditError(
            f"{path}: malformed audit cache ({error!r}); delete it to rebuild"
        ) from None


def save_state(
    cache_dir: Path | None,
    state: AuditState,
    added: Sequence[tuple[str, Revision]],
    base: AuditState | None,
) -> None:
    """Keep `state`, made from `base` (None: from nothing) by adding the revisions `added`.

    Revisions only ever accumulate, so they go to a journal to which each audit appends its
    own; the totals then record how much of the journal is theirs. A crash between the two
    writes leaves bytes past that size, which the next save cuts off.
    """
    if cache_dir is None:
        return
    journal = cache_dir / JOURNAL_FILE
    with cache_lock(cache_dir):
        if base is None:
            everything = [(alert, r) for alert, items in state.revisions.items() for r in items]
            size = _write_journal(journal, everything)
        else:
            size = _append_journal(journal, base.journal_size, added)
        write_json(
            cache_dir / CACHE_FILE, _totals_json(replace(state, journal_size=size)), indent=None
        )


def _write_journal(path: Path, revisions: Sequence[tuple[str, Revision]]) -> int:
    line = _batch_json(revisions)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as stream:
        stream.write(line)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)
    return len(line)


def _append_journal(path: Path, size: int, revisions: Sequence[tuple[str, Revision]]) -> int:
    return append_line(path, _batch_json(revisions), at=size) if revisions else size


def _batch_json(revisions: Sequence[tuple[str, Revision]]) -> bytes:
    batch = [[alert, *_revision_json(revision)] for alert, revision in revisions]
    return (json.dumps(batch, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _totals_json(state: AuditState) -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "key": list(state.key),
        "head": state.head,
        "commits": state.commits,
        "first_commit": state.first_commit,
        "verified": state.verified,
        "unsigned": state.unsigned,
        "violations": [[v.commit, v.path, v.rule, v.explanation] for v in state.violations],
        "signed": [[*signer, count] for signer, count in state.signed.items()],
        "unpublished": {oid: list(signer) for oid, signer in state.unpublished.items()},
        "revoked": sorted(state.revoked),
        "head_signers": (
            None
            if state.head_signers is None
            else [state.head_signers.allowed, state.head_signers.revoked]
        ),
        "alerts": sorted(state.alerts),
        "ledger_entries": state.ledger_entries,
        "ledger_digest": state.ledger_digest,
        "journal_size": state.journal_size,
    }


def _revision_json(revision: Revision) -> list[Any]:
    return [
        revision.commit,
        revision.committed_at.isoformat(),
        revision.committer_email,
        revision.signer_fingerprint,
        revision.verified,
        revision.kind,
        revision.note,
        revision.diff,
    ]


def _state(data: dict[str, Any], key: tuple[str, ...], journal: str) -> AuditState:
    revisions: dict[str, list[Revision]] = {}
    for line in journal.splitlines():
        for row in json.loads(line):
            revisions.setdefault(row[0], []).append(_revision(row))
    head_signers = data["head_signers"]
    return AuditState(
        key=key,
        head=str(data["head"]),
        commits=int(data["commits"]),
        first_commit=str(data["first_commit"]),
        verified=int(data["verified"]),
        unsigned=int(data["unsigned"]),
        violations=tuple(Violation(*map(str, item)) for item in data["violations"]),
        signed={(str(fp), str(who), str(kind)): int(n) for fp, who, kind, n in data["signed"]},
        unpublished={
            oid: (str(fp), str(who), str(kind))
            for oid, (fp, who, kind) in data["unpublished"].items()
        },
        revoked=frozenset(str(fingerprint) for fingerprint in data["revoked"]),
        head_signers=None if head_signers is None else SignersState(*head_signers),
        alerts=frozenset(str(path) for path in data["alerts"]),
        ledger_entries=int(data["ledger_entries"]),
        ledger_digest=str(data["ledger_digest"]),
        revisions={alert: tuple(items) for alert, items in revisions.items()},
        journal_size=int(data["journal_size"]),
    )


def _revision(row: list[Any]) -> Revision:
    """A revision from its journal row: [alert, commit, committed_at, email, ...]."""
    _, commit, committed_at, email, fingerprint, verified, kind, note, diff = row
    if kind not in _KINDS or not isinstance(diff, str):
        raise ValueError(f"not a revision: {row[:8]!r}")
    return Revision(
        commit, datetime.fromisoformat(committed_at), email, fingerprint, verified, kind, note, diff
    )


_KINDS: Final = frozenset({"added", "corrected", "withdrawn", "changed"})
