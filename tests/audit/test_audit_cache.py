"""The caches: verdicts are reused, first-seen times kept, and incremental audits match full ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit import signing
from audit.audit import audit_repository, record_publication
from audit.errors import AuditError
from audit.ledger import Ledger
from audit.policy import AuditPolicy
from audit.report import AuditReport
from audit.sshkeys import PublicKey
from audit.sshsig import SshSignature
from tests.audit.conftest import persisted
from tests.support.signing import (
    Key,
    SignedRepo,
    alert_path,
    alert_text,
    allowed_signers_text,
    email_of,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ALLOWED = ".signers/allowed_signers"


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The message of every signature verified from now on."""
    calls: list[bytes] = []
    real, real_usual = signing.verify, signing.verify_usual

    def counting(sig: SshSignature, message: bytes, namespace: str = "git") -> bool:
        calls.append(message)
        return real(sig, message, namespace)

    def counting_usual(
        block: bytes, message: bytes, namespace: str = "git"
    ) -> tuple[PublicKey, bool] | None:
        # The quick check of the usual signature verifies it too (else `verify` does).
        found = real_usual(block, message, namespace)
        if found is not None:
            calls.append(message)
        return found

    monkeypatch.setattr(signing, "verify", counting)
    monkeypatch.setattr(signing, "verify_usual", counting_usual)
    return calls


def publish(repo: SignedRepo, slug: str, key: Key, date: str = "2024-05-01T09:00:00Z") -> str:
    files = {alert_path(slug): alert_text(slug.title())}
    return repo.commit(files, f"Publish {slug}", key, email_of(key), date)


def test_verdicts_are_reused(
    newsroom: SignedRepo,
    policy: AuditPolicy,
    bob: Key,
    tmp_path: Path,
    verifications: list[bytes],
) -> None:
    cache = tmp_path / "cache"
    publish(newsroom, "one", bob)
    first = audit_repository(newsroom.path, policy, NOW, Ledger(), cache)
    assert len(verifications) == 2
    assert sorted(p.name for p in cache.iterdir()) == [
        "audit-alerts.marshal",
        "audit-revisions.jsonl",
        "audit-state.json",
        "audit.lock",
        "verdicts",
    ]

    verifications.clear()
    assert audit_repository(newsroom.path, policy, NOW, Ledger(), cache) == first
    assert verifications == []

    # Without the totals, every commit is judged again: from the verdict cache, not by crypto.
    (cache / "audit-state.json").unlink()
    assert audit_repository(newsroom.path, policy, NOW, Ledger(), cache) == first
    assert verifications == []

    publish(newsroom, "two", bob)
    second = audit_repository(newsroom.path, policy, NOW, Ledger(), cache)
    assert len(verifications) == 1
    # Only the part of the verdict cache that holds the new commit was read and written.
    head = newsroom.head()
    shard = json.loads((cache / "verdicts" / f"{head[:2]}.json").read_text())
    assert head in shard["commits"]
    (cache / "audit-state.json").unlink()
    assert audit_repository(newsroom.path, policy, NOW, Ledger(), cache) == second
    assert len(verifications) == 1


def test_without_a_cache_nothing_is_kept(
    newsroom: SignedRepo, policy: AuditPolicy, verifications: list[bytes]
) -> None:
    audit_repository(newsroom.path, policy, NOW, Ledger())
    audit_repository(newsroom.path, policy, NOW, Ledger())
    assert len(verifications) == 2


@pytest.fixture
def retiring(tmp_path: Path, alice: Key, erin: Key) -> SignedRepo:
    """A repository where erin's key was valid until 1 June, and she committed on 20 May."""
    repo = SignedRepo(tmp_path / "retiring")
    signers = [(email_of(alice), alice), (email_of(erin), erin, 'valid-before="20240601Z"')]
    repo.commit({ALLOWED: allowed_signers_text(signers)}, "Signers", alice, email_of(alice))
    publish(repo, "late", erin, "2024-05-20T09:00:00Z")
    return repo


