"""The audit's running totals at a head, kept so that the next audit reads only new commits."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from .errors import AuditError
from .histories import AlertHistories, Columns, merged_columns, revision_line
from .records import SignersState
from .report import Violation
from .storage import append_line, cache_lock, read_json, write_json

FORMAT_VERSION: Final = 3
CACHE_FILE: Final = "audit-state.json"
JOURNAL_FILE: Final = "audit-revisions.jsonl"
# Alert paths may hold any character but NUL, which git forbids in a path.
_PATH_SEPARATOR: Final = "\0"

# (key fingerprint, principal, key algorithm) of a verified commit's signer.
SignerKey = tuple[str, str, str]


@dataclass(frozen=True)
class Publications:
    """What the ledger entries a state was made with reach, so that the next audit asks git
    only about entries added since.

    Every commit a published head reaches is reached by one of `frontier`; `outside` are the
    published heads not in the history of the state's head (rewritten away).
    """

    frontier: tuple[str, ...] = ()
    outside: tuple[str, ...] = ()


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
    histories: AlertHistories = field(default_factory=AlertHistories)
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
    publications: Publications = Publications()
    journal_size: int = 0  # bytes of the revisions journal that hold the histories


def load_state(cache_dir: Path | None, key: tuple[str, ...]) -> AuditState | None:
    """The state cached in `cache_dir` if it was made under the same policy, else None.

    Revisions stay in the journal until asked for: only their digests and where they are
    are read here.
    """
    if cache_dir is None:
        return None
    path = cache_dir / CACHE_FILE
    data = read_json(path)
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        return None
    if tuple(data.get("key", ())) != key:
        return None
    journal = cache_dir / JOURNAL_FILE
    try:
        size = int(data["journal_size"])
        if size and (not journal.is_file() or journal.stat().st_size < size):
            # The revisions the totals count are not all there: start afresh.
            return None
        return _state(data, key, journal)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise AuditError(
            f"{path}: malformed audit cache ({error!r}); delete it to rebuild"
        ) from None


def save_state(cache_dir: Path | None, state: AuditState, base: AuditState | None) -> None:
    """Keep `state`, made from `base` (None: from nothing).

    Revisions only ever accumulate, so they go to a journal to which each audit appends the
    ones it added; the totals then record how much of the journal is theirs. A crash between
    the two writes leaves bytes past that size, which the next save cuts off.
    """
    if cache_dir is None:
        return
    journal = cache_dir / JOURNAL_FILE
    histories = state.histories
    lines: list[bytes] = []
    written: dict[str, tuple[int, ...]] = {}
    start = 0 if base is None else base.journal_size
    for alert, entry in histories.changes.items():
        offsets = []
        for revision in entry.pending:
            offsets.append(start)
            line = revision_line(alert, revision)
            lines.append(line)
            start += len(line)
        written[alert] = tuple(offsets)
    with cache_lock(cache_dir):
        if base is None:
            size = _write_journal(journal, b"".join(lines))
        else:
            size = _append_journal(journal, base.journal_size, b"".join(lines))
        if size != start:
            raise AuditError(f"{journal}: the journal is not the size its lines add up to")
        width = len(state.head) or 40
        columns = merged_columns(histories, written, width)
        totals = _totals_json(replace(state, journal_size=size), columns)
        write_json(cache_dir / CACHE_FILE, totals, indent=None)


def _write_journal(path: Path, content: bytes) -> int:
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as stream:
        stream.write(content)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)
    return len(content)


def _append_journal(path: Path, size: int, content: bytes) -> int:
    return append_line(path, content, at=size) if content else size


def _totals_json(state: AuditState, columns: Columns) -> dict[str, Any]:
    signer_keys: dict[SignerKey, int] = {}
    unpublished = [signer_keys.setdefault(s, len(signer_keys)) for s in state.unpublished.values()]
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
        # Before anything is published every commit is unpublished: one string, not a map.
        "unpublished": "".join(state.unpublished),
        "unpublished_signers": unpublished,
        "signer_keys": [list(signer) for signer in signer_keys],
        "revoked": sorted(state.revoked),
        "head_signers": (
            None
            if state.head_signers is None
            else [state.head_signers.allowed, state.head_signers.revoked]
        ),
        "alerts": _PATH_SEPARATOR.join(sorted(state.alerts)),
        "histories": columns.to_json(),
        "ledger_entries": state.ledger_entries,
        "ledger_digest": state.ledger_digest,
        "publications": [list(state.publications.frontier), list(state.publications.outside)],
        "journal_size": state.journal_size,
    }


def _state(data: dict[str, Any], key: tuple[str, ...], journal: Path) -> AuditState:
    head_signers = data["head_signers"]
    head = str(data["head"])
    width = len(head) or 40
    oids, signer_rows = data["unpublished"], data["unpublished_signers"]
    keys = [(str(fp), str(who), str(kind)) for fp, who, kind in data["signer_keys"]]
    if not isinstance(oids, str) or len(oids) != width * len(signer_rows):
        raise ValueError("unpublished commits and their signers do not line up")
    frontier, outside = data["publications"]
    alerts = data["alerts"]
    if not isinstance(alerts, str):
        raise ValueError("alerts must be one string")
    return AuditState(
        key=key,
        head=head,
        commits=int(data["commits"]),
        first_commit=str(data["first_commit"]),
        verified=int(data["verified"]),
        unsigned=int(data["unsigned"]),
        violations=tuple(Violation(*map(str, item)) for item in data["violations"]),
        histories=AlertHistories(journal, Columns.from_json(data["histories"])),
        signed={(str(fp), str(who), str(kind)): int(n) for fp, who, kind, n in data["signed"]},
        unpublished={
            oids[index * width : (index + 1) * width]: keys[row]
            for index, row in enumerate(signer_rows)
        },
        revoked=frozenset(str(fingerprint) for fingerprint in data["revoked"]),
        head_signers=None if head_signers is None else SignersState(*head_signers),
        alerts=frozenset(alerts.split(_PATH_SEPARATOR)) if alerts else frozenset(),
        ledger_entries=int(data["ledger_entries"]),
        ledger_digest=str(data["ledger_digest"]),
        publications=Publications(tuple(map(str, frontier)), tuple(map(str, outside))),
        journal_size=int(data["journal_size"]),
    )
