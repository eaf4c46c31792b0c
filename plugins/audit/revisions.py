"""Each alert's revisions and provenance as an audit reports them: read only when asked for."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from functools import cached_property
from itertools import compress, repeat
from operator import getitem, itemgetter
from typing import Final

from alerts.model import Provenance

from .bulk import collector_paused
from .columns import Latest
from .histories import AlertHistories, columns_of
from .journal import DIGEST_SIZE
from .report import Revision

_STEM: Final = slice(None, -3)  # an alert file's name without ".md"
_PATH_SEPARATOR: Final = "\0"  # git forbids it in a path


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

    @property
    def salt(self) -> str:
        """What `digest` adds to every alert's digest: which commits are withdrawn."""
        return self._salt

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

    def __getstate__(self) -> dict[str, object]:
        # Sent to another process (the build audits in a forked child): an archive's paths
        # travel as one string, split only if some alert's provenance is asked for. A set
        # of 100,000 paths takes 30 ms to load; the string, none.
        state = {name: value for name, value in self.__dict__.items() if name not in _MADE}
        state["_paths"] = _Joined(_PATH_SEPARATOR.join(self._paths))
        return state

    @cached_property
    def _ids(self) -> list[str]:
        return [alert for alert in self._revisions if alert in self._at_head]

    @cached_property
    def _at_head(self) -> frozenset[str]:
        # Inlined alert_id (every path is an alert file, `.../<id>.md`), in C loops: an
        # archive's worth.
        names = map(itemgetter(2), map(str.rpartition, self._paths, repeat("/")))
        return frozenset(map(getitem, names, repeat(_STEM)))

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

    def verified(self, *, all_at_head: bool = False) -> dict[str, Provenance]:
        """The provenance of the alerts whose latest change verified.

        Pages look every alert's up, so it is made for the whole archive: from the state's
        columns in C loops (no Python call per alert), then the few alerts changed since
        they were written, the alerts no longer at HEAD and withdrawn commits on top.
        `all_at_head`: the caller knows that every alert with revisions is at HEAD (no
        alert file was deleted or renamed away), so that need not be checked path by path.
        """
        with collector_paused():
            histories = self._revisions.histories
            columns = histories.columns
            signers = columns.signers
            good = [bool(verified and fingerprint) for fingerprint, _, verified in signers]
            keep = list(map(good.__getitem__, columns.latest))
            rows = list(compress(map(signers.__getitem__, columns.latest), keep))
            found = dict(
                zip(
                    compress(columns.ids, keep),
                    _provenances(
                        compress(columns_of(columns.commits, columns.width), keep),
                        map(itemgetter(0), rows),
                        map(itemgetter(1), rows),
                        len(rows),
                    ),
                    strict=True,
                )
            )
            for alert, entry in histories.changes.items():
                found.pop(alert, None)
                last = entry.latest
                if last.verified and last.signer_fingerprint:
                    found[alert] = _provenance(last)
            if not all_at_head:
                for alert in found.keys() - self._at_head:
                    del found[alert]
            withdrawn = self._revisions.withdrawn
            if withdrawn:  # rare: a revocation while commits await publication
                found = {a: p for a, p in found.items() if p.commit not in withdrawn}
            return found


# ProvenanceMap's indexes, made from its paths when first asked for.
_MADE: Final = frozenset({"_ids", "_at_head"})


class _Joined(Iterable[str]):
    """Paths joined by NUL (which no path holds), iterated one by one."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __iter__(self) -> Iterator[str]:
        return iter(self._text.split(_PATH_SEPARATOR) if self._text else ())


def _provenances(
    commits: Iterable[str], fingerprints: Iterable[str], emails: Iterable[str], count: int
) -> list[Provenance]:
    """Provenance(commit, fingerprint, email) for each, made as unpickling makes them and in
    C loops: a frozen dataclass's __init__ is a Python call, and a build makes one per alert."""
    made = list(map(object.__new__, repeat(Provenance, count)))
    for name, values in (
        ("commit", commits),
        ("signer_fingerprint", fingerprints),
        ("signer_name", emails),
    ):
        deque(map(object.__setattr__, made, repeat(name), values), maxlen=0)
    return made


def _provenance(latest: Latest) -> Provenance:
    return Provenance(
        commit=latest.commit,
        signer_fingerprint=latest.signer_fingerprint or "",
        signer_name=latest.committer_email if latest.verified else "",
    )
