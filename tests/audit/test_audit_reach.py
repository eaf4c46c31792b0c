"""An audit on cached totals asks git only what is new, and still reports what a full one does:
after publications, rewrites, merges, heads published from elsewhere, and with `since`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit import reach
from audit.audit import accept_rewrite, audit_repository, record_publication
from audit.ledger import Ledger
from audit.policy import AuditPolicy
from audit.report import AuditReport
from tests.audit.conftest import persisted
from tests.support.signing import Key, SignedRepo, alert_path, alert_text, email_of

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


class Auditor:
    """Audits one repository with a cache kept from audit to audit, and checks each against a
    full audit: the same report, and the same totals left for the next one."""

    def __init__(self, repo: SignedRepo, policy: AuditPolicy, tmp_path: Path) -> None:
        self.repo = repo
        self.policy = policy
        self.cache = tmp_path / "cache"
        self.tmp_path = tmp_path
        self.count = 0

    def __call__(self, ledger: Ledger) -> AuditReport:
        self.count += 1
        cached = audit_repository(self.repo.path, self.policy, NOW, ledger, self.cache)
        full_cache = self.tmp_path / f"full-{self.count}"
        full = audit_repository(self.repo.path, self.policy, NOW, ledger, full_cache)
        assert cached == full
        assert persisted(self.repo, self.cache) == persisted(self.repo, full_cache)
        return cached


def publish(repo: SignedRepo, slug: str, key: Key) -> str:
    return repo.commit({alert_path(slug): alert_text(slug.title())}, slug, key, email_of(key))


@pytest.fixture
def auditor(newsroom: SignedRepo, policy: AuditPolicy, tmp_path: Path) -> Auditor:
    return Auditor(newsroom, policy, tmp_path)


def test_publishing_head_after_head_reads_only_what_is_new(
    newsroom: SignedRepo,
    auditor: Auditor,
    bob: Key,
    graph_reads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    walks: list[tuple[str, ...]] = []
    real = reach.walk

    def counting(top: Path, tips: Sequence[str], stops: Sequence[str]) -> object:
        walks.append(tuple(tips))
        return real(top, tips, stops)

    monkeypatch.setattr(reach, "walk", counting)
    ledger = Ledger()
    auditor(ledger)
    for number, slug in enumerate(("one", "two", "three", "four")):
        graph_reads.clear()
        walks.clear()
        publish(newsroom, slug, bob)
        assert auditor(ledger).ok
        # The cached audit read no whole graph; the full one it was checked against did.
        assert graph_reads == [newsroom.head()]
        # It asked git for the new commits, and (but for the first publication, which
        # reaches everything) nothing about what the last publication reached: that was
        # what the audit before it folded in.
        assert len(walks) == (2 if number == 1 else 1)
        ledger = record_publication(ledger, newsroom.head(), NOW)
    graph_reads.clear()
    # Nothing new but the ledger: what it reaches is asked of git, not of the graph.
    report = auditor(ledger)
    assert graph_reads == [newsroom.head()]
    assert report.ok


def test_a_revocation_withdraws_only_what_was_never_published(
    newsroom: SignedRepo, auditor: Auditor, alice: Key, dave: Key, graph_reads: list[str]
) -> None:
    ledger = Ledger()
    publish(newsroom, "early", dave)
    auditor(ledger)
    ledger = record_publication(ledger, newsroom.head(), NOW)
    publish(newsroom, "late", dave)
    auditor(ledger)
    graph_reads.clear()
    newsroom.commit(
        {".signers/revoked_keys": dave.public_line + "\n"}, "Revoke", alice, "alice@police.example"
    )
    report = auditor(ledger)
    assert graph_reads == [newsroom.head()]
    assert [v.rule for v in report.violations] == ["signed"]
    assert report.revisions["2024-05-01-early"][0].verified
    assert not report.revisions["2024-05-01-late"][0].verified
    assert report.revisions.digest("2024-05-01-late") != ""


def test_after_an_accepted_rewrite_audits_stay_incremental(
    newsroom: SignedRepo, auditor: Auditor, policy: AuditPolicy, bob: Key, graph_reads: list[str]
) -> None:
    root = newsroom.head()
    publish(newsroom, "gone", bob)
    ledger = record_publication(Ledger(), newsroom.head(), NOW)
    auditor(ledger)
    newsroom.reset(root)
    publish(newsroom, "instead", bob)
    assert {v.rule for v in auditor(ledger).violations} == {"no-rewrite", "append-only"}
    ledger = accept_rewrite(newsroom.path, policy, ledger, "A name was leaked", NOW)
    assert auditor(ledger).ok
    ledger = record_publication(ledger, newsroom.head(), NOW)
    for slug in ("after", "later"):
        graph_reads.clear()
        publish(newsroom, slug, bob)
        assert auditor(ledger).ok
        assert graph_reads == [newsroom.head()]
        ledger = record_publication(ledger, newsroom.head(), NOW)


def test_a_rewritten_head_that_comes_back_is_seen(
    newsroom: SignedRepo, auditor: Auditor, policy: AuditPolicy, bob: Key
) -> None:
    root = newsroom.head()
    newsroom.git("checkout", "-q", "-b", "side")
    publish(newsroom, "side", bob)
    side = newsroom.head()
    ledger = record_publication(Ledger(), side, NOW)
    newsroom.git("checkout", "-q", "main")
    newsroom.reset(root)
    publish(newsroom, "main", bob)
    ledger = accept_rewrite(newsroom.path, policy, ledger, "Moved on", NOW)
    auditor(ledger)
    # The published side branch, rewritten away, is merged back: its commits are new to
    # HEAD but were published long ago.
    newsroom.merge("side", bob, email_of(bob))
    report = auditor(ledger)
    assert {v.rule for v in report.violations} == {"linear"}


def test_a_head_published_from_elsewhere(
    newsroom: SignedRepo, auditor: Auditor, bob: Key, graph_reads: list[str]
) -> None:
    first = publish(newsroom, "one", bob)
    publish(newsroom, "two", bob)
    auditor(Ledger())
    # Another publisher published an older head, then ours publishes a newer one.
    ledger = record_publication(Ledger(), first, NOW)
    publish(newsroom, "three", bob)
    assert auditor(ledger).ok
    ledger = record_publication(ledger, newsroom.head(), NOW)
    publish(newsroom, "four", bob)
    graph_reads.clear()
    assert auditor(ledger).ok
    assert graph_reads == [newsroom.head()]


def test_merges_and_since(tmp_path: Path, alice: Key, bob: Key, graph_reads: list[str]) -> None:
    repo = SignedRepo(tmp_path / "merges")
    signers = f"{email_of(alice)} {alice.public_line}\n{email_of(bob)} {bob.public_line}\n"
    repo.commit({alert_path("old"): alert_text("Old")}, "Before signing", None)
    repo.commit({".signers/allowed_signers": signers}, "Signers, unsigned", None)
    since = publish(repo, "first", bob)
    policy = AuditPolicy(since=since, trusted_signers=(alice.fingerprint,))
    auditor = Auditor(repo, policy, tmp_path)
    auditor(Ledger())
    repo.git("checkout", "-q", "-b", "side")
    publish(repo, "side", bob)
    repo.git("checkout", "-q", "main")
    publish(repo, "main", bob)
    graph_reads.clear()
    repo.merge("side", bob, email_of(bob))
    ledger = record_publication(Ledger(), repo.head(), NOW)
    report = auditor(ledger)
    assert graph_reads == [repo.head()]
    assert [v.rule for v in report.violations] == ["linear"]
    assert report.commits_checked == 4


def test_a_cached_head_since_garbage_collected(
    newsroom: SignedRepo, auditor: Auditor, bob: Key, graph_reads: list[str]
) -> None:
    root = newsroom.head()
    publish(newsroom, "dropped", bob)
    auditor(Ledger())
    # Never published, rewritten away, and gone from the repository altogether.
    newsroom.reset(root)
    newsroom.git("reflog", "expire", "--expire=now", "--all")
    newsroom.git("gc", "-q", "--prune=now")
    publish(newsroom, "kept", bob)
    graph_reads.clear()
    assert auditor(Ledger()).ok
    assert graph_reads == [newsroom.head(), newsroom.head()]
