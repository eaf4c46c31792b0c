"""Each alert's revisions: a digest and the latest at hand, the rest read only when asked for.

An archive of 100,000 alerts must not be read whole to publish one more. The audit state keeps,
per alert, a digest chained over its revisions (a history page's key), its latest revision
(provenance) and where its revisions lie in the journal, a file of one revision per line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Final

from alerts.model import Provenance

from .errors import AuditError
from .report import Revision

DIGEST_SIZE: Final = 32  # hex digits of a history digest: 128 bits
# One encoder for every journal line: json.dumps with options makes a new one each call.
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_KINDS: Final = frozenset({"added", "corrected", "withdrawn", "changed"})


@dataclass(frozen=True)
class Latest:
    """What an alert's provenance needs of its latest revision."""

    commit: str
    signer_fingerprint: str | None
    committer_email: str
    verified: bool


@dataclass(frozen=True)
class Entry:
    """One alert's revisions: a digest chained over them all, the latest, where to read them."""

    digest: str
    latest: Latest
    offsets: tuple[int, ...]  # of its lines in the journal, oldest first
    pending: tuple[Revision, ...] = ()  # added after those, not written yet
    lines: tuple[bytes, ...] = ()  # the journal lines of `pending`, made once


def revision_line(alert: str, revision: Revision) -> bytes:
    """The journal line of one revision: the bytes a history digest is chained over."""
    row = [
        alert,
        revision.commit,
        revision.committed_at.isoformat(),
        revision.committer_email,
        revision.signer_fingerprint,
        revision.verified,
        revision.kind,
        revision.note,
        revision.diff,
    ]
    return (_ENCODER.encode(row) + "\n").encode()


def chain(digest: str, line: bytes) -> str:
    """The digest of a history after one more revision (`digest` is "" for none yet)."""
    return hashlib.sha256(digest.encode() + b"\n" + line).hexdigest()[:DIGEST_SIZE]


def parse_line(line: bytes) -> tuple[str, Revision]:
    """The alert and revision of one journal line; ValueError if it is not one."""
    row = json.loads(line)
    if not isinstance(row, list) or len(row) != 9:
        raise ValueError(f"not a revision: {line[:80]!r}")
    alert, commit, committed_at, email, fingerprint, verified, kind, note, diff = row
    if (
        kind not in _KINDS
        or not all(isinstance(text, str) for text in (alert, commit, email, diff))
        or not isinstance(verified, bool)
        or not isinstance(fingerprint, str | None)
        or not isinstance(note, str | None)
    ):
        raise ValueError(f"not a revision: {line[:80]!r}")
    moment = datetime.fromisoformat(committed_at)
    return alert, Revision(commit, moment, email, fingerprint, verified, kind, note, diff)


SignerRow = tuple[str | None, str, bool]  # (fingerprint, committer e-mail, verified)


@dataclass(frozen=True)
class Columns:
    """Every alert's entry as the state file keeps them: one list or string per field, so that
    reading 100,000 alerts is a few long JSON values rather than 100,000 small objects."""

    ids: Sequence[str]
    digests: str  # DIGEST_SIZE hex digits per alert, in the order of `ids`
    commits: str  # `width` characters per alert: the latest revision's commit
    width: int
    signers: Sequence[SignerRow]  # distinct latest signers
    latest: Sequence[int]  # per alert, its latest revision's row in `signers`
    offsets: Sequence[int]  # per alert, where its first revision's line is in the journal
    more: Mapping[int, Sequence[int]]  # by alert index, the lines of its later revisions

    @classmethod
    def empty(cls) -> Columns:
        return cls((), "", "", 40, (), (), (), {})

    @cached_property
    def position(self) -> dict[str, int]:
        return {alert: index for index, alert in enumerate(self.ids)}

    def entry(self, index: int) -> Entry:
        fingerprint, email, verified = self.signers[self.latest[index]]
        start = index * self.width
        return Entry(
            digest=self.digests[index * DIGEST_SIZE : (index + 1) * DIGEST_SIZE],
            latest=Latest(self.commits[start : start + self.width], fingerprint, email, verified),
            offsets=(self.offsets[index], *self.more.get(index, ())),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ids": list(self.ids),
            "digests": self.digests,
            "commits": self.commits,
            "width": self.width,
            "signers": [list(row) for row in self.signers],
            "latest": list(self.latest),
            "offsets": list(self.offsets),
            "more": [[index, list(lines)] for index, lines in sorted(self.more.items())],
        }

    @classmethod
    def from_json(cls, data: Any) -> Columns:
        """Columns read back, checked for shape; ValueError (or TypeError) if malformed."""
        ids, digests, commits, width = data["ids"], data["digests"], data["commits"], data["width"]
        signers = [(fp, str(email), bool(verified)) for fp, email, verified in data["signers"]]
        latest, offsets = data["latest"], data["offsets"]
        more = {int(index): [int(line) for line in lines] for index, lines in data["more"]}
        count = len(ids)
        # Checked type by type rather than item by item: these lists are an archive long.
        if not (
            isinstance(ids, list)
            and set(map(type, ids)) <= {str}
            and isinstance(digests, str)
            and isinstance(commits, str)
            and type(width) is int
            and width > 0
            and len(digests) == count * DIGEST_SIZE
            and len(commits) == count * width
            and isinstance(latest, list)
            and len(latest) == count
            and set(map(type, latest)) <= {int}
            and (not latest or (min(latest) >= 0 and max(latest) < len(signers)))
            and isinstance(offsets, list)
            and len(offsets) == count
            and set(map(type, offsets)) <= {int}
            and all(0 <= index < count for index in more)
            and all(fp is None or isinstance(fp, str) for fp, _, _ in signers)
        ):
            raise ValueError("the alert columns do not line up")
        return cls(ids, digests, commits, width, signers, latest, offsets, more)


