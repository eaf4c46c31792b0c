"""A first audit of many commits reads and verifies them on every core; what it finds is what
one process finds, good signatures and bad alike."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from audit import survey
from audit.audit import audit_repository
from audit.errors import RepositoryError
from audit.gitstream import read_objects
from audit.ledger import Ledger
from audit.policy import AuditPolicy
from tests.audit.conftest import persisted
from tests.support.signing import Key, SignedRepo, alert_path, alert_text, email_of

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def mixed(newsroom: SignedRepo, alice: Key, bob: Key, dave: Key, outsider: Key) -> SignedRepo:
    """Good commits by three kinds of key, one unsigned, one by a key nobody allowed."""
    for number, key in enumerate((bob, dave, alice, bob, None, outsider, dave)):
        files = {alert_path(f"alert-{number}"): alert_text(f"Alert {number}")}
        email = email_of(key) if key else "editor@police.example"
        newsroom.commit(files, f"Alert {number}", key, email)
    return newsroom


def test_workers_find_what_one_process_finds(
    mixed: SignedRepo, policy: AuditPolicy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = audit_repository(mixed.path, policy, NOW, Ledger(), tmp_path / "alone")
    assert sorted(v.rule for v in alone.violations) == ["signed", "signed"]

    forks: list[int] = []
    real = survey.forked_but_first

    def counting(function: Callable[[Any], Any], runs: Sequence[Any]) -> Any:
        forks.append(len(runs))
        return real(function, runs)

    monkeypatch.setattr(survey, "PARALLEL_AT", 2)
    monkeypatch.setattr(survey, "workers_available", lambda: 2)
    monkeypatch.setattr(survey, "forked_but_first", counting)
    shared = audit_repository(mixed.path, policy, NOW, Ledger(), tmp_path / "shared")
    assert forks == [2]
    assert shared == alone


def test_runs_are_answered_in_order_the_first_one_here(tmp_path: Path) -> None:
    def where(run: Sequence[str]) -> Any:
        return [*run, os.getpid()]

    found = list(survey.forked_but_first(where, [["a"], ["b"], ["c"]]))
    assert [answer[:-1] for answer in found] == [["a"], ["b"], ["c"]]
    assert found[0][-1] == os.getpid()
    assert all(answer[-1] != os.getpid() for answer in found[1:])
    assert list(survey.forked_but_first(where, [["a"]])) == [["a", os.getpid()]]


def test_the_first_answer_is_handed_out_while_the_workers_still_work(tmp_path: Path) -> None:
    go = tmp_path / "go"

    def work(run: Sequence[str]) -> str:
        if run[0] == "later":
            # The worker can only end once the caller has had the first answer.
            deadline = time.monotonic() + 10
            while not go.exists():
                if time.monotonic() > deadline:
                    return "the first answer was held back"
                time.sleep(0.01)
        return run[0]

    answers = survey.forked_but_first(work, [["first"], ["later"]])
    assert next(answers) == "first"
    go.touch()
    assert list(answers) == ["later"]


@pytest.mark.parametrize("count", [512, 513, 1000, 10_001])
@pytest.mark.parametrize("workers", [2, 3, 4])
def test_runs_cover_every_commit_once_in_order(count: int, workers: int) -> None:
    commits = [str(number) for number in range(count)]
    runs = survey.split_runs(commits, workers)
    assert [oid for run in runs for oid in run] == commits
    assert len(runs) == workers
    share = count * survey.FIRST_RUN_WEIGHT / workers
    assert len(runs[0]) > 0 and abs(len(runs[0]) - share) <= 1


def test_objects_are_read_in_one_go(mixed: SignedRepo) -> None:
    head = mixed.head()
    parent = mixed.git("rev-parse", "HEAD~1").decode().strip()
    found = list(read_objects(mixed.path, [head, parent]))
    assert [(oid, kind) for oid, kind, _ in found] == [(head, "commit"), (parent, "commit")]
    assert found[0][2] == mixed.raw_commit(head)
    with pytest.raises(RepositoryError, match="is not in the repository"):
        list(read_objects(mixed.path, [head, "0" * 40]))


def test_an_alert_revised_in_several_runs_keeps_one_chained_history(
    newsroom: SignedRepo,
    policy: AuditPolicy,
    alice: Key,
    bob: Key,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    by = email_of(bob)
    fixes: list[tuple[str, str]] = []
    for number in range(6):
        newsroom.commit({alert_path(f"other-{number}"): alert_text("Other")}, "Add", bob, by)
        if number % 2:
            fixes.append((f"2024-05-0{number + 1}T10:00:00+01:00", f"Fix {number}"))
        text = alert_text("Bridge", corrections=fixes)
        newsroom.commit({alert_path("bridge"): text}, "Bridge", alice, email_of(alice))
    alone = audit_repository(newsroom.path, policy, NOW, Ledger(), tmp_path / "alone")

    monkeypatch.setattr(survey, "PARALLEL_AT", 2)
    monkeypatch.setattr(survey, "workers_available", lambda: 3)
    shared = audit_repository(newsroom.path, policy, NOW, Ledger(), tmp_path / "shared")
    assert shared == alone
    assert len(shared.revisions["2024-05-01-bridge"]) == 4  # added, then three fixes
    assert persisted(newsroom, tmp_path / "shared") == persisted(newsroom, tmp_path / "alone")
