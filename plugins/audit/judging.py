"""Who may sign each commit, and the verdict on its signature: cached, or judged anew."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .history import HistoryReader, Repository
from .policy import AuditPolicy
from .records import CommitRecord, SignersState
from .signing import (
    Authority,
    PolicyFiles,
    SignatureCheck,
    check_signature,
    judge_signature,
    parse_policy_files,
)
from .verdicts import CachedVerdicts, Verdict, signers_digest


def check_signatures(
    reader: HistoryReader, repository: Repository, oids: Iterable[str]
) -> dict[str, SignatureCheck]:
    """Decode and verify the signatures of `oids`; whether their keys may sign comes later."""
    raw = reader.raw_commits(oids)
    return {oid: check_signature(content, repository.object_format) for oid, content in raw.items()}


@dataclass(frozen=True)
class SignerFiles:
    """Each version of the signers files met, parsed, with the digest verdicts rest on."""

    files: Mapping[SignersState, PolicyFiles]
    contents: Mapping[SignersState, tuple[bytes | None, bytes | None]]
    digests: Mapping[SignersState, str]


def read_signer_files(
    reader: HistoryReader,
    records: Iterable[CommitRecord],
    head: SignersState | None,
    policy: AuditPolicy,
) -> SignerFiles:
    """Every version of the signers files that `records` (and the last head) rest on."""
    states = {
        state
        for record in records
        for state in (record.parent_signers, record.signers)
        if state is not None
    }
    if head is not None:
        states.add(head)
    blobs = reader.blobs(
        blob for state in states for blob in (state.allowed, state.revoked) if blob is not None
    )
    contents = {
        state: (
            blobs[state.allowed] if state.allowed else None,
            blobs[state.revoked] if state.revoked else None,
        )
        for state in states
    }
    return SignerFiles(
        files={state: parse_policy_files(*contents[state], policy) for state in states},
        contents=contents,
        digests={state: signers_digest(contents[state]) for state in states},
    )


def _digest(record: CommitRecord, states: SignerFiles, policy: AuditPolicy) -> str:
    """The digest of what may sign `record` rests on: the key its verdict is cached under."""
    if record.parent_signers is not None:
        return states.digests[record.parent_signers]
    pinned = "\n".join(sorted(frozenset(policy.trusted_signers))).encode()
    return signers_digest([b"root", *states.contents[record.signers], pinned])


def _authority(record: CommitRecord, states: SignerFiles, policy: AuditPolicy) -> Authority:
    """Who may sign `record`: the signers files as in its parent, or the pinned keys."""
    paths = (policy.allowed_signers_path, policy.revoked_keys_path)
    if record.parent_signers is None:
        trusted = frozenset(policy.trusted_signers)
        return Authority(states.files[record.signers], *paths, "in the root commit itself", trusted)
    parent = record.parents[0]
    return Authority(states.files[record.parent_signers], *paths, f"as in {parent[:12]}")


def judge_commits(
    reader: HistoryReader,
    repository: Repository,
    commits: Sequence[str],
    records: Mapping[str, CommitRecord],
    states: SignerFiles,
    cached: CachedVerdicts,
    checks: Mapping[str, SignatureCheck],
    policy: AuditPolicy,
) -> dict[str, tuple[str, Verdict]]:
    """Each commit's verdict: from the cache when judged by the same files, else judged now."""
    digests = {oid: _digest(records[oid], states, policy) for oid in commits}
    missing = [oid for oid in commits if cached.lookup(oid, digests[oid]) is None]
    more = check_signatures(reader, repository, [oid for oid in missing if oid not in checks])
    verdicts = {}
    # An archive's commits are signed by a few keys under a few versions of the files: a
    # good verdict depends on nothing else, so each is judged once. (A refusal names the
    # commit's parent, so it is judged for each.)
    accepted: dict[tuple[SignatureCheck, str, str], Verdict] = {}
    for oid in commits:
        digest = digests[oid]
        verdict = cached.lookup(oid, digest)
        if verdict is None:
            check = checks.get(oid) or more[oid]
            email = records[oid].committer_email
            verdict = accepted.get((check, email, digest))
            if verdict is None:
                authority = _authority(records[oid], states, policy)
                verdict = judge_signature(check, email, authority)
                if verdict.ok:
                    accepted[check, email, digest] = verdict
        verdicts[oid] = (digest, verdict)
    return verdicts
