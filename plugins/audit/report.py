"""The audit's findings: violations, signers, each alert's revisions, and a summary of it all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from .ledger import Ledger
from .storage import utc_text

if TYPE_CHECKING:
    from .revisions import ProvenanceMap, RevisionMap

# One name per rule, in the order the rules are numbered in the README.
RULES: Final = (
    "signed",
    "identity",
    "validity",
    "append-only",
    "no-silent-edits",
    "linear",
    "no-rewrite",
    "policy",
)

RevisionKind = Literal["added", "corrected", "withdrawn", "changed"]


@dataclass(frozen=True)
class Violation:
    """One broken rule: in which commit, on which path ("" if none), and why."""

    commit: str
    path: str
    rule: str
    explanation: str

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r}")

    def __str__(self) -> str:
        return f"{self.commit[:12]}  {self.path or '-'}  {self.rule}: {self.explanation}"

    def to_json(self) -> dict[str, str]:
        return {
            "commit": self.commit,
            "path": self.path,
            "rule": self.rule,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class SignerInfo:
    """A key that may sign (as HEAD's allowed-signers file says), or that signed commits."""

    principal: str
    fingerprint: str
    algorithm: str
    valid_after: datetime | None
    valid_before: datetime | None
    revoked: bool
    commits: int  # verified commits it signed within the audited range

    def to_json(self) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "fingerprint": self.fingerprint,
            "algorithm": self.algorithm,
            "valid_after": _time(self.valid_after),
            "valid_before": _time(self.valid_before),
            "revoked": self.revoked,
            "commits": self.commits,
        }


@dataclass(frozen=True)
class Revision:
    """One commit that changed one alert file, for the alert's public history."""

    commit: str
    committed_at: datetime
    committer_email: str
    signer_fingerprint: str | None
    verified: bool  # signed by an allowed key, as the committer, within its validity
    kind: RevisionKind
    note: str | None  # the corrections entry the commit added, if it added exactly one
    diff: str  # unified diff against the previous version; empty when added

    def to_json(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "committed_at": utc_text(self.committed_at),
            "committer_email": self.committer_email,
            "signer_fingerprint": self.signer_fingerprint,
            "verified": self.verified,
            "kind": self.kind,
            "note": self.note,
            "diff": self.diff,
        }


@dataclass(frozen=True)
class AuditReport:
    """Everything one audit of one head found."""

    head: str
    since: str | None  # the first commit held to the rules; None when that is the root
    commits_checked: int
    first_commit: str
    last_commit: str
    signers: tuple[SignerInfo, ...]
    alerts: int  # alert files at HEAD
    violations: tuple[Violation, ...]
    ledger: Ledger
    revisions: RevisionMap  # alert id -> oldest first, read on demand
    provenance: ProvenanceMap  # alert id -> the last commit that changed it
    verified_commits: int
    unsigned_commits: int

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary_lines(self) -> list[str]:
        names = ", ".join(signer.principal for signer in self.signers) or "none"
        return [
            f"Commits checked: {self.commits_checked} ({self.verified_commits} verified, "
            f"{self.unsigned_commits} unsigned)",
            f"Signers: {len(self.signers)} ({names})",
            f"Alerts: {self.alerts}",
            f"First commit: {self.first_commit}",
            f"Last commit: {self.last_commit}",
        ]

    def to_json(self, *, history: bool = True) -> dict[str, Any]:
        """Everything as JSON; without `history`, no revisions or provenance (which would
        read every alert's revisions: an archive's worth)."""
        summary = {
            "ok": self.ok,
            "head": self.head,
            "since": self.since,
            "commits_checked": self.commits_checked,
            "verified_commits": self.verified_commits,
            "unsigned_commits": self.unsigned_commits,
            "first_commit": self.first_commit,
            "last_commit": self.last_commit,
            "alerts": self.alerts,
            "signers": [signer.to_json() for signer in self.signers],
            "violations": [violation.to_json() for violation in self.violations],
            "ledger": self.ledger.to_json(),
        }
        if not history:
            return summary
        revisions = self.revisions.everything()
        return {
            **summary,
            "revisions": {
                alert: [revision.to_json() for revision in revisions[alert]]
                for alert in sorted(revisions)
            },
            "provenance": {
                alert: {
                    "commit": self.provenance[alert].commit,
                    "signer_fingerprint": self.provenance[alert].signer_fingerprint,
                    "signer_name": self.provenance[alert].signer_name,
                }
                for alert in sorted(self.provenance)
            },
        }


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else utc_text(moment)
