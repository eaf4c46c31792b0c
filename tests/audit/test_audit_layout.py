"""Month folders (alerts/YYYY/MM/) hold alerts for the audit as year folders do, and a
published alert never moves from one layout to the other."""

from __future__ import annotations

from datetime import UTC, datetime

from audit.audit import audit_repository
from audit.ledger import Ledger
from audit.policy import AuditPolicy
from audit.report import AuditReport, Violation
from tests.support.signing import Key, SignedRepo, alert_path, alert_text, email_of

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
IN_YEAR = alert_path("bridge-closed")  # content/alerts/2024/2024-05-01-bridge-closed.md
IN_MONTH = "content/alerts/2024/05/2024-05-01-market-evacuated.md"


def audit(repo: SignedRepo, policy: AuditPolicy) -> AuditReport:
    return audit_repository(repo.path, policy, NOW, Ledger())


def change(repo: SignedRepo, files: dict[str, str | None], key: Key) -> str:
    return repo.commit(files, "x", key, email_of(key), "2024-05-02T09:00:00Z")


def test_alerts_in_month_and_year_folders_are_all_audited(
    newsroom: SignedRepo, policy: AuditPolicy, bob: Key
) -> None:
    change(newsroom, {IN_YEAR: alert_text("Bridge closed")}, bob)
    change(newsroom, {IN_MONTH: alert_text("Market evacuated")}, bob)
    report = audit(newsroom, policy)
    assert report.ok, report.violations
    assert report.alerts == 2
    assert sorted(report.provenance.verified()) == [
        "2024-05-01-bridge-closed",
        "2024-05-01-market-evacuated",
    ]


def test_an_alert_deleted_from_a_month_folder(
    newsroom: SignedRepo, policy: AuditPolicy, bob: Key
) -> None:
    change(newsroom, {IN_MONTH: alert_text("Market evacuated")}, bob)
    oid = change(newsroom, {IN_MONTH: None}, bob)
    assert [(v.commit, v.path, v.rule) for v in audit(newsroom, policy).violations] == [
        (oid, IN_MONTH, "append-only")
    ]


def test_moving_a_published_alert_into_a_month_folder_is_a_rename(
    newsroom: SignedRepo, policy: AuditPolicy, bob: Key
) -> None:
    change(newsroom, {IN_YEAR: alert_text("Bridge closed")}, bob)
    moved = "content/alerts/2024/05/2024-05-01-bridge-closed.md"
    (newsroom.path / "content/alerts/2024/05").mkdir()
    newsroom.git("mv", IN_YEAR, moved)
    oid = change(newsroom, {}, bob)
    assert audit(newsroom, policy).violations == (
        Violation(
            oid,
            IN_YEAR,
            "append-only",
            f"renames the alert to {moved}; an alert's file name is its id and never changes",
        ),
    )


def test_an_edit_in_a_month_folder_needs_its_correction(
    newsroom: SignedRepo, policy: AuditPolicy, bob: Key
) -> None:
    change(newsroom, {IN_MONTH: alert_text("Market evacuated")}, bob)
    edited = alert_text("Market evacuated", body="Everyone is out.")
    oid = change(newsroom, {IN_MONTH: edited}, bob)
    assert [(v.commit, v.path, v.rule) for v in audit(newsroom, policy).violations] == [
        (oid, IN_MONTH, "no-silent-edits")
    ]
