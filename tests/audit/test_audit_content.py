"""Rules 4, 5 and 6: alerts are never deleted or renamed, edits are corrections, no merges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit.audit import audit_repository
from audit.ledger import Ledger
from audit.policy import AuditPolicy
from audit.report import AuditReport, Violation
from tests.support.signing import Key, SignedRepo, alert_path, alert_text, email_of

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ALERT = alert_path("bridge-closed")
OTHER = alert_path("market-evacuated")
ISSUED = "2024-05-01T09:00:00+01:00"
FIX = ("2024-05-01T10:00:00+01:00", "The bridge reopens at noon.")
FIX_2 = ("2024-05-01T11:00:00+01:00", "The diversion changed.")


def audit(repo: SignedRepo, policy: AuditPolicy, ledger: Ledger | None = None) -> AuditReport:
    return audit_repository(repo.path, policy, NOW, ledger or Ledger())


def change(repo: SignedRepo, files: dict[str, str | None], key: Key, message: str = "x") -> str:
    return repo.commit(files, message, key, email_of(key), "2024-05-02T09:00:00Z")


@pytest.fixture
def published(newsroom: SignedRepo, bob: Key) -> SignedRepo:
    """The newsroom with one alert published by bob."""
    change(newsroom, {ALERT: alert_text("Bridge closed")}, bob, "Bridge")
    return newsroom


def test_a_deleted_alert(published: SignedRepo, policy: AuditPolicy, bob: Key) -> None:
    oid = change(published, {ALERT: None}, bob)
    report = audit(published, policy)
    assert report.violations == (
        Violation(
            oid,
            ALERT,
            "append-only",
            "deletes a published alert; withdraw it instead (status: withdrawn, with a "
            "corrections entry saying why)",
        ),
    )
    assert report.alerts == 0
    assert report.provenance == {}
    assert report.provenance.verified() == {}  # its revisions are kept, but it is not at HEAD


def test_a_renamed_alert(published: SignedRepo, policy: AuditPolicy, bob: Key) -> None:
    renamed = alert_path("bridge-shut")
    published.git("mv", ALERT, renamed)
    oid = change(published, {}, bob)
    report = audit(published, policy)
    assert report.violations == (
        Violation(
            oid,
            ALERT,
            "append-only",
            f"renames the alert to {renamed}; an alert's file name is its id and never changes",
        ),
    )
    assert [r.kind for r in report.revisions["2024-05-01-bridge-shut"]] == ["changed"]
    assert report.revisions["2024-05-01-bridge-shut"][0].diff == ""  # renamed as it was


def test_moving_an_alert_out_of_the_alerts_folder_is_a_deletion_too(
    published: SignedRepo, policy: AuditPolicy, bob: Key
) -> None:
    (published.path / "archive").mkdir()
    published.git("mv", ALERT, "archive/bridge.md")
    oid = change(published, {}, bob)
    assert audit(published, policy).violations == (
        Violation(
            oid,
            ALERT,
            "append-only",
            "renames the alert to archive/bridge.md; an alert's file name is its id and never "
            "changes",
        ),
    )


EDITS = {
    "no correction": (
        alert_text("Bridge closed", body="The bridge is closed in both directions."),
        ["edits the alert without adding a corrections entry saying what changed and why"],
    ),
    "two corrections": (
        alert_text("Bridge closed", corrections=[FIX, FIX_2]),
        ["adds 2 corrections entries in one edit; add exactly one"],
    ),
    "issued changed": (
        alert_text("Bridge closed", issued="2024-05-01T08:00:00+01:00", corrections=[FIX]),
        [
            'changes issued from "2024-05-01T09:00:00+01:00" to "2024-05-01T08:00:00+01:00"; '
            "the time an alert was issued never changes"
        ],
    ),
    "issued changed, no correction": (
        alert_text("Bridge closed", issued="2024-05-02T09:00:00+01:00"),
        [
            'changes issued from "2024-05-01T09:00:00+01:00" to "2024-05-02T09:00:00+01:00"; '
            "the time an alert was issued never changes",
            "edits the alert without adding a corrections entry saying what changed and why",
        ],
    ),
    "unreadable": (
        "title: no front-matter fence\n",
        [
            "the new version cannot be read (line 1: front-matter: the file must start with a "
            "line '---' (YAML front-matter)), so the edit cannot be checked"
        ],
    ),
    "duplicate key": (
        alert_text("Bridge closed", corrections=[FIX]).replace("level:", "title: x\nlevel:"),
        [
            "the new version cannot be read (line 3: front-matter: duplicate key 'title'), so "
            "the edit cannot be checked"
        ],
    ),
}


@pytest.mark.parametrize(("text", "problems"), EDITS.values(), ids=EDITS.keys())
def test_an_edit_must_be_one_correction(
    published: SignedRepo, policy: AuditPolicy, alice: Key, text: str, problems: list[str]
) -> None:
    oid = change(published, {ALERT: text}, alice)
    report = audit(published, policy)
    assert report.violations == tuple(
        Violation(oid, ALERT, "no-silent-edits", problem) for problem in problems
    )
    assert [r.kind for r in report.revisions["2024-05-01-bridge-closed"]] == ["added", "changed"]
    assert report.revisions["2024-05-01-bridge-closed"][1].note is None


def test_earlier_corrections_are_append_only(
    published: SignedRepo, policy: AuditPolicy, alice: Key
) -> None:
    change(published, {ALERT: alert_text("Bridge closed", corrections=[FIX])}, alice)
    rewritten = (FIX[0], "Something else entirely.")
    oid = change(
        published, {ALERT: alert_text("Bridge closed", corrections=[rewritten, FIX_2])}, alice
    )
    assert audit(published, policy).violations == (
        Violation(
            oid,
            ALERT,
            "no-silent-edits",
            "changes or removes an earlier corrections entry; they are append-only",
        ),
    )


def test_an_unreadable_alert_cannot_be_corrected_silently(
    newsroom: SignedRepo, policy: AuditPolicy, alice: Key, bob: Key
) -> None:
    change(newsroom, {ALERT: "---\ntitle: [unclosed\n---\nBody\n"}, bob)
    oid = change(newsroom, {ALERT: alert_text("Bridge closed", corrections=[FIX])}, alice)
    assert audit(newsroom, policy).violations == (
        Violation(
            oid,
            ALERT,
            "no-silent-edits",
            "the previous version cannot be read (line 2: front-matter: is not valid YAML: "
            "expected ',' or ']', but got '<stream end>'), so the edit cannot be checked",
        ),
    )


def test_a_merge_commit(published: SignedRepo, policy: AuditPolicy, bob: Key, dave: Key) -> None:
    published.git("checkout", "-q", "-b", "side", "HEAD~1")
    change(published, {OTHER: alert_text("Market evacuated")}, dave)
    published.git("checkout", "-q", "main")
    merge = published.merge("side", bob, email_of(bob))
    report = audit(published, policy)
    assert report.violations == (
        Violation(
            merge,
            "",
            "linear",
            "merges 2 parents; the history must be one line (rebase instead of merging)",
        ),
    )
    assert report.alerts == 2
    assert report.commits_checked == 4


def test_a_merge_cannot_hide_a_deletion(
    published: SignedRepo, policy: AuditPolicy, bob: Key, dave: Key
) -> None:
    """Merged into a branch that never had the alert, with `-s ours`, the alert is gone, yet
    no single commit's diff against its first parent deletes it."""
    last_published = published.head()
    ledger = Ledger().with_entry(last_published, datetime(2024, 5, 2, 10, 0, tzinfo=UTC))
    published.git("checkout", "-q", "-b", "side", "HEAD~1")
    # Unlike the bridge alert, so that git sees no rename of one into the other.
    market = alert_text("Market", issued="2024-05-03T09:00:00+01:00", body="Stalls shut.\n" * 9)
    change(published, {OTHER: market}, dave)
    merge = published.merge("main", bob, email_of(bob), strategy="ours")
    published.git("checkout", "-q", "main")
    published.reset(merge)
    report = audit(published, policy, ledger)
    assert report.violations == (
        Violation(
            merge,
            "",
            "linear",
            "merges 2 parents; the history must be one line (rebase instead of merging)",
        ),
        Violation(
            merge,
            ALERT,
            "append-only",
            f"is missing at HEAD, though the last published head {last_published[:12]} had it "
            "(a merge or a rewrite hid this from the commit-by-commit check)",
        ),
    )
    assert report.alerts == 1
