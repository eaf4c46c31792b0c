"""Rule 7 and the ledger: what was published stays in history, unless a rewrite is accepted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audit.audit import accept_rewrite, audit_repository, record_publication
from audit.errors import AuditError, RepositoryError
from audit.ledger import Ledger, LedgerEntry, RewriteAcceptance
from audit.policy import AuditPolicy
from audit.report import Violation
from tests.support.signing import Key, SignedRepo, alert_path, alert_text, email_of

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
HEAD_A = "a" * 40
HEAD_B = "b" * 40


def test_a_missing_ledger_is_empty(tmp_path: Path) -> None:
    ledger = Ledger.load(tmp_path / ".cascade" / "ledger.json")
    assert ledger == Ledger()
    assert (ledger.entries, ledger.acceptances, ledger.last_head, ledger.baseline) == (
        (),
        (),
        None,
        None,
    )


def test_the_ledger_round_trips_as_stable_json(tmp_path: Path) -> None:
    path = tmp_path / ".cascade" / "ledger.json"
    later = NOW + timedelta(hours=1, microseconds=250)
    ledger = (
        Ledger()
        .with_entry(HEAD_A, NOW)
        .with_acceptance(RewriteAcceptance(later, "Removed a leaked name", HEAD_B, (HEAD_A,)))
    )
    ledger.save(path)
    assert Ledger.load(path) == ledger
    assert json.loads(path.read_text()) == {
        "version": 1,
        "entries": [{"head": HEAD_A, "published_at": "2024-06-01T12:00:00Z"}],
        "acceptances": [
            {
                "accepted_at": "2024-06-01T13:00:00.000250Z",
                "new_head": HEAD_B,
                "reason": "Removed a leaked name",
                "waived": [HEAD_A],
            }
        ],
    }
    assert path.read_text().startswith('{\n  "acceptances"')  # keys sorted, indented
    assert [p.name for p in path.parent.iterdir()] == ["ledger.json"]  # no temporary left


def test_each_change_makes_a_new_ledger() -> None:
    empty = Ledger()
    one = empty.with_entry(HEAD_A, NOW)
    assert empty.entries == ()
    assert one.entries == (LedgerEntry(HEAD_A, NOW),)
    assert one.baseline == HEAD_A
    accepted = one.with_acceptance(RewriteAcceptance(NOW, "why", HEAD_B, (HEAD_A,)))
    assert accepted.baseline == HEAD_B  # the rewrite's head replaces the waived one
    assert accepted.with_entry(HEAD_A, NOW).baseline == HEAD_B
    assert accepted.waived == {HEAD_A}


BAD_LEDGERS = {
    "not JSON": ("{", "is not valid JSON"),
    "no version": ('{"entries": []}', 'expected an object with "version": 1'),
    "short head": (
        '{"version": 1, "entries": [{"head": "abc", "published_at": "2024-06-01T12:00:00Z"}]}',
        "head 'abc' is not a full commit id",
    ),
    "local time": (
        f'{{"version": 1, "entries": [{{"head": "{HEAD_A}", '
        '"published_at": "2024-06-01T12:00:00"}]}',
        "has no UTC offset",
    ),
    "missing time": (
        f'{{"version": 1, "entries": [{{"head": "{HEAD_A}"}}]}}',
        "missing field 'published_at'",
    ),
    "entries not a list": ('{"version": 1, "entries": {}}', "entries must be a list of objects"),
    "empty reason": (
        '{"version": 1, "acceptances": [{"accepted_at": "2024-06-01T12:00:00Z", '
        f'"reason": " ", "new_head": "{HEAD_B}", "waived": ["{HEAD_A}"]}}]}}',
        "a rewrite can only be accepted with a reason",
    ),
}


@pytest.mark.parametrize(("text", "problem"), BAD_LEDGERS.values(), ids=BAD_LEDGERS.keys())
def test_a_malformed_ledger_names_the_file(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "ledger.json"
    path.write_text(text)
    with pytest.raises(AuditError, match=f"^{path}: ") as caught:
        Ledger.load(path)
    assert problem in str(caught.value)


def test_an_entry_needs_an_aware_time() -> None:
    with pytest.raises(AuditError, match="timezone-aware"):
        LedgerEntry(HEAD_A, datetime(2024, 6, 1))


def test_a_rewrite_is_refused_then_accepted_with_a_reason(
    newsroom: SignedRepo, policy: AuditPolicy, bob: Key, tmp_path: Path
) -> None:
    root = newsroom.head()
    alert = alert_path("bridge-closed")
    newsroom.commit({alert: alert_text("Bridge closed")}, "Bridge", bob, email_of(bob))
    published = newsroom.head()
    ledger = record_publication(Ledger(), published, datetime(2024, 5, 2, 8, 0, tzinfo=UTC))
    # History rewritten: the alert is gone, another commit stands in its place.
    newsroom.reset(root)
    other = alert_path("market-evacuated")
    text = alert_text("Market", body="Stalls shut.\n" * 9)
    rewritten = newsroom.commit({other: text}, "Market", bob, email_of(bob))

    refused = audit_repository(newsroom.path, policy, NOW, ledger)
    assert refused.violations == (
        Violation(
            rewritten,
            alert,
            "append-only",
            f"is missing at HEAD, though the last published head {published[:12]} had it "
            "(a merge or a rewrite hid this from the commit-by-commit check)",
        ),
        Violation(
            published,
            "",
            "no-rewrite",
            "was published at 2024-05-02T08:00:00Z but is no longer in the history of HEAD: "
            "history was rewritten (accept the rewrite with a reason to go on)",
        ),
    )

    with pytest.raises(AuditError, match="only be accepted with a reason"):
        accept_rewrite(newsroom.path, policy, ledger, "  ", NOW)
    accepted = accept_rewrite(newsroom.path, policy, ledger, "A victim's name was published", NOW)
    assert accepted.acceptances == (
        RewriteAcceptance(NOW, "A victim's name was published", rewritten, (published,)),
    )
    report = audit_repository(newsroom.path, policy, NOW, accepted)
    assert report.violations == ()
    assert report.ledger.acceptances[0].reason == "A victim's name was published"

    path = tmp_path / "ledger.json"
    accepted.save(path)
    assert json.loads(path.read_text())["acceptances"] == [
        {
            "accepted_at": "2024-06-01T12:00:00Z",
            "new_head": rewritten,
            "reason": "A victim's name was published",
            "waived": [published],
        }
    ]
    assert report.to_json()["ledger"]["acceptances"][0]["waived"] == [published]

    # The acceptance covers that rewrite only: a later one needs its own.
    ledger = record_publication(accepted, rewritten, NOW)
    newsroom.reset(root)
    newsroom.commit({other: text + "Again.\n"}, "Again", bob, email_of(bob))
    assert [
        (v.commit, v.rule) for v in audit_repository(newsroom.path, policy, NOW, ledger).violations
    ] == [(rewritten, "no-rewrite")]
    second = accept_rewrite(newsroom.path, policy, ledger, "Again", NOW)
    assert second.acceptances[-1].waived == (rewritten,)


def test_there_must_be_a_rewrite_to_accept(newsroom: SignedRepo, policy: AuditPolicy) -> None:
    ledger = record_publication(Ledger(), newsroom.head(), NOW)
    with pytest.raises(AuditError, match="no rewrite to accept"):
        accept_rewrite(newsroom.path, policy, ledger, "just because", NOW)


def test_since_skips_an_unsigned_prehistory(
    tmp_path: Path, alice: Key, bob: Key, policy: AuditPolicy
) -> None:
    repo = SignedRepo(tmp_path)
    signers = f"{email_of(alice)} {alice.public_line}\n{email_of(bob)} {bob.public_line}\n"
    old = repo.commit({alert_path("old"): alert_text("Old")}, "Before signing", None)
    repo.commit({".signers/allowed_signers": signers}, "Signers, unsigned", None)
    first = repo.commit({alert_path("new"): alert_text("New")}, "Signed", bob, email_of(bob))
    last = repo.commit({alert_path("newer"): alert_text("Newer")}, "Signed", bob, email_of(bob))

    everything = audit_repository(repo.path, policy, NOW, Ledger())
    assert [(v.rule, v.commit) for v in everything.violations] == [
        ("signed", old),
        ("policy", repo.git("rev-parse", "HEAD~2").decode().strip()),
    ]

    report = audit_repository(repo.path, AuditPolicy(since=first[:10]), NOW, Ledger())
    assert report.violations == ()
    assert (report.since, report.first_commit, report.last_commit) == (first, first, last)
    assert report.commits_checked == 2
    assert report.alerts == 3
    assert set(report.revisions) == {"2024-05-01-new", "2024-05-01-newer"}
    assert set(report.provenance) == {"2024-05-01-new", "2024-05-01-newer"}


def test_since_must_be_in_the_history_of_head(newsroom: SignedRepo, bob: Key) -> None:
    newsroom.git("checkout", "-q", "-b", "side")
    elsewhere = newsroom.commit({"README": "x\n"}, "Side", bob, email_of(bob))
    newsroom.git("checkout", "-q", "main")
    with pytest.raises(RepositoryError, match=f"since {elsewhere[:12]} is not in the history"):
        audit_repository(newsroom.path, AuditPolicy(since=elsewhere), NOW, Ledger())
    with pytest.raises(RepositoryError, match="unknown revision 'no-such-commit'"):
        audit_repository(newsroom.path, AuditPolicy(since="no-such-commit"), NOW, Ledger())


def test_content_outside_git_cannot_be_audited(tmp_path: Path, policy: AuditPolicy) -> None:
    with pytest.raises(RepositoryError, match="is not in a git work tree") as caught:
        audit_repository(tmp_path, policy, NOW, Ledger())
    assert "must be committed to git" in str(caught.value)
    with pytest.raises(RepositoryError, match="is not a folder"):
        audit_repository(tmp_path / "missing", policy, NOW, Ledger())


def test_content_not_yet_committed(newsroom: SignedRepo, policy: AuditPolicy) -> None:
    draft = newsroom.path / "drafts"
    draft.mkdir()
    with pytest.raises(RepositoryError, match=f"^{draft} is not committed to the repository"):
        audit_repository(draft, policy, NOW, Ledger())
    elsewhere = AuditPolicy(content_prefix="site/content", trusted_signers=policy.trusted_signers)
    with pytest.raises(RepositoryError, match="site/content is not committed to the repository"):
        audit_repository(newsroom.path, elsewhere, NOW, Ledger())


def test_a_repository_without_commits(tmp_path: Path, policy: AuditPolicy) -> None:
    repo = SignedRepo(tmp_path)
    with pytest.raises(RepositoryError, match="has no commits yet"):
        audit_repository(repo.path, policy, NOW, Ledger())


def test_the_clock_must_say_which_zone(newsroom: SignedRepo, policy: AuditPolicy) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        audit_repository(newsroom.path, policy, datetime(2024, 6, 1), Ledger())


POLICIES = {
    "fingerprint": ({"trusted_signers": ("MD5:00:11",)}, "is not a key fingerprint"),
    "absolute content": ({"content_prefix": "/srv/content"}, "must be a relative folder"),
    "escaping content": ({"content_prefix": "../content"}, "must be a relative folder"),
    "empty signers": ({"signers_dir": ""}, "must be a relative folder"),
    "blank since": ({"since": " "}, "since must name a commit"),
}


@pytest.mark.parametrize(("settings", "problem"), POLICIES.values(), ids=POLICIES.keys())
def test_a_policy_is_checked_when_made(settings: dict[str, object], problem: str) -> None:
    with pytest.raises(AuditError, match=problem):
        AuditPolicy(**settings)  # type: ignore[arg-type]


def test_where_a_policy_looks() -> None:
    policy = AuditPolicy(content_prefix="site/content", signers_dir="policy")
    assert policy.allowed_signers_path == "policy/allowed_signers"
    assert policy.is_alert_path("site/content/alerts/2024/2024-05-01-x.md")
    assert not policy.is_alert_path("content/alerts/2024/2024-05-01-x.md")
    assert not policy.is_alert_path("site/content/alerts/24/2024-05-01-x.md")
    assert not policy.is_alert_path("site/content/alerts/2024/deep/2024-05-01-x.md")
    assert not policy.is_alert_path("site/content/alerts/2024/2024-05-01-x.txt")
    assert AuditPolicy(content_prefix="").is_alert_path("alerts/2024/a.md")
