"""The checks that depend on HEAD and on the ledger, and the report made of it all."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence

from .gitstream import Change
from .ledger import Ledger
from .policy import AuditPolicy
from .report import AuditReport, SignerInfo
from .revisions import ProvenanceMap, RevisionMap
from .rules import net_append_only_violations, revoked_at_head_violation, rewrite_violations
from .signers import AllowedSigner, signers_for
from .signing import NAMESPACE, PolicyFiles
from .state import AuditState, SignerKey


def conclude(
    state: AuditState,
    since: str | None,
    ledger: Ledger,
    reachable: Collection[str],
    head_files: PolicyFiles,
    net: Sequence[Change] | None,
    policy: AuditPolicy,
) -> AuditReport:
    """The report on `state.head`: its totals, and the checks that depend on HEAD and the ledger.

    `reachable` holds (at least) every published head in the history of HEAD, `head_files`
    its signers files, and `net` what changed in the alerts between the ledger's baseline and
    HEAD (None if there is nothing to compare).
    """
    withdrawn = {
        oid: signer for oid, signer in state.unpublished.items() if signer[0] in head_files.revoked
    }
    violations = [
        *state.violations,
        *(revoked_at_head_violation(oid, signer[0], policy) for oid, signer in withdrawn.items()),
    ]
    if net is not None and ledger.baseline is not None:
        blamed = {v.path for v in violations if v.rule == "append-only"}
        violations += net_append_only_violations(state.head, ledger.baseline, net, policy, blamed)
    violations += rewrite_violations(ledger, reachable)
    revisions = RevisionMap(state.histories, withdrawn)
    signed = Counter(state.signed)
    signed.subtract(withdrawn.values())
    return AuditReport(
        head=state.head,
        since=since,
        commits_checked=state.commits,
        first_commit=state.first_commit,
        last_commit=state.head,
        signers=_signers(head_files.signers, signed, state.revoked | head_files.revoked),
        alerts=len(state.alerts),
        violations=tuple(violations),
        ledger=ledger,
        revisions=revisions,
        provenance=ProvenanceMap(revisions, state.alerts),
        verified_commits=state.verified - len(withdrawn),
        unsigned_commits=state.unsigned,
    )


def _signers(
    lines: Sequence[AllowedSigner], signed: Mapping[SignerKey, int], revoked: Collection[str]
) -> tuple[SignerInfo, ...]:
    """The signers HEAD allows, then any others that signed verified commits in the range."""
    by_key: dict[str, list[int]] = {}
    for number, line in enumerate(lines):
        by_key.setdefault(line.key.fingerprint, []).append(number)
    counts: Counter[int] = Counter()
    others: list[SignerInfo] = []
    for (fingerprint, principal, algorithm), count in sorted(signed.items()):
        if count <= 0:
            continue
        # Each commit counts for the first line that lets its key sign as its committer.
        position = next(
            (
                number
                for number in by_key.get(fingerprint, [])
                if signers_for([lines[number]], lines[number].key, principal, NAMESPACE)
            ),
            None,
        )
        if position is None:
            others.append(
                SignerInfo(
                    principal, fingerprint, algorithm, None, None, fingerprint in revoked, count
                )
            )
        else:
            counts[position] += count
    listed = [
        SignerInfo(
            principal=",".join(line.principals),
            fingerprint=line.key.fingerprint,
            algorithm=line.key.algorithm,
            valid_after=line.valid_after,
            valid_before=line.valid_before,
            revoked=line.key.fingerprint in revoked,
            commits=counts[number],
        )
        for number, line in enumerate(lines)
    ]
    return tuple(listed + others)
