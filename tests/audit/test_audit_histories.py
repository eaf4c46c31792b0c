"""Each alert's history: a digest that changes exactly when its revisions do, revisions read
from the journal only when asked for, and a journal that no longer matches is refused."""

from __future__ import annotations

import gc
import json
import marshal
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.model import Provenance
from audit import state
from audit.audit import audit_repository
from audit.bulk import collector_paused
from audit.errors import AuditError
from audit.histories import AlertHistories, HistoryBuilder
from audit.ledger import Ledger
from audit.policy import AuditPolicy
from audit.report import Revision, RevisionKind
from audit.revisions import RevisionMap
from audit.state import COLUMNS_FILE, JOURNAL_FILE
from tests.audit.conftest import persisted
from tests.support.signing import Key, SignedRepo, alert_path, alert_text, email_of

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
FIX = ("2024-05-01T10:00:00+01:00", "Fixed.")


def revision(commit: str, kind: RevisionKind = "added", verified: bool = True) -> Revision:
    return Revision(
        commit,
        NOW,
        "bob@police.example",
        "SHA256:x",
        verified,
        kind,
        None,
        "diff\n",
    )


def test_a_digest_follows_every_revision() -> None:
    builder = HistoryBuilder(AlertHistories())
    builder.add("a", revision("1" * 40))
    builder.add("b", revision("2" * 40))
    first = RevisionMap(builder.result())
    builder = HistoryBuilder(builder.result())
    builder.add("a", revision("3" * 40, "corrected"))
    second = RevisionMap(builder.result())
    assert first.digest("b") == second.digest("b") != ""
    assert first.digest("a") != second.digest("a")
    assert first.digest("missing") == ""
    assert [r.commit for r in second["a"]] == ["1" * 40, "3" * 40]
    # Withdrawn commits are reported unverified, and change the digest with them.
    withdrawn = RevisionMap(builder.result(), ["3" * 40])
    assert [r.verified for r in withdrawn["a"]] == [True, False]
    assert withdrawn.digest("a") != second.digest("a")
    latest = withdrawn.latest("a")
    assert latest is not None and not latest.verified


@pytest.fixture
def edited(newsroom: SignedRepo, bob: Key, alice: Key) -> SignedRepo:
    for slug in ("bridge", "market"):
        path = alert_path(slug)
        newsroom.commit({path: alert_text(slug.title())}, slug, bob, email_of(bob))
    return newsroom