def test_the_first_seen_time_is_kept(
    retiring: SignedRepo, policy: AuditPolicy, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    seen = datetime(2024, 5, 21, 8, 0, tzinfo=UTC)
    assert audit_repository(retiring.path, policy, seen, Ledger(), cache).ok

    # Unpublished, and the key has expired since: the publisher saw the commit in time.
    assert audit_repository(retiring.path, policy, NOW, Ledger(), cache).ok
    (cache / "audit-state.json").unlink()
    assert audit_repository(retiring.path, policy, NOW, Ledger(), cache).ok
    head = retiring.head()
    stored = json.loads((cache / "verdicts" / f"{head[:2]}.json").read_text())
    assert stored["commits"][head][2] == "2024-05-21T08:00:00Z"

    # A cache without that memory sees the commit only now, after the key expired.
    report = audit_repository(retiring.path, policy, NOW, Ledger(), tmp_path / "cold")
    assert [v.rule for v in report.violations] == ["validity"]


def test_a_cache_split_the_old_way_is_moved_not_lost(
    retiring: SignedRepo, policy: AuditPolicy, tmp_path: Path, verifications: list[bytes]
) -> None:
    cache = tmp_path / "cache"
    seen = datetime(2024, 5, 21, 8, 0, tzinfo=UTC)
    assert audit_repository(retiring.path, policy, seen, Ledger(), cache).ok
    # Earlier caches had one shard per first digit of the commit id: make this one so.
    folder = cache / "verdicts"
    legacy: dict[str, dict[str, object]] = {}
    for shard in sorted(folder.glob("*.json")):
        data = json.loads(shard.read_text())
        target = legacy.setdefault(shard.name[0], {"version": 1, "verdicts": [], "commits": {}})
        offset = len(target["verdicts"])  # type: ignore[arg-type]
        target["verdicts"] += data["verdicts"]  # type: ignore[operator]
        for oid, (digest, verdict, when) in data["commits"].items():
            place = None if verdict is None else verdict + offset
            target["commits"][oid] = [digest, place, when]  # type: ignore[index]
        shard.unlink()
    for name, data in legacy.items():
        (folder / f"{name}.json").write_text(json.dumps(data))
    (cache / "audit-state.json").unlink()
    verifications.clear()
    # The key expired on 1 June: only the first-seen time moved over keeps the commit valid.
    assert audit_repository(retiring.path, policy, NOW, Ledger(), cache).ok
    assert verifications == []
    assert sorted(len(p.stem) for p in folder.glob("*.json")) == [2, 2]


def test_a_first_seen_time_is_never_moved_later(
    retiring: SignedRepo, policy: AuditPolicy, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    late = audit_repository(retiring.path, policy, NOW, Ledger(), cache)
    assert [v.rule for v in late.violations] == ["validity"]
    # The ledger proves it was published on 22 May, before the key expired: the earlier
    # time wins, over the totals already cached.
    ledger = Ledger().with_entry(retiring.head(), datetime(2024, 5, 22, tzinfo=UTC))
    assert audit_repository(retiring.path, policy, NOW, ledger, cache).ok
    assert audit_repository(retiring.path, policy, NOW, ledger, cache).ok
    later = datetime(2024, 7, 1, tzinfo=UTC)
    assert audit_repository(retiring.path, policy, later, Ledger(), cache).ok


def step(repo: SignedRepo, keys: dict[str, Key], number: int) -> Callable[[Ledger], Ledger]:
    """Make commit `number` of a history that exercises every rule; return what it publishes."""
    alice, bob, dave = keys["alice"], keys["bob"], keys["dave"]
    bridge = alert_path("bridge")
    fix = ("2024-05-01T10:00:00+01:00", "Fixed.")
    keep: Callable[[Ledger], Ledger] = lambda ledger: ledger  # noqa: E731
    publish_head: Callable[[Ledger], Ledger] = lambda ledger: record_publication(  # noqa: E731
        ledger, repo.head(), NOW
    )
    if number == 0:
        publish(repo, "bridge", bob)
        return publish_head
    if number == 1:
        repo.commit(
            {bridge: alert_text("Bridge", corrections=[fix])}, "Fix", alice, email_of(alice)
        )
    elif number == 2:
        publish(repo, "by-dave", dave)
    elif number == 3:
        repo.commit(
            {bridge: alert_text("Bridge!", corrections=[fix])}, "Silent", bob, email_of(bob)
        )
        return publish_head
    elif number == 4:
        publish(repo, "later", dave)
        repo.commit({alert_path("x"): "x\n"}, "Unsigned", None)
    elif number == 5:
        revoked = {".signers/revoked_keys": dave.public_line + "\n"}
        repo.commit(revoked, "Revoke dave", alice, email_of(alice))
    elif number == 6:
        repo.commit({alert_path("x"): None}, "Delete", bob, email_of(bob))
    return keep


def test_an_incremental_audit_reports_what_a_full_one_does(
    newsroom: SignedRepo,
    policy: AuditPolicy,
    alice: Key,
    bob: Key,
    dave: Key,
    tmp_path: Path,
    graph_reads: list[str],
) -> None:
    keys = {"alice": alice, "bob": bob, "dave": dave}
    cache = tmp_path / "cache"
    ledger = Ledger()
    reports: list[AuditReport] = []
    for number in range(7):
        after = step(newsroom, keys, number)
        graph_reads.clear()
        incremental = audit_repository(newsroom.path, policy, NOW, ledger, cache)
        # Only the first audit, with nothing cached yet, reads the whole graph.
        assert graph_reads == ([newsroom.head()] if number == 0 else [])
        full_cache = tmp_path / f"full-{number}"
        full = audit_repository(newsroom.path, policy, NOW, ledger, full_cache)
        assert incremental == full, f"after step {number}"
        assert audit_repository(newsroom.path, policy, NOW, ledger) == full
        # What the next audit builds on is what a full audit would have left.
        assert persisted(newsroom, cache) == persisted(newsroom, full_cache), f"step {number}"
        assert all(
            incremental.revisions.digest(alert) == full.revisions.digest(alert)
            for alert in full.revisions
        )
        reports.append(full)
        ledger = after(ledger)
    assert [sorted({v.rule for v in r.violations}) for r in reports] == [
        [],
        [],
        [],
        ["no-silent-edits"],
        ["no-silent-edits", "signed"],
        ["no-silent-edits", "signed"],
        ["append-only", "no-silent-edits", "signed"],
    ]
    # dave's commit after the last publication is withdrawn by the revocation at HEAD; the one
    # before it is not, and the revocation itself is one more verified commit.
    at_head = [v for v in reports[5].violations if "at HEAD" in v.explanation]
    assert [v.commit for v in at_head] == [reports[4].revisions["2024-05-01-later"][0].commit]
    assert reports[5].verified_commits == reports[4].verified_commits


def test_a_torn_cache_write_is_cut_off(
    newsroom: SignedRepo, policy: AuditPolicy, bob: Key, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    publish(newsroom, "one", bob)
    audit_repository(newsroom.path, policy, NOW, Ledger(), cache)
    with (cache / "audit-revisions.jsonl").open("ab") as journal:
        journal.write(b'[["half a line')
    publish(newsroom, "two", bob)
    cached = audit_repository(newsroom.path, policy, NOW, Ledger(), cache)
    assert cached == audit_repository(newsroom.path, policy, NOW, Ledger())
    assert audit_repository(newsroom.path, policy, NOW, Ledger(), cache) == cached


def test_a_policy_change_starts_afresh(
    newsroom: SignedRepo, policy: AuditPolicy, bob: Key, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = publish(newsroom, "one", bob)
    publish(newsroom, "two", bob)
    audit_repository(newsroom.path, policy, NOW, Ledger(), cache)
    later = AuditPolicy(since=first, trusted_signers=policy.trusted_signers)
    report = audit_repository(newsroom.path, later, NOW, Ledger(), cache)
    assert report == audit_repository(newsroom.path, later, NOW, Ledger())
    assert report.commits_checked == 2


def test_a_malformed_cache_is_named(
    newsroom: SignedRepo, policy: AuditPolicy, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    audit_repository(newsroom.path, policy, NOW, Ledger(), cache)
    totals = cache / "audit-state.json"
    data = json.loads(totals.read_text())
    totals.write_text(json.dumps({**data, "violations": 7}))
    with pytest.raises(AuditError, match=f"{totals}: malformed audit cache"):
        audit_repository(newsroom.path, policy, NOW, Ledger(), cache)
    totals.unlink()
    shard = next((cache / "verdicts").glob("*.json"))
    data = json.loads(shard.read_text())
    shard.write_text(json.dumps({**data, "commits": {"x": 1}}))
    with pytest.raises(AuditError, match=f"{shard}: malformed verdict cache"):
        audit_repository(newsroom.path, policy, NOW, Ledger(), cache)


def test_a_verdict_is_keyed_by_what_it_was_judged_against(
    newsroom: SignedRepo,
    policy: AuditPolicy,
    bob: Key,
    tmp_path: Path,
    verifications: list[bytes],
) -> None:
    cache = tmp_path / "cache"
    publish(newsroom, "one", bob)
    assert audit_repository(newsroom.path, policy, NOW, Ledger(), cache).ok
    verifications.clear()
    # Other pinned keys: only the root commit, which they judge, is judged again.
    repinned = AuditPolicy(trusted_signers=(bob.fingerprint,))
    report = audit_repository(newsroom.path, repinned, NOW, Ledger(), cache)
    assert [v.rule for v in report.violations] == ["signed"]
    assert len(verifications) == 1
    assert audit_repository(newsroom.path, policy, NOW, Ledger(), cache).ok


def test_a_rewrite_is_seen_through_the_cache(
    newsroom: SignedRepo, policy: AuditPolicy, bob: Key, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    root = newsroom.head()
    publish(newsroom, "one", bob)
    ledger = record_publication(Ledger(), newsroom.head(), NOW)
    assert audit_repository(newsroom.path, policy, NOW, ledger, cache).ok
    newsroom.reset(root)
    publish(newsroom, "two", bob)
    cached = audit_repository(newsroom.path, policy, NOW, ledger, cache)
    assert cached == audit_repository(newsroom.path, policy, NOW, ledger)
    assert {v.rule for v in cached.violations} == {"no-rewrite", "append-only"}