class AlertHistories:
    """Every alert's revisions, as a state holds them: the columns it was read with, and the
    entries an audit changed since, on top. Immutable: `changed` returns a new one."""

    def __init__(
        self,
        journal: Path | None = None,
        columns: Columns | None = None,
        changes: Mapping[str, Entry] | None = None,
    ) -> None:
        self.journal = journal
        self.columns = columns or Columns.empty()
        self.changes: Mapping[str, Entry] = changes or {}

    def get(self, alert: str) -> Entry | None:
        entry = self.changes.get(alert)
        if entry is not None:
            return entry
        index = self.columns.position.get(alert)
        return None if index is None else self.columns.entry(index)

    def __contains__(self, alert: object) -> bool:
        return alert in self.changes or alert in self.columns.position

    def __iter__(self) -> Iterator[str]:
        yield from self.columns.ids
        yield from (alert for alert in self.changes if alert not in self.columns.position)

    def __len__(self) -> int:
        return len(self.columns.ids) + sum(
            alert not in self.columns.position for alert in self.changes
        )

    def digest(self, alert: str) -> str:
        """The digest of the alert's revisions ("" if none), without reading them."""
        entry = self.changes.get(alert)
        if entry is not None:
            return entry.digest
        index = self.columns.position.get(alert)
        if index is None:
            return ""
        return self.columns.digests[index * DIGEST_SIZE : (index + 1) * DIGEST_SIZE]

    def digests(self) -> dict[str, str]:
        """Every alert's digest, straight from the columns."""
        text = self.columns.digests
        found = dict(
            zip(
                self.columns.ids,
                (text[start : start + DIGEST_SIZE] for start in range(0, len(text), DIGEST_SIZE)),
                strict=True,
            )
        )
        found.update((alert, entry.digest) for alert, entry in self.changes.items())
        return found

    def latest_rows(self) -> Iterator[tuple[str, str, SignerRow]]:
        """(alert, commit, signer row) of every alert's latest revision, straight from the
        columns: provenance for a whole archive without an object per alert on the way."""
        columns, changes = self.columns, self.changes
        width, commits, signers, latest = (
            columns.width,
            columns.commits,
            columns.signers,
            columns.latest,
        )
        for index, alert in enumerate(columns.ids):
            if alert not in changes:
                commit = commits[index * width : (index + 1) * width]
                yield alert, commit, signers[latest[index]]
        for alert, entry in changes.items():
            last = entry.latest
            yield alert, last.commit, (last.signer_fingerprint, last.committer_email, last.verified)

    def changed(self, entries: Mapping[str, Entry]) -> AlertHistories:
        return AlertHistories(self.journal, self.columns, {**self.changes, **entries})

    def revisions(self, alert: str) -> tuple[Revision, ...]:
        """The revisions of `alert`, oldest first (empty if it has none)."""
        entry = self.get(alert)
        if entry is None:
            return ()
        if not entry.offsets:
            return entry.pending
        with self._open() as journal:
            lines = [_line_at(journal, offset) for offset in entry.offsets]
        return _checked(alert, entry, lines)

    def all_revisions(self) -> dict[str, tuple[Revision, ...]]:
        """Every alert's revisions, the journal read once."""
        entries = {alert: self.get(alert) for alert in self}
        wanted = {offset for entry in entries.values() if entry for offset in entry.offsets}
        lines: dict[int, bytes] = {}
        if wanted:
            with self._open() as journal:
                offset = 0
                for line in journal:
                    if offset in wanted:
                        lines[offset] = line
                    offset += len(line)
        return {
            alert: _checked(alert, entry, [lines.get(offset, b"") for offset in entry.offsets])
            for alert, entry in entries.items()
            if entry is not None
        }

    def _open(self) -> Any:
        if self.journal is None:
            raise AuditError("the audit state names revisions but no journal to read them from")
        try:
            return self.journal.open("rb")
        except OSError as error:
            raise AuditError(f"{self.journal}: cannot be read ({error})") from None


