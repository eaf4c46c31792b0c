"""Rules 1 and 2: whether a commit carries one valid signature, by whom, and may they sign."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from .errors import PolicyFileError, SignatureFormatError
from .policy import AuditPolicy
from .signers import (
    AllowedSigner,
    lines_for_key,
    parse_allowed_signers,
    parse_revoked_keys,
    signers_for,
)
from .sshkeys import PublicKey
from .sshsig import parse_armored, split_signed_commit, verify, verify_usual
from .verdicts import Verdict

NAMESPACE: Final = "git"


@dataclass(frozen=True)
class SignatureCheck:
    """What a commit's signature headers hold, checked cryptographically and nothing more."""

    blocks: int  # signature headers found
    problem: str | None  # why the one block could not be decoded
    key: PublicKey | None
    namespace: str | None
    valid: bool  # the one block verifies over the commit in the git namespace


def check_signature(
    raw: bytes, object_format: Literal["sha1", "sha256"] = "sha1"
) -> SignatureCheck:
    """Decode and verify a commit's signature; whether its key may sign is judged later."""
    payload, blocks = split_signed_commit(raw, object_format=object_format)
    if len(blocks) != 1:
        # Git would verify only the first of several blocks; we refuse to choose.
        return SignatureCheck(len(blocks), None, None, None, False)
    usual = verify_usual(blocks[0], payload, NAMESPACE)
    if usual is not None:
        return SignatureCheck(1, None, usual[0], NAMESPACE, usual[1])
    try:
        signature = parse_armored(blocks[0])
    except SignatureFormatError as error:
        return SignatureCheck(1, str(error), None, None, False)
    return SignatureCheck(
        blocks=1,
        problem=None,
        key=signature.public_key,
        namespace=signature.namespace,
        valid=verify(signature, payload, NAMESPACE),
    )


@dataclass(frozen=True)
class PolicyFiles:
    """One version of the signers files, parsed; `problem` says why nobody may sign by it."""

    signers: tuple[AllowedSigner, ...]
    revoked: frozenset[str]
    problem: str | None = None
    problem_path: str = ""


def parse_policy_files(
    allowed: bytes | None, revoked: bytes | None, policy: AuditPolicy
) -> PolicyFiles:
    """The allowed signers and revoked keys in these file contents (None: file absent)."""
    allowed_path, revoked_path = policy.allowed_signers_path, policy.revoked_keys_path
    if allowed is None:
        return PolicyFiles((), frozenset(), f"there is no {allowed_path}", allowed_path)
    try:
        signers = parse_allowed_signers(_text(allowed, allowed_path), allowed_path)
        keys = parse_revoked_keys(_text(revoked or b"", revoked_path), revoked_path)
    except PolicyFileError as error:
        return PolicyFiles((), frozenset(), str(error), error.path)
    return PolicyFiles(signers, keys)


def _text(content: bytes, path: str) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyFileError(path, 1, "the file is not UTF-8", "UTF-8 text") from None


@dataclass(frozen=True)
class Authority:
    """Who may sign a commit: the signers files as in its parent, or pinned keys for a root."""

    files: PolicyFiles
    allowed_path: str
    revoked_path: str
    where: str  # which version of the files, as explanations say it: "as in the parent ..."
    trusted: frozenset[str] | None = None  # for a root commit: the key must be one of these


def judge_signature(check: SignatureCheck, committer_email: str, authority: Authority) -> Verdict:
    """Rules 1 and 2: one valid signature, by an allowed and unrevoked key, as the committer."""
    if check.blocks == 0:
        return _refuse(check, "signed", "the commit is not signed")
    if check.blocks > 1:
        return _refuse(
            check, "signed", f"the commit carries {check.blocks} signatures; exactly one is allowed"
        )
    if check.key is None:
        return _refuse(check, "signed", f"the signature cannot be read ({check.problem})")
    key, fingerprint = check.key, check.key.fingerprint
    files = authority.files
    if check.namespace != NAMESPACE:
        reason = f"the signature is for namespace {check.namespace!r}, not 'git'"
    elif not check.valid:
        reason = (
            f"the signature by {fingerprint} does not match the commit "
            "(the commit was changed after it was signed)"
        )
    elif authority.trusted is not None and fingerprint not in authority.trusted:
        reason = (
            f"a root commit must be signed by a key pinned in trusted_signers; {fingerprint} is not"
        )
    elif authority.trusted is None and files.problem is not None:
        reason = f"nobody may sign: {files.problem} {authority.where}"
    elif fingerprint in files.revoked:
        reason = f"key {fingerprint} is revoked in {authority.revoked_path} {authority.where}"
    else:
        return _identify(check, key, committer_email, authority)
    return _refuse(check, "signed", reason)


def _identify(
    check: SignatureCheck, key: PublicKey, committer_email: str, authority: Authority
) -> Verdict:
    """Rule 2 for a good signature: the key is listed, and listed for the committer."""
    fingerprint = key.fingerprint
    lines = lines_for_key(authority.files.signers, key, NAMESPACE)
    if not lines:
        # A root's key is allowed by the pin; its own file only says whom it belongs to.
        rule: Literal["signed", "identity"] = "signed" if authority.trusted is None else "identity"
        return _refuse(
            check, rule, f"key {fingerprint} is not in {authority.allowed_path} {authority.where}"
        )
    accepting = signers_for(lines, key, committer_email, NAMESPACE)
    if not accepting:
        listed = ", ".join(dict.fromkeys(p for line in lines for p in line.principals))
        return _refuse(
            check,
            "identity",
            f"key {fingerprint} is listed for {listed} in {authority.allowed_path} "
            f"{authority.where}, but the committer is {committer_email}",
            principal=listed,
        )
    return Verdict(
        rule=None,
        reason="",
        signed=True,
        fingerprint=fingerprint,
        algorithm=key.algorithm,
        principal=committer_email,
        windows=tuple((line.valid_after, line.valid_before) for line in accepting),
    )


def _refuse(
    check: SignatureCheck,
    rule: Literal["signed", "identity"],
    reason: str,
    principal: str | None = None,
) -> Verdict:
    key = check.key
    return Verdict(
        rule=rule,
        reason=reason,
        signed=check.blocks > 0,
        fingerprint=key.fingerprint if key else None,
        algorithm=key.algorithm if key else None,
        principal=principal,
    )