def test_revisions_are_read_from_the_journal_when_asked(
    edited: SignedRepo, policy: AuditPolicy, alice: Key, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    before = audit_repository(edited.path, policy, NOW, Ledger(), cache)
    bridge = alert_path("bridge")
    edited.commit({bridge: alert_text("Bridge", corrections=[FIX])}, "Fix", alice, email_of(alice))
    after = audit_repository(edited.path, policy, NOW, Ledger(), cache)
    assert after.revisions.digest("2024-05-01-market") == before.revisions.digest(
        "2024-05-01-market"
    )
    assert after.revisions.digest("2024-05-01-bridge") != before.revisions.digest(
        "2024-05-01-bridge"
    )
    # A third audit holds nothing in memory: everything comes from the journal.
    again = audit_repository(edited.path, policy, NOW, Ledger(), cache)
    assert [r.kind for r in again.revisions["2024-05-01-bridge"]] == ["added", "corrected"]
    assert again == after == audit_repository(edited.path, policy, NOW, Ledger())
    summary = again.to_json(history=False)
    assert "revisions" not in summary and "provenance" not in summary
    assert set(again.to_json()["revisions"]) == {"2024-05-01-bridge", "2024-05-01-market"}


def test_verified_provenance_comes_from_the_columns_and_what_changed_since(
    edited: SignedRepo, policy: AuditPolicy, alice: Key, bob: Key, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    audit_repository(edited.path, policy, NOW, Ledger(), cache)
    bridge = alert_path("bridge")
    fixed = edited.commit(
        {bridge: alert_text("Bridge", corrections=[FIX])}, "Fix", alice, email_of(alice)
    )
    for _ in range(2):  # the correction in memory, then read back from the state's overlay
        report = audit_repository(edited.path, policy, NOW, Ledger(), cache)
        found = report.provenance.verified()
        assert found == dict(report.provenance) == report.provenance.verified(all_at_head=True)
        assert found["2024-05-01-bridge"] == Provenance(fixed, alice.fingerprint, email_of(alice))
        assert found["2024-05-01-market"].signer_fingerprint == bob.fingerprint
    assert report.revisions.histories.columns.ids  # the market's came from the columns


def test_a_journal_that_no_longer_matches_is_refused(
    edited: SignedRepo, policy: AuditPolicy, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    audit_repository(edited.path, policy, NOW, Ledger(), cache)
    report = audit_repository(edited.path, policy, NOW, Ledger(), cache)
    journal = cache / JOURNAL_FILE
    journal.write_bytes(journal.read_bytes().replace(b"bob@", b"eve@"))
    with pytest.raises(AuditError, match="no longer holds what it did for 2024-05-01-bridge"):
        report.revisions["2024-05-01-bridge"]
    with pytest.raises(AuditError, match="delete the audit cache"):
        report.revisions.everything()


@pytest.mark.parametrize("compact_at", [0, state.COMPACT_AT])
def test_the_alerts_file_is_rewritten_once_enough_changed(
    edited: SignedRepo,
    policy: AuditPolicy,
    alice: Key,
    bob: Key,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    compact_at: int,
) -> None:
    monkeypatch.setattr(state, "COMPACT_AT", compact_at)
    cache = tmp_path / "cache"
    audit_repository(edited.path, policy, NOW, Ledger(), cache)
    token = marshal.loads((cache / COLUMNS_FILE).read_bytes())["token"]
    edited.commit(
        {alert_path("bridge"): alert_text("Bridge", corrections=[FIX])},
        "Fix",
        alice,
        email_of(alice),
    )
    edited.commit({alert_path("new"): alert_text("New")}, "New", bob, email_of(bob))
    for _ in range(2):
        report = audit_repository(edited.path, policy, NOW, Ledger(), cache)
        full_cache = tmp_path / "full"
        assert report == audit_repository(edited.path, policy, NOW, Ledger(), full_cache)
        assert persisted(edited, cache) == persisted(edited, full_cache)
    rewritten = marshal.loads((cache / COLUMNS_FILE).read_bytes())["token"] != token
    assert rewritten == (compact_at == 0)
    overlay = json.loads((cache / state.CACHE_FILE).read_text())["histories"]
    assert len(overlay) == (0 if compact_at == 0 else 2)


def test_a_state_torn_from_its_alerts_file_starts_afresh(
    edited: SignedRepo, policy: AuditPolicy, tmp_path: Path, graph_reads: list[str]
) -> None:
    cache = tmp_path / "cache"
    first = audit_repository(edited.path, policy, NOW, Ledger(), cache)
    columns = cache / COLUMNS_FILE
    columns.write_bytes(marshal.dumps({**marshal.loads(columns.read_bytes()), "token": "other"}))
    graph_reads.clear()
    assert audit_repository(edited.path, policy, NOW, Ledger(), cache) == first
    assert graph_reads == [edited.head()]


def test_the_collector_is_paused_only_for_the_block() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), collector_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


def test_the_histories_a_build_showed_are_named_and_what_changed_since_found(
    edited: SignedRepo, policy: AuditPolicy, bob: Key, tmp_path: Path
) -> None:
    """A build names the histories it showed (`mark`); a later build finds the alerts whose
    revisions changed since without looking at the others, or says it cannot tell."""
    cache = tmp_path / "cache"
    audit_repository(edited.path, policy, NOW, Ledger(), cache)
    shown = audit_repository(edited.path, policy, NOW, Ledger(), cache).revisions.histories
    mark = shown.mark()
    assert mark and shown.changed_since(mark) == set()
    new = alert_path("new-one")
    edited.commit({new: alert_text("New")}, "x", bob, email_of(bob), "2024-05-03T09:00:00Z")
    now = audit_repository(edited.path, policy, NOW, Ledger(), cache).revisions.histories
    assert now.changed_since(mark) == {"2024-05-01-new-one"}  # not saved yet: pending
    later = audit_repository(edited.path, policy, NOW, Ledger(), cache).revisions.histories
    assert later.changed_since(mark) == {"2024-05-01-new-one"}  # in the journal past it
    assert later.changed_since(later.mark()) == set()
    token, _, size = mark.partition(":")
    assert later.changed_since(f"other:{size}") is None  # other columns
    assert later.changed_since(f"{token}:{later.size + 1}") is None  # a journal cut back
    assert AlertHistories().mark() == "" and AlertHistories().changed_since(mark) is None
