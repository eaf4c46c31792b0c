"""The audit's part in a build: verify history first, then publish what it found."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.background import BackgroundGit
from alerts.model import Provenance

from .audit import accept_rewrite, audit_repository, record_publication
from .errors import AuditError, RepositoryError
from .ledger import Ledger
from .policy import AuditPolicy
from .report import AuditReport

LEDGER_FILE = "ledger.json"


class HistoryViolations(AuditError):
    """A production build found broken rules: it publishes nothing."""

    def __init__(self, report: AuditReport) -> None:
        lines = [str(v) for v in report.violations]
        super().__init__(
            f"the history breaks {len(lines)} rule(s); nothing was published:\n" + "\n".join(lines)
        )
        self.report = report


@dataclass(frozen=True)
class BuildAudit:
    """What the audit concluded for this build, for pages, feeds and the ledger."""

    report: AuditReport | None
    problem: str | None  # why there is no report (development builds only)
    ledger: Ledger  # as it will be once this build is published
    ledger_path: Path
    production: bool
    policy: AuditPolicy
    reasons: tuple[str, ...] = field(default=())

    @property
    def verified(self) -> bool:
        return self.report is not None and self.report.ok


def policy_of(settings: Any) -> AuditPolicy:
    return AuditPolicy(since=settings.audit_since, trusted_signers=settings.audit_trusted_signers)


def audit_build(
    content: Path,
    settings: Any,
    now: Any,
    state_dir: Path,
    accept_rewrite_reason: str | None,
    committed: bool = False,
) -> BuildAudit:
    """Audit the history behind `content`. In production any violation, an unreadable
    history or uncommitted content raises; in development they become reasons shown.
    `committed`: the caller found `content` to be exactly a tree of HEAD (git status found
    nothing there), so it is not asked again."""
    policy = policy_of(settings)
    ledger_path = state_dir / LEDGER_FILE
    ledger = Ledger.load(ledger_path)
    cache = None if settings.no_cache else state_dir / "cache" / "audit"
    # git status stats every file (0.3 s at 100,000 alerts): it runs while the history is
    # audited, unless the build's stamp asked it already.
    with Uncommitted(None if committed else content) as status:
        try:
            if accept_rewrite_reason is not None:
                ledger = accept_rewrite(content, policy, ledger, accept_rewrite_reason, now)
            report = audit_repository(content, policy, now, ledger, cache)
        except RepositoryError as error:
            if settings.production:
                raise
            reason = f"the content is not a verifiable git history: {error}"
            return BuildAudit(None, str(error), ledger, ledger_path, False, policy, (reason,))
        dirty = status.result()
    if settings.production:
        if dirty:
            raise AuditError(
                f"{len(dirty)} file(s) under {content} are not committed (first: {dirty[0]}); "
                "a production build publishes only signed, committed history"
            )
        if not report.ok:
            raise HistoryViolations(report)
        ledger = record_publication(ledger, report.head, now)
    reasons = []
    if not settings.production:
        reasons.append("this is a development build: nothing is recorded in the ledger")
    if report.violations:
        rules = sorted({v.rule for v in report.violations})
        reasons.append(f"{len(report.violations)} violation(s) of the rules: {', '.join(rules)}")
    if dirty:
        reasons.append(f"{len(dirty)} uncommitted change(s) under the content folder")
    return BuildAudit(
        report, None, ledger, ledger_path, settings.production, policy, tuple(reasons)
    )


class Uncommitted:
    """The paths under `content` that differ from HEAD (modified, added or untracked), asked
    of `git status` in the background (BackgroundGit); use it as a context manager."""

    def __init__(self, content: Path | None) -> None:
        self._content = content  # None: known to hold nothing uncommitted
        self._git: BackgroundGit | None = None

    def __enter__(self) -> Uncommitted:
        if self._content is not None:
            try:
                self._git = BackgroundGit(
                    self._content, "status", "--porcelain", "-z", "--untracked-files=all", "--", "."
                )
            except OSError:
                self._git = None  # no such folder: the audit says what is wrong
        return self

    def __exit__(self, *exc_info: object) -> None:
        git, self._git = self._git, None
        if git is not None:
            git.close()

    def result(self) -> list[str]:
        """Wait for git; nothing if it could not tell (not a work tree: the audit says why)."""
        if self._git is None or self._git.wait() != 0:
            return []
        output = self._git.output()
        return [entry[3:] for entry in output.decode("utf-8", "replace").split("\0") if entry]


def verified_provenance(audit: BuildAudit) -> VerifiedProvenance:
    """Who signed each alert's latest change, for alerts whose change verified."""
    return VerifiedProvenance(audit.report)


class VerifiedProvenance(Mapping[str, Provenance]):
    """Who signed each alert's latest change, for alerts whose change verified: looked up
    alert by alert (a build that adds one alert shows a few), or made for the whole
    archive at once (`whole`, in C loops) for a build that looks at every page."""

    def __init__(self, report: AuditReport | None) -> None:
        self._report = report
        self._whole: dict[str, Provenance] | None = None if report is not None else {}

    def __getitem__(self, alert: str) -> Provenance:
        if self._whole is not None:
            return self._whole[alert]
        report = self._report
        assert report is not None
        latest = report.revisions.latest(alert)  # a withdrawn commit's: not verified
        if latest is None or not latest.verified or not latest.signer_fingerprint:
            raise KeyError(alert)
        # Deleting or renaming an alert file breaks the append-only rule, and the totals
        # keep every violation found in the range: without any, every alert with revisions
        # is at HEAD.
        if not report.ok and alert not in report.provenance:
            raise KeyError(alert)
        return Provenance(latest.commit, latest.signer_fingerprint, latest.committer_email)

    def whole(self) -> dict[str, Provenance]:
        if self._whole is None:
            assert self._report is not None
            self._whole = self._report.provenance.verified(all_at_head=self._report.ok)
        return self._whole

    def __iter__(self) -> Iterator[str]:
        return iter(self.whole())

    def __len__(self) -> int:
        return len(self.whole())
