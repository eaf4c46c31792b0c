"""The pure rule functions on hand-made inputs: edits, ledger coverage, rewrites, merges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit.gitstream import Change
from audit.ledger import Ledger, RewriteAcceptance
from audit.policy import AuditPolicy
from audit.records import AlertChange, AlertVersion, canonical
from audit.report import Violation
from audit.rules import (
    edit_problems,
    first_publication,
    net_append_only_violations,
    revision_kind,
    rewrite_violations,
)

ISSUED = canonical("2024-05-01T09:00:00+01:00")
FIX = canonical({"at": "2024-05-01T10:00:00+01:00", "note": " The bridge reopened. "})
FIX_2 = canonical({"at": "2024-05-01T11:00:00+01:00", "note": "Diversion."})


def version(*corrections: str, issued: str = ISSUED, withdrawn: bool = False) -> AlertVersion:
    return AlertVersion(issued, withdrawn, corrections)


STALE = "changes or removes an earlier corrections entry; they are append-only"
EDITS = {
    "one correction": (version(), version(FIX), [], ("corrected", "The bridge reopened.")),
    "withdrawal": (
        version(FIX),
        version(FIX, FIX_2, withdrawn=True),
        [],
        ("withdrawn", "Diversion."),
    ),
    "after withdrawal": (
        version(FIX, withdrawn=True),
        version(FIX, FIX_2, withdrawn=True),
        [],
        ("corrected", "Diversion."),
    ),
    "none": (
        version(),
        version(),
        ["edits the alert without adding a corrections entry saying what changed and why"],
        ("changed", None),
    ),
    "reordered": (version(FIX), version(FIX_2, FIX), [STALE], ("changed", None)),
    "removed": (version(FIX), version(), [STALE], ("changed", None)),
    "unreadable": (
        AlertVersion(None, False, (), "line 1: file: is UTF-16"),
        version(FIX),
        [
            "the previous version cannot be read (line 1: file: is UTF-16), so the edit "
            "cannot be checked"
        ],
        ("changed", None),
    ),
}


@pytest.mark.parametrize(("old", "new", "problems", "kind"), EDITS.values(), ids=EDITS.keys())
def test_edits(
    old: AlertVersion,
    new: AlertVersion,
    problems: list[str],
    kind: tuple[str, str | None],
) -> None:
    assert edit_problems(old, new) == problems
    assert revision_kind(AlertChange("M", "a.md", "a.md", old, new, "diff")) == kind


def test_an_added_alert_is_added() -> None:
    assert revision_kind(AlertChange("A", None, "a.md", None, None, "")) == ("added", None)


def at(hour: int) -> datetime:
    return datetime(2024, 5, 1, hour, tzinfo=UTC)


def test_first_seen_is_the_first_entry_that_reaches_a_commit() -> None:
    root, a, b, side, merge, later = (str(n) * 40 for n in range(1, 7))
    parents = {root: (), a: (root,), b: (a,), side: (root,), merge: (b, side), later: (merge,)}
    ledger = Ledger().with_entry(b, at(9)).with_entry(merge, at(10)).with_entry(a, at(11))
    assert first_publication(ledger, parents) == {b: 0, a: 0, root: 0, merge: 1, side: 1}
    gone = Ledger().with_entry("f" * 40, at(9))
    assert first_publication(gone, parents) == {}


def test_rewrites_are_reported_once_unless_waived() -> None:
    a, b, c = "a" * 40, "b" * 40, "c" * 40
    ledger = Ledger().with_entry(a, at(9)).with_entry(b, at(10)).with_entry(b, at(11))
    assert [v.commit for v in rewrite_violations(ledger, {a})] == [b]
    waived = ledger.with_acceptance(RewriteAcceptance(at(12), "why", c, (b,)))
    assert rewrite_violations(waived, {c}) == [
        Violation(
            a,
            "",
            "no-rewrite",
            "was published at 2024-05-01T09:00:00Z but is no longer in the history of HEAD: "
            "history was rewritten (accept the rewrite with a reason to go on)",
        )
    ]


def test_the_net_check_blames_only_what_no_commit_was_blamed_for() -> None:
    policy = AuditPolicy()
    gone, moved, blamed = (f"content/alerts/2024/2024-05-01-{n}.md" for n in ("x", "y", "z"))
    changes = [
        Change("D", gone),
        Change("R", moved, "content/alerts/2024/2024-05-02-y.md", 90),
        Change("D", blamed),
        Change("M", "content/alerts/2024/2024-05-01-w.md"),
        Change("D", "content/alerts/README.md"),
    ]
    found = net_append_only_violations("h" * 40, "b" * 40, changes, policy, {blamed})
    assert [(v.path, v.explanation.split(" at HEAD")[0]) for v in found] == [
        (gone, "is missing"),
        (moved, "was renamed to content/alerts/2024/2024-05-02-y.md"),
    ]