def _line_at(journal: Any, offset: int) -> bytes:
    journal.seek(offset)
    line: bytes = journal.readline()
    return line


def _checked(alert: str, entry: Entry, lines: Sequence[bytes]) -> tuple[Revision, ...]:
    """The revisions in `lines`, once their digest proves them the ones the state counted."""
    digest = ""
    revisions = []
    for line in lines:
        digest = chain(digest, line)
        try:
            owner, revision = parse_line(line)
        except (ValueError, TypeError):
            owner = ""
        if owner != alert:
            break
        revisions.append(revision)
    for line in entry.lines:
        digest = chain(digest, line)
    if len(revisions) != len(lines) or digest != entry.digest:
        raise AuditError(
            f"the audit's revisions journal no longer holds what it did for {alert}; "
            "delete the audit cache to rebuild it"
        )
    return (*revisions, *entry.pending)


class HistoryBuilder:
    """Collects the revisions an audit adds, chaining each alert's digest as it goes."""

    def __init__(self, base: AlertHistories) -> None:
        self._base = base
        self._changes: dict[str, Entry] = {}

    def add(self, alert: str, revision: Revision) -> None:
        entry = self._changes.get(alert) or self._base.get(alert)
        line = revision_line(alert, revision)
        digest = chain(entry.digest if entry else "", line)
        latest = Latest(
            revision.commit,
            revision.signer_fingerprint,
            revision.committer_email,
            revision.verified,
        )
        offsets = entry.offsets if entry else ()
        pending, lines = (entry.pending, entry.lines) if entry else ((), ())
        self._changes[alert] = Entry(digest, latest, offsets, (*pending, revision), (*lines, line))

    def result(self) -> AlertHistories:
        return self._base.changed(self._changes) if self._changes else self._base


def merged_columns(
    histories: AlertHistories, written: Mapping[str, tuple[int, ...]], width: int
) -> Columns:
    """The columns of `histories` once the pending revisions are at `written` offsets."""
    base = histories.columns
    if not histories.changes:
        return base
    ids = list(base.ids)
    digests = [base.digests]
    commits = [base.commits]
    signers: dict[SignerRow, int] = {row: number for number, row in enumerate(base.signers)}
    signer_rows = list(base.signers)
    latest = list(base.latest)
    offsets = list(base.offsets)
    more = dict(base.more)
    replaced: dict[int, Entry] = {}
    for alert, entry in histories.changes.items():
        index = base.position.get(alert)
        full = Entry(entry.digest, entry.latest, entry.offsets + written.get(alert, ()))
        if index is None:
            index = len(ids)
            ids.append(alert)
            latest.append(0)
            offsets.append(0)
            digests.append(full.digest)
            commits.append(full.latest.commit)
        else:
            replaced[index] = full
        row = (full.latest.signer_fingerprint, full.latest.committer_email, full.latest.verified)
        if row not in signers:
            signers[row] = len(signer_rows)
            signer_rows.append(row)
        latest[index] = signers[row]
        offsets[index] = full.offsets[0]
        if len(full.offsets) > 1:
            more[index] = full.offsets[1:]
    digest_text, commit_text = "".join(digests), "".join(commits)
    if replaced:
        digest_text = _patched(digest_text, DIGEST_SIZE, {i: e.digest for i, e in replaced.items()})
        commit_text = _patched(
            commit_text, width, {i: e.latest.commit for i, e in replaced.items()}
        )
    return Columns(ids, digest_text, commit_text, width, signer_rows, latest, offsets, more)


def _patched(text: str, size: int, values: Mapping[int, str]) -> str:
    pieces, start = [], 0
    for index in sorted(values):
        pieces += [text[start : index * size], values[index]]
        start = (index + 1) * size
    pieces.append(text[start:])
    return "".join(pieces)


