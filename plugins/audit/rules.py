"""Rules 3 to 8 as pure functions over what was read from git (signing.py has rules 1 and 2)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

from .gitstream import Change
from .ledger import Ledger
from .policy import AuditPolicy
from .records import AlertChange, AlertVersion, CommitRecord, correction_note
from .report import RevisionKind, Violation
from .signing import PolicyFiles
from .storage import utc_text
from .verdicts import Verdict, Window


def signature_violations(
    record: CommitRecord, verdict: Verdict, first_seen: datetime
) -> list[Violation]:
    """Rules 1 to 3 (and 8) for one commit, given its verdict and when it was first seen."""
    oid = record.oid
    if not verdict.ok:
        assert verdict.rule is not None
        if verdict.rule == "signed" and record.parents and record.signers_changes:
            # Rule 8: a change of the signing policy answers to the policy before it.
            return [
                Violation(
                    oid,
                    record.signers_changes[0],
                    "policy",
                    f"changes the signing policy, so it must be signed by a key the policy "
                    f"before it allows: {verdict.reason}",
                )
            ]
        return [Violation(oid, "", verdict.rule, verdict.reason)]
    dated = record.committer_date
    if any(_inside(window, dated) and _inside(window, first_seen) for window in verdict.windows):
        return []
    validity = " or ".join(_window_text(window) for window in verdict.windows)
    fingerprint = verdict.fingerprint
    if not any(_inside(window, dated) for window in verdict.windows):
        explanation = f"key {fingerprint} is valid {validity}, but the commit is dated {_at(dated)}"
    else:
        explanation = (
            f"key {fingerprint} is valid {validity}; the commit is dated {_at(dated)}, but the "
            f"publisher first saw it at {_at(first_seen)} (a commit date is the signer's to choose)"
        )
    return [Violation(oid, "", "validity", explanation)]


def revoked_at_head_violation(oid: str, fingerprint: str, policy: AuditPolicy) -> Violation:
    """Rule 1 for a commit no published head reaches yet, signed by a key HEAD revokes."""
    return Violation(
        oid,
        "",
        "signed",
        f"key {fingerprint} is revoked in {policy.revoked_keys_path} at HEAD, and a revoked "
        "key is never accepted again for a commit not yet published",
    )


def _inside(window: Window, when: datetime) -> bool:
    after, before = window
    return (after is None or after <= when) and (before is None or when <= before)


def _window_text(window: Window) -> str:
    after, before = window
    if after and before:
        return f"from {_at(after)} to {_at(before)}"
    if after:
        return f"from {_at(after)}"
    return f"until {_at(before)}" if before else "at any time"


def _at(moment: datetime) -> str:
    return utc_text(moment.replace(microsecond=0))


def policy_file_violations(
    record: CommitRecord, before: PolicyFiles | None, after: PolicyFiles, policy: AuditPolicy
) -> list[Violation]:
    """Rule 8 on a commit that changes the signers files.

    They must stay readable (else no later commit could be signed), and a revocation must
    stay: a revoked key is never accepted again.
    """
    if not record.signers_changes:
        return []
    if after.problem is not None:
        return [
            Violation(
                record.oid,
                after.problem_path,
                "policy",
                f"leaves the signing policy unusable, so no later commit could be signed: "
                f"{after.problem}",
            )
        ]
    if before is None or before.problem is not None:
        return []
    return [
        Violation(
            record.oid,
            policy.revoked_keys_path,
            "policy",
            f"takes key {fingerprint} out of the revoked keys; a revocation is permanent",
        )
        for fingerprint in sorted(before.revoked - after.revoked)
    ]


def linear_violations(record: CommitRecord) -> list[Violation]:
    """Rule 6: no merge commits."""
    if len(record.parents) < 2:
        return []
    return [
        Violation(
            record.oid,
            "",
            "linear",
            f"merges {len(record.parents)} parents; the history must be one line "
            "(rebase instead of merging)",
        )
    ]


def append_only_violations(record: CommitRecord) -> list[Violation]:
    """Rule 4 within one commit: an alert file is never deleted or renamed."""
    found = []
    for change in record.alert_changes:
        if change.status == "D" and change.old_path:
            found.append(
                Violation(
                    record.oid,
                    change.old_path,
                    "append-only",
                    "deletes a published alert; withdraw it instead "
                    "(status: withdrawn, with a corrections entry saying why)",
                )
            )
        elif change.status == "R" and change.old_path:
            found.append(
                Violation(
                    record.oid,
                    change.old_path,
                    "append-only",
                    f"renames the alert to {change.new_path}; an alert's file name is its "
                    "id and never changes",
                )
            )
    return found


def net_append_only_violations(
    head: str,
    baseline: str,
    changes: Iterable[Change],
    policy: AuditPolicy,
    already: Collection[str],
) -> list[Violation]:
    """Rule 4 across merges: what the last published head had, HEAD must still have.

    `already` holds the paths a single commit was already blamed for.
    """
    found = []
    for change in changes:
        if not policy.is_alert_path(change.path) or change.path in already:
            continue
        if change.status == "D":
            what = "is missing"
        elif change.status == "R":
            what = f"was renamed to {change.new_path}"
        else:
            continue
        found.append(
            Violation(
                head,
                change.path,
                "append-only",
                f"{what} at HEAD, though the last published head {baseline[:12]} had it "
                "(a merge or a rewrite hid this from the commit-by-commit check)",
            )
        )
    return found


def silent_edit_violations(record: CommitRecord) -> list[Violation]:
    """Rule 5: an edit adds exactly one corrections entry and keeps `issued`."""
    found = []
    for change in record.alert_changes:
        if change.old is None or change.new is None or change.new_path is None:
            continue
        for problem in edit_problems(change.old, change.new):
            found.append(Violation(record.oid, change.new_path, "no-silent-edits", problem))
    return found


def edit_problems(old: AlertVersion, new: AlertVersion) -> list[str]:
    """Why an edit from `old` to `new` is not a proper correction (empty if it is)."""
    unreadable = [
        f"the {which} version cannot be read ({version.error}), so the edit cannot be checked"
        for which, version in (("previous", old), ("new", new))
        if version.error is not None
    ]
    if unreadable:
        return unreadable
    problems = []
    if old.issued != new.issued:
        problems.append(
            f"changes issued from {old.issued} to {new.issued}; the time an alert was "
            "issued never changes"
        )
    kept = new.corrections[: len(old.corrections)]
    added = len(new.corrections) - len(old.corrections)
    if kept != old.corrections:
        problems.append("changes or removes an earlier corrections entry; they are append-only")
    elif added == 0:
        problems.append(
            "edits the alert without adding a corrections entry saying what changed and why"
        )
    elif added > 1:
        problems.append(f"adds {added} corrections entries in one edit; add exactly one")
    return problems


def revision_kind(change: AlertChange) -> tuple[RevisionKind, str | None]:
    """What a change did to an alert, for its public history, and the note it added."""
    if change.status == "A":
        return "added", None
    old, new = change.old, change.new
    if old is None or new is None or edit_problems(old, new):
        return "changed", None
    note = correction_note(new.corrections[-1])
    return ("withdrawn" if new.withdrawn and not old.withdrawn else "corrected"), note


def rewrite_violations(ledger: Ledger, reachable: Collection[str]) -> list[Violation]:
    """Rule 7: each published head is still in the history of HEAD, or its loss was accepted."""
    found = []
    waived = ledger.waived
    seen: set[str] = set()
    for entry in ledger.entries:
        if entry.head in reachable or entry.head in waived or entry.head in seen:
            continue
        seen.add(entry.head)
        found.append(
            Violation(
                entry.head,
                "",
                "no-rewrite",
                f"was published at {_at(entry.published_at)} but is no longer in the history "
                "of HEAD: history was rewritten (accept the rewrite with a reason to go on)",
            )
        )
    return found


def first_publication(ledger: Ledger, parents: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """For each commit a published head reaches, the index of the first ledger entry that does.

    That entry's time is when the publisher first saw the commit, as far as the ledger knows.
    """
    found: dict[str, int] = {}
    for index, entry in enumerate(ledger.entries):
        stack = [entry.head] if entry.head in parents and entry.head not in found else []
        while stack:
            oid = stack.pop()
            if oid in found:
                continue
            found[oid] = index
            stack.extend(p for p in parents.get(oid, ()) if p in parents and p not in found)
    return found
