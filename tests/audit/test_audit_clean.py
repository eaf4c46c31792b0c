"""A clean history passes, and the report tells each alert's story: revisions and provenance."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.model import Provenance
from audit.audit import audit_repository, record_publication
from audit.ledger import Ledger
from audit.policy import AuditPolicy
from audit.report import AuditReport, Violation
from tests.support.signing import Key, SignedRepo, alert_path, alert_text, email_of

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
BRIDGE = alert_path("bridge-closed")
MARKET = alert_path("market-evacuated")
FIRST = ("2024-05-01T10:00:00+01:00", "The bridge reopens at noon, not at ten.")
SECOND = ("2024-05-01T11:00:00+01:00", "The diversion runs via Vauxhall Bridge.")
WITHDRAWAL = ("2024-05-01T12:00:00+01:00", "Withdrawn: the evacuation was a drill.")


@dataclass(frozen=True)
class Story:
    repo: SignedRepo
    commits: list[str]
    report: AuditReport


@pytest.fixture
def story(newsroom: SignedRepo, policy: AuditPolicy, alice: Key, bob: Key, dave: Key) -> Story:
    """Two alerts by two signers; one corrected twice by a third, the other withdrawn."""
    repo = newsroom

    def commit(files: dict[str, str], message: str, key: Key, day: int) -> str:
        return repo.commit(files, message, key, email_of(key), f"2024-05-{day:02d}T09:00:00Z")

    commits = [
        repo.head(),
        commit({BRIDGE: alert_text("Bridge closed")}, "Bridge", bob, 1),
        commit({MARKET: alert_text("Market evacuated")}, "Market", dave, 2),
        commit({BRIDGE: alert_text("Bridge closed", corrections=[FIRST])}, "Fix time", alice, 3),
        commit(
            {MARKET: alert_text("Market evacuated", corrections=[WITHDRAWAL], status="withdrawn")},
            "Withdraw",
            bob,
            4,
        ),
        commit(
            {BRIDGE: alert_text("Bridge closed", corrections=[FIRST, SECOND])},
            "Fix route",
            alice,
            5,
        ),
    ]
    return Story(repo, commits, audit_repository(repo.path, policy, NOW, Ledger()))


def test_a_clean_history_passes(story: Story, alice: Key, bob: Key, dave: Key) -> None:
    report = story.report
    assert report.violations == ()
    assert report.ok
    assert report.head == story.commits[-1]
    assert report.since is None
    assert report.commits_checked == 6
    assert (report.first_commit, report.last_commit) == (story.commits[0], story.commits[-1])
    assert (report.verified_commits, report.unsigned_commits) == (6, 0)
    assert report.alerts == 2
    assert [(s.principal, s.fingerprint, s.commits, s.revoked) for s in report.signers] == [
        (email_of(alice), alice.fingerprint, 3, False),
        (email_of(bob), bob.fingerprint, 2, False),
        (email_of(dave), dave.fingerprint, 1, False),
    ]
    assert [s.algorithm for s in report.signers] == [
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ssh-rsa",
    ]


def test_revisions_of_an_alert_corrected_twice(story: Story, alice: Key, bob: Key) -> None:
    revisions = story.report.revisions["2024-05-01-bridge-closed"]
    assert [(r.commit, r.kind, r.note) for r in revisions] == [
        (story.commits[1], "added", None),
        (story.commits[3], "corrected", FIRST[1]),
        (story.commits[5], "corrected", SECOND[1]),
    ]
    assert [r.signer_fingerprint for r in revisions] == [
        bob.fingerprint,
        alice.fingerprint,
        alice.fingerprint,
    ]
    assert all(r.verified for r in revisions)
    assert revisions[0].committer_email == email_of(bob)
    assert revisions[1].committed_at == datetime(2024, 5, 3, 9, 0, tzinfo=UTC)
    assert revisions[0].diff == ""
    assert revisions[2].diff == (
        f"--- a/{BRIDGE}\n"
        f"+++ b/{BRIDGE}\n"
        "@@ -7,6 +7,8 @@\n"
        " corrections:\n"
        f'   - at: "{FIRST[0]}"\n'
        f'     note: "{FIRST[1]}"\n'
        f'+  - at: "{SECOND[0]}"\n'
        f'+    note: "{SECOND[1]}"\n'
        " ---\n"
        " Police are dealing with an incident.\n"
        " \n"
    )
    assert "+corrections:\n" in revisions[1].diff


def test_a_withdrawal_is_a_revision_of_its_own_kind(story: Story) -> None:
    revisions = story.report.revisions["2024-05-01-market-evacuated"]
    assert [(r.kind, r.note) for r in revisions] == [
        ("added", None),
        ("withdrawn", WITHDRAWAL[1]),
    ]
    assert '+status: "withdrawn"' in revisions[1].diff


def test_provenance_names_the_last_commit_and_its_signer(
    story: Story, alice: Key, bob: Key
) -> None:
    assert story.report.provenance == {
        "2024-05-01-bridge-closed": Provenance(
            story.commits[5], alice.fingerprint, email_of(alice)
        ),
        "2024-05-01-market-evacuated": Provenance(story.commits[4], bob.fingerprint, email_of(bob)),
    }


def test_the_summary_and_the_json(story: Story) -> None:
    report = story.report
    assert report.summary_lines() == [
        "Commits checked: 6 (6 verified, 0 unsigned)",
        "Signers: 3 (alice@police.example, bob@police.example, dave@police.example)",
        "Alerts: 2",
        f"First commit: {story.commits[0]}",
        f"Last commit: {story.commits[-1]}",
    ]
    data = report.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["ok"] is True
    assert data["signers"][0]["valid_before"] is None
    assert list(data["revisions"]) == ["2024-05-01-bridge-closed", "2024-05-01-market-evacuated"]
    assert data["revisions"]["2024-05-01-bridge-closed"][1]["committed_at"] == (
        "2024-05-03T09:00:00Z"
    )
    assert data["provenance"]["2024-05-01-bridge-closed"]["signer_name"] == "alice@police.example"
    assert data["ledger"] == {"version": 1, "entries": [], "acceptances": []}


def test_the_content_folder_or_any_folder_inside_will_do(story: Story, policy: AuditPolicy) -> None:
    for folder in (story.repo.path / "content", story.repo.path / "content" / "alerts" / "2024"):
        report = audit_repository(folder, policy, NOW, Ledger())
        assert report.head == story.report.head
        assert report.violations == ()


def test_publishing_records_the_head_once(story: Story) -> None:
    ledger = record_publication(Ledger(), story.report.head, NOW)
    assert [(e.head, e.published_at) for e in ledger.entries] == [(story.report.head, NOW)]
    assert record_publication(ledger, story.report.head, NOW) is ledger
    assert ledger.last_head == story.report.head


def test_a_violation_prints_as_one_line() -> None:
    violation = Violation("0123456789abcdef" * 2 + "01234567", BRIDGE, "append-only", "deleted")
    assert str(violation) == f"0123456789ab  {BRIDGE}  append-only: deleted"
    assert str(Violation("f" * 40, "", "linear", "a merge")) == "ffffffffffff  -  linear: a merge"
    with pytest.raises(ValueError, match="unknown rule"):
        Violation("f" * 40, "", "tidy", "no")


def test_the_report_keeps_the_ledger_it_was_given(
    story: Story, policy: AuditPolicy, tmp_path: Path
) -> None:
    ledger = record_publication(Ledger(), story.commits[2], NOW)
    report = audit_repository(story.repo.path, policy, NOW, ledger)
    assert report.ledger is ledger
    assert report.ok
