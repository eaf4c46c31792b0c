"""Each alert's revisions: a digest and the latest at hand, the rest read only when asked for.

An archive of 100,000 alerts must not be read whole to publish one more. The audit state keeps,
per alert, a digest chained over its revisions (a history page's key), its latest revision
(provenance) and where its revisions lie in the journal, a file of one revision per line.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .columns import Columns, Entry, Latest
from .errors import AuditError
from .journal import DIGEST_SIZE, chain, parse_line, revision_line
from .report import Revision


class AlertHistories:
    """Every alert's revisions, as a state holds them: the columns it was read with, and the
    entries an audit changed since, on top. Immutable: `changed` returns a new one."""

    def __init__(
        self,
        journal: Path | None = None,
        columns: Columns | None = None,
        changes: Mapping[str, Entry] | None = None,
        token: str = "",
        size: int = 0,
    ) -> None:
        self.journal = journal
        self.columns = columns or Columns.empty()
        self.changes: Mapping[str, Entry] = changes or {}
        # The columns file these were read with ("" if none) and the bytes of the journal
        # that hold their revisions: together they name what a build showed (`mark`).
        self.token = token
        self.size = size

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
        columns = self.columns
        found = dict(zip(columns.ids, columns_of(columns.digests, DIGEST_SIZE), strict=True))
        found.update((alert, entry.digest) for alert, entry in self.changes.items())
        return found

    def changed(self, entries: Mapping[str, Entry]) -> AlertHistories:
        return AlertHistories(
            self.journal, self.columns, {**self.changes, **entries}, self.token, self.size
        )

    def mark(self) -> str:
        """Names these histories as they will be saved ("" if they will not be: no cache):
        the columns file and the size of the journal once their new revisions are in it."""
        if not self.token:
            return ""
        pending = sum(len(line) for entry in self.changes.values() for line in entry.lines)
        return f"{self.token}:{self.size + pending}"

    def changed_since(self, mark: str) -> set[str] | None:
        """The alerts whose revisions may differ from those the histories `mark` names had:
        those with a revision written past the journal's size then, or not written yet
        (None if it cannot tell: other columns, or a journal that is not the same).

        The journal only grows while the columns file stays (compacting makes a new one),
        and an alert whose revisions changed since the columns were written is among
        `changes`: no archive's worth of looking.
        """
        token, _, size = mark.partition(":")
        if not self.token or token != self.token or not size.isdigit() or int(size) > self.size:
            return None
        since = int(size)
        return {
            alert
            for alert, entry in self.changes.items()
            if entry.pending or (entry.offsets and entry.offsets[-1] >= since)
        }

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


def columns_of(text: str, width: int) -> Iterator[str]:
    """`text` cut into pieces of `width` characters, in C loops (no Python call per piece):
    a state holds an archive's digests and commits as one string each."""
    length = len(text)
    return map(
        text.__getitem__, map(slice, range(0, length, width), range(width, length + 1, width))
    )


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
