"""The alert files at HEAD an audit keeps are those git lists, however it found them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit import audit as audit_module
from audit.audit import audit_repository
from audit.fold import fold_run
from audit.gitstream import tree_paths
from audit.ledger import Ledger
from audit.policy import AuditPolicy
from audit.records import CommitRecord, SignersState
from audit.rules import signature_violations
from audit.signing import PolicyFiles
from audit.state import CACHE_FILE, load_state
from audit.verdicts import Verdict
from tests.support.signing import Key, SignedRepo, alert_path, alert_text, email_of

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def alerts_at_head(repo: SignedRepo, policy: AuditPolicy) -> frozenset[str]:
    paths = tree_paths(repo.path, repo.head(), policy.alerts_dir)
    return frozenset(path for path in paths if policy.is_alert_path(path))


def cached_alerts(cache: Path) -> frozenset[str]:
    key = tuple(json.loads((cache / CACHE_FILE).read_text())["key"])
    state = load_state(cache, key)
    assert state is not None
    return state.alerts


def move_about(repo: SignedRepo, alice: Key, bob: Key) -> None:
    """Alerts added, deleted, renamed, moved in from elsewhere and out, and merged in."""
    by = email_of(bob)
    repo.commit({alert_path(name): alert_text(name) for name in "abcd"}, "Four", bob, by)
    repo.commit({alert_path("a"): None}, "Delete a", bob, by)
    repo.git("mv", alert_path("b"), alert_path("b2"))
    repo.commit({}, "Rename b", bob, by)
    repo.commit({"content/drafts/e.md": alert_text("e")}, "A draft", bob, by)
    repo.git("mv", "content/drafts/e.md", alert_path("e"))
    repo.commit({}, "Publish the draft", bob, by)
    repo.git("mv", alert_path("c"), "content/drafts/c.md")
    repo.commit({}, "Unpublish c", bob, by)
    repo.git("checkout", "-q", "-b", "side", "HEAD~2")
    repo.commit({alert_path("side"): alert_text("side")}, "On the side", bob, by)
    repo.git("checkout", "-q", "-")
    repo.merge("side", alice, email_of(alice))


MOVED = {alert_path(name) for name in ("d", "b2", "e", "side")}


def test_a_first_audit_has_the_alerts_at_head_that_git_lists(
    newsroom: SignedRepo, policy: AuditPolicy, alice: Key, bob: Key, tmp_path: Path
) -> None:
    move_about(newsroom, alice, bob)
    audit_repository(newsroom.path, policy, NOW, Ledger(), tmp_path)
    assert cached_alerts(tmp_path) == alerts_at_head(newsroom, policy) == MOVED


def test_a_later_audit_works_them_out_from_the_new_commits(
    newsroom: SignedRepo,
    policy: AuditPolicy,
    alice: Key,
    bob: Key,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    audit_repository(newsroom.path, policy, NOW, Ledger(), tmp_path)
    move_about(newsroom, alice, bob)

    def no_git(*arguments: object) -> frozenset[str]:
        raise AssertionError("the alerts at HEAD were asked of git")

    monkeypatch.setattr(audit_module, "_alerts_in_tree", no_git)
    monkeypatch.setattr(audit_module, "TreeListing", no_git)
    audit_repository(newsroom.path, policy, NOW, Ledger(), tmp_path)
    assert cached_alerts(tmp_path) == alerts_at_head(newsroom, policy) == MOVED


def test_an_audit_from_a_later_commit_has_them_too(
    newsroom: SignedRepo, policy: AuditPolicy, alice: Key, bob: Key, tmp_path: Path
) -> None:
    move_about(newsroom, alice, bob)
    since = replace(policy, since="HEAD~3")
    audit_repository(newsroom.path, since, NOW, Ledger(), tmp_path)
    assert cached_alerts(tmp_path) == MOVED


def test_a_run_is_folded_as_each_commit_alone_would_be() -> None:
    """Rules on each commit and the signer counts, whether a verdict's keys are valid at any
    time (worked out once per verdict) or only within a window (checked per commit)."""
    state = SignersState("a" * 40, None)
    files = {state: PolicyFiles((), frozenset({"SHA256:old"}))}
    late = datetime(2024, 1, 1, tzinfo=UTC)
    always = Verdict(None, "", True, "SHA256:k", "ssh-ed25519", "a@x", ((None, None),))
    until = Verdict(None, "", True, "SHA256:k", "ssh-ed25519", "a@x", ((None, late),))
    refused = Verdict("signed", "the commit is not signed", False, None, None, None)
    verdicts = {"1": always, "2": until, "3": until, "4": refused, "5": always}
    dates = {"1": late, "2": late, "3": NOW, "4": late, "5": NOW}
    records = {
        oid: CommitRecord(oid, ("p",), "a@x", dates[oid], state, state, (), ()) for oid in verdicts
    }
    seen = {oid: late for oid in verdicts}
    run = fold_run(list(verdicts), records, verdicts, seen, {"5"}, files, AuditPolicy())
    expected = [
        violation
        for oid in verdicts
        for violation in signature_violations(records[oid], verdicts[oid], seen[oid])
    ]
    assert list(run.violations) == expected
    assert [v.commit for v in run.violations] == ["3", "4"]
    assert run.signed == {("SHA256:k", "a@x", "ssh-ed25519"): 3}
    assert (run.verified, run.unsigned) == (3, 1)
    assert set(run.unpublished) == {"1", "2"}
    assert run.revoked == {"SHA256:old"}
