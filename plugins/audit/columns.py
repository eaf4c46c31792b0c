"""Each alert's history in brief (its digest, latest revision and journal lines), and the
columns the state keeps them all in: an archive's worth read as a few long JSON values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .journal import DIGEST_SIZE
from .report import Revision


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
        return dict(zip(self.ids, range(len(self.ids)), strict=True))  # C loops

    def __getstate__(self) -> dict[str, Any]:
        # Sent to another process (the build audits in a forked child), the position index
        # costs more to load than to make again where it is asked for.
        return {name: value for name, value in self.__dict__.items() if name != "position"}

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


def merged_columns(
    base: Columns, changes: Mapping[str, Entry], written: Mapping[str, tuple[int, ...]], width: int
) -> Columns:
    """`base` with the `changes` made to it, their pending revisions at `written` offsets."""
    if not changes:
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
    for alert, entry in changes.items():
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
