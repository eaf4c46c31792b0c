"""The audit's running totals at a head, kept so that the next audit reads only new commits."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from .columns import Columns, Entry, Latest, merged_columns
from .errors import AuditError
from .histories import AlertHistories
from .records import SignersState
from .report import Violation
from .storage import append_line, cache_lock, read_json, read_marshal, write_json, write_marshal

FORMAT_VERSION: Final = 5
CACHE_FILE: Final = "audit-state.json"
COLUMNS_FILE: Final = "audit-alerts.marshal"
_OLD_COLUMNS_FILE: Final = "audit-alerts.json"  # the same, as JSON until 2026-11
JOURNAL_FILE: Final = "audit-revisions.jsonl"
# The alerts file is rewritten once the alerts changed since outnumber this or an eighth of
# it; until then the state file lists the changes, so that a save costs what changed.
COMPACT_AT: Final = 256
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
class Stored:
    """The alerts file a state was read with: its id, and the alert files it lists."""

    token: str
    alerts: frozenset[str]


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
    # The head these totals were folded onto, and the commits folded (None if many):
    # when the next audit finds `head` published, they are what it newly reaches.
    folded_from: str = ""
    folded: tuple[str, ...] | None = None
    journal_size: int = 0  # bytes of the revisions journal that hold the histories
    stored: Stored | None = None  # the alerts file the histories' columns come from


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
        stored = read_marshal(cache_dir / COLUMNS_FILE)
        if not isinstance(stored, dict) or stored.get("token") != data["columns"]:
            return None  # torn between the two writes: start afresh
        return _state(data, stored, key, journal)
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
        for line in entry.lines:
            offsets.append(start)
            lines.append(line)
            start += len(line)
        written[alert] = tuple(offsets)
    stored = None if base is None else state.stored
    changed = len(histories.changes)
    if stored is not None and state.alerts is not stored.alerts:
        changed += len(state.alerts ^ stored.alerts)
    compact = stored is None or changed > max(COMPACT_AT, len(histories.columns.ids) // 8)
    with cache_lock(cache_dir):
        if base is None:
            size = _write_journal(journal, b"".join(lines))
        else:
            size = _append_journal(journal, base.journal_size, b"".join(lines))
        if size != start:
            raise AuditError(f"{journal}: the journal is not the size its lines add up to")
        if compact:
            columns = merged_columns(
                histories.columns, histories.changes, written, len(state.head) or 40
            )
            stored = Stored(secrets.token_hex(8), state.alerts)
            write_marshal(cache_dir / COLUMNS_FILE, _columns_json(stored, columns))
            (cache_dir / _OLD_COLUMNS_FILE).unlink(missing_ok=True)
            histories = AlertHistories(journal, columns)
        assert stored is not None
        overlay = [
            _overlay_row(alert, e, written.get(alert, ())) for alert, e in histories.changes.items()
        ]
        totals = _totals_json(replace(state, journal_size=size), stored, overlay)
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


def _columns_json(stored: Stored, columns: Columns) -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "token": stored.token,
        "histories": columns.to_json(),
        "alerts": _PATH_SEPARATOR.join(sorted(stored.alerts)),
    }


def _overlay_row(alert: str, entry: Entry, written: tuple[int, ...]) -> list[Any]:
    latest = entry.latest
    return [
        alert,
        entry.digest,
        latest.commit,
        latest.signer_fingerprint,
        latest.committer_email,
        latest.verified,
        [*entry.offsets, *written],
    ]


def _overlay_entry(row: list[Any]) -> tuple[str, Entry]:
    alert, digest, commit, fingerprint, email, verified, offsets = row
    if not all(isinstance(text, str) for text in (alert, digest, commit, email)):
        raise ValueError(f"not an alert's history: {row[:3]!r}")
    if not isinstance(fingerprint, str | None) or not isinstance(verified, bool):
        raise ValueError(f"not an alert's history: {row[:3]!r}")
    if not offsets or set(map(type, offsets)) != {int}:
        raise ValueError(f"not an alert's history: {row[:3]!r}")
    return alert, Entry(digest, Latest(commit, fingerprint, email, verified), tuple(offsets))


def _totals_json(state: AuditState, stored: Stored, overlay: list[list[Any]]) -> dict[str, Any]:
    same = state.alerts is stored.alerts  # as read: no archive's worth of comparing
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
        "columns": stored.token,
        "histories": overlay,
        "alerts_added": [] if same else sorted(state.alerts - stored.alerts),
        "alerts_removed": [] if same else sorted(stored.alerts - state.alerts),
        "ledger_entries": state.ledger_entries,
        "ledger_digest": state.ledger_digest,
        "publications": [list(state.publications.frontier), list(state.publications.outside)],
        "folded": [state.folded_from, None if state.folded is None else list(state.folded)],
        "journal_size": state.journal_size,
    }


def _state(
    data: dict[str, Any], stored_data: dict[str, Any], key: tuple[str, ...], journal: Path
) -> AuditState:
    head_signers = data["head_signers"]
    head = str(data["head"])
    width = len(head) or 40
    oids, signer_rows = data["unpublished"], data["unpublished_signers"]
    keys = [(str(fp), str(who), str(kind)) for fp, who, kind in data["signer_keys"]]
    if not isinstance(oids, str) or len(oids) != width * len(signer_rows):
        raise ValueError("unpublished commits and their signers do not line up")
    frontier, outside = data["publications"]
    folded_from, folded = data["folded"]
    text = stored_data["alerts"]
    if not isinstance(text, str):
        raise ValueError("alerts must be one string")
    stored = Stored(
        str(stored_data["token"]), frozenset(text.split(_PATH_SEPARATOR) if text else ())
    )
    added, removed = data["alerts_added"], data["alerts_removed"]
    if not set(map(type, added)) | set(map(type, removed)) <= {str}:
        raise ValueError("alert paths must be text")
    overlay = dict(_overlay_entry(row) for row in data["histories"])
    # An archive's worth of paths: copied only when some were added or removed since.
    alerts = stored.alerts - frozenset(removed) if removed else stored.alerts
    if added:
        alerts |= frozenset(added)
    return AuditState(
        key=key,
        head=head,
        commits=int(data["commits"]),
        first_commit=str(data["first_commit"]),
        verified=int(data["verified"]),
        unsigned=int(data["unsigned"]),
        violations=tuple(Violation(*map(str, item)) for item in data["violations"]),
        histories=AlertHistories(
            journal,
            Columns.from_json(stored_data["histories"]),
            overlay,
            stored.token,
            int(data["journal_size"]),
        ),
        signed={(str(fp), str(who), str(kind)): int(n) for fp, who, kind, n in data["signed"]},
        unpublished={
            oids[index * width : (index + 1) * width]: keys[row]
            for index, row in enumerate(signer_rows)
        },
        revoked=frozenset(str(fingerprint) for fingerprint in data["revoked"]),
        head_signers=None if head_signers is None else SignersState(*head_signers),
        alerts=alerts,
        ledger_entries=int(data["ledger_entries"]),
        ledger_digest=str(data["ledger_digest"]),
        publications=Publications(tuple(map(str, frontier)), tuple(map(str, outside))),
        folded_from=str(folded_from),
        folded=None if folded is None else tuple(map(str, folded)),
        journal_size=int(data["journal_size"]),
        stored=stored,
    )
