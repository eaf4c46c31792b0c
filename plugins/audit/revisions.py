"""Each alert's revisions and provenance as an audit reports them: read only when asked for."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from functools import cached_property

from alerts.model import Provenance

from .bulk import collector_paused
from .columns import Latest
from .histories import AlertHistories
from .journal import DIGEST_SIZE
from .report import Revision


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
        with collector_paused():
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