class RevisionMap(Mapping[str, tuple[Revision, ...]]):
    """Each alert's revisions as reported: read on demand, and with the commits that a
    revocation at HEAD withdrew no longer verified."""

    def __init__(self, histories: AlertHistories, withdrawn: Iterable[str] = ()) -> None:
        self._histories = histories
        self._withdrawn = frozenset(withdrawn)
        self._all: dict[str, tuple[Revision, ...]] | None = None
        # Which commits are withdrawn is not kept per alert, so a change to them changes
        # every history's digest: rare (a revocation while commits await publication).
        self._salt = (
            hashlib.sha256(",".join(sorted(self._withdrawn)).encode()).hexdigest()[:DIGEST_SIZE]
            if self._withdrawn
            else ""
        )

    def __getitem__(self, alert: str) -> tuple[Revision, ...]:
        if self._all is not None:
            return self._all[alert]
        if alert not in self._histories:
            raise KeyError(alert)
        return self._unverified(self._histories.revisions(alert))

    def __iter__(self) -> Iterator[str]:
        return iter(self._histories)

    def __len__(self) -> int:
        return len(self._histories)

    def __contains__(self, alert: object) -> bool:
        return alert in self._histories

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RevisionMap):
            return self.everything() == other.everything()
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, like a dict

    def __repr__(self) -> str:
        return f"RevisionMap({len(self)} alerts)"

    def everything(self) -> dict[str, tuple[Revision, ...]]:
        """Every alert's revisions, the journal read once (and kept)."""
        if self._all is None:
            self._all = {
                alert: self._unverified(revisions)
                for alert, revisions in self._histories.all_revisions().items()
            }
        return self._all

    def digest(self, alert: str) -> str:
        """A digest of what `self[alert]` holds ("" if no revisions): a history page's key."""
        digest = self._histories.digest(alert)
        return digest + self._salt if digest else ""

    def digests(self) -> dict[str, str]:
        """`digest` of every alert that has revisions, at once."""
        found = self._histories.digests()
        if self._salt:
            return {alert: digest + self._salt for alert, digest in found.items()}
        return found

    @property
    def histories(self) -> AlertHistories:
        return self._histories

    @property
    def withdrawn(self) -> frozenset[str]:
        return self._withdrawn

    def latest(self, alert: str) -> Latest | None:
        entry = self._histories.get(alert)
        if entry is None:
            return None
        latest = entry.latest
        if latest.verified and latest.commit in self._withdrawn:
            return replace(latest, verified=False)
        return latest

    def _unverified(self, revisions: tuple[Revision, ...]) -> tuple[Revision, ...]:
        if not self._withdrawn:
            return revisions
        return tuple(
            replace(revision, verified=False) if revision.commit in self._withdrawn else revision
            for revision in revisions
        )


class ProvenanceMap(Mapping[str, Provenance]):
    """The last commit that changed each alert at HEAD (when that was within the range).

    A verified commit was signed by its committer, so the committer's e-mail is the signer's
    principal; an unverified one names no signer.
    """

    def __init__(self, revisions: RevisionMap, alerts: Iterable[str]) -> None:
        self._revisions = revisions
        self._paths = alerts

    @cached_property
    def _ids(self) -> list[str]:
        return [alert for alert in self._at_head if alert in self._revisions]

    @cached_property
    def _at_head(self) -> dict[str, None]:
        # Inlined alert_id (every path is an alert file, `.../<id>.md`): an archive's worth.
        return {path[path.rindex("/") + 1 : -3]: None for path in self._paths}

    def __getitem__(self, alert: str) -> Provenance:
        latest = self._revisions.latest(alert) if alert in self._at_head else None
        if latest is None:
            raise KeyError(alert)
        return _provenance(latest)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return f"ProvenanceMap({len(self)} alerts)"

    __hash__ = None  # type: ignore[assignment]

    def verified(self) -> dict[str, Provenance]:
        """The provenance of the alerts whose latest change verified."""
        at_head, withdrawn = self._at_head, self._revisions.withdrawn
        return {
            alert: _verified_provenance(commit, fingerprint, email)
            for alert, commit, (fingerprint, email, verified) in (
                self._revisions.histories.latest_rows()
            )
            if verified and fingerprint and alert in at_head and commit not in withdrawn
        }


def _verified_provenance(commit: str, fingerprint: str, email: str) -> Provenance:
    """Provenance(commit, fingerprint, email), made as unpickling makes it: a frozen
    dataclass's __init__ costs twice as much, and a build makes one per alert."""
    provenance: Provenance = object.__new__(Provenance)
    provenance.__dict__.update(commit=commit, signer_fingerprint=fingerprint, signer_name=email)
    return provenance


def _provenance(latest: Latest) -> Provenance:
    return Provenance(
        commit=latest.commit,
        signer_fingerprint=latest.signer_fingerprint or "",
        signer_name=latest.committer_email if latest.verified else "",
    )
