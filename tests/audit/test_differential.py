"""Our verdict on every commit of a mixed history equals `git verify-commit`'s exit status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.errors import SignatureFormatError
from audit.signers import (
    AllowedSigner,
    parse_allowed_signers,
    parse_revoked_keys,
    signers_for,
    valid_at,
)
from audit.sshsig import parse_armored, split_signed_commit, verify
from tests.support.signing import Key, SignedRepo, python_sign, with_signature


@dataclass(frozen=True)
class Case:
    name: str
    oid: str
    git_accepts: bool  # what we expect git to say; the test checks git says so, then compares


def committer_time(raw: bytes) -> datetime:
    for line in raw.split(b"\n"):
        if line.startswith(b"committer "):
            seconds = int(line.rsplit(b" ", 2)[1])
            return datetime.fromtimestamp(seconds, tz=UTC)
    raise AssertionError("commit without committer")


def our_verdict(raw: bytes, signers: tuple[AllowedSigner, ...], revoked: frozenset[str]) -> bool:
    """Git's rule, rebuilt from our pieces.

    Git (gpg-interface.c) runs `ssh-keygen -Y find-principals` to learn the principals of the
    first allowed-signers line holding the signing key and valid at the committer time, then
    `ssh-keygen -Y verify -n git -I <principal>` for each of them. Note what is absent: the
    committer's email plays no part, and of several signature headers only the first counts,
    because git concatenates them and ssh-keygen reads the first armour.
    """
    payload, blocks = split_signed_commit(raw)
    if not blocks:
        return False
    try:
        sig = parse_armored(blocks[0])
    except SignatureFormatError:
        return False
    if not verify(sig, payload, "git") or sig.public_key.fingerprint in revoked:
        return False
    when = committer_time(raw)
    holders = [s for s in signers if s.key == sig.public_key and valid_at(s, when)]
    if not holders:
        return False
    return any(
        valid_at(signer, when)
        for principal in holders[0].principals
        for signer in signers_for(signers, sig.public_key, principal, "git")
    )


@pytest.fixture(scope="module")
def history(
    tmp_path_factory: pytest.TempPathFactory,
    keys: dict[str, Key],
    outsider: Key,
    revoked: Key,
) -> tuple[SignedRepo, Path, Path, list[Case]]:
    repo = SignedRepo(tmp_path_factory.mktemp("differential"))
    alice, bob, carol, dave, erin = (
        keys[kind] for kind in ("ed25519", "ecdsa-256", "ecdsa-384", "rsa", "ecdsa-521")
    )
    allowed = repo.write_allowed_signers(
        [
            ("alice@police.example", alice),
            ("bob@police.example,duty@police.example", bob),
            ("carol@police.example", carol, 'namespaces="file"'),
            ("dave@police.example", dave, 'namespaces="git,file"'),
            ("erin@police.example", erin, 'valid-after="20240201Z",valid-before="20240601Z"'),
            ("oscar@police.example", revoked),
        ]
    )
    revocations = repo.write_revoked_keys([revoked])
    cases: list[Case] = []
    day = iter(range(1, 29))

    def commit(name: str, key: Key | None, accepts: bool, *, date: str = "", who: str = "") -> str:
        email = who or (f"{key.name}@police.example" if key else "nobody@police.example")
        when = date or f"2024-03-{next(day):02d}T10:00:00Z"
        oid = repo.commit({f"content/{name}.md": name}, f"Publish {name}", key, email, when)
        cases.append(Case(name, oid, accepts))
        return oid

    def forge(name: str, raw: bytes, accepts: bool) -> None:
        cases.append(Case(name, repo.write_raw_commit(raw), accepts))

    first = commit("alice ed25519", alice, True)
    commit("bob ecdsa-256", bob, True)
    commit("dave rsa, namespaces git,file", dave, True)
    commit("carol ecdsa-384, namespaces file only", carol, False)
    commit("erin inside her window", erin, True, date="2024-05-31T23:59:59Z")
    commit("erin before her window", erin, False, date="2024-01-31T23:59:59Z")
    commit("erin after her window", erin, False, date="2024-06-01T00:00:01Z")
    commit("mallory, not in the file", outsider, False)
    commit("oscar, allowed but revoked", revoked, False)
    commit("unsigned", None, False)
    commit("alice under another committer email", alice, True, who="press@police.example")

    raw = repo.raw_commit(first)
    payload, blocks = split_signed_commit(raw)
    forge("tampered message", raw.replace(b"Publish alice", b"Publish ALICE"), False)
    forge("tampered author", raw.replace(b"author alice", b"author mallory"), False)
    wrong_namespace = repo.sign(alice, payload, "file")
    forge("signed for namespace file", with_signature(payload, [wrong_namespace]), False)
    forge(
        "signature by mallory",
        with_signature(payload, [repo.sign(outsider, payload, "git")]),
        False,
    )
    forge(
        "valid block, then a bad one", with_signature(payload, [blocks[0], wrong_namespace]), True
    )
    forge(
        "bad block, then a valid one", with_signature(payload, [wrong_namespace, blocks[0]]), False
    )
    forge(
        "extra gpgsig-sha256 header",
        raw.replace(b"\n\n", b"\ngpgsig-sha256 anything\n at all\n\n", 1),
        True,
    )
    forge(
        "non-empty reserved field",
        with_signature(payload, [python_sign(alice, payload, reserved=b"tag")]),
        True,
    )
    forge(
        "sha256 message hash",
        with_signature(payload, [python_sign(alice, payload, hash_algorithm="sha256")]),
        True,
    )
    forge(
        "rsa with SHA-1",
        with_signature(payload, [python_sign(dave, payload, signature_algorithm="ssh-rsa")]),
        False,
    )
    return repo, allowed, revocations, cases


def test_every_verdict_equals_git_verify_commit(
    history: tuple[SignedRepo, Path, Path, list[Case]],
) -> None:
    repo, allowed, revocations, cases = history
    signers = parse_allowed_signers(allowed.read_text(), str(allowed))
    revoked = parse_revoked_keys(revocations.read_text(), str(revocations))
    table = []
    for case in cases:
        git_says = repo.verify_commit(case.oid, allowed, revocations) == 0
        we_say = our_verdict(repo.raw_commit(case.oid), signers, revoked)
        table.append((case.name, case.git_accepts, git_says, we_say))
    disagreements = [row for row in table if not row[1] == row[2] == row[3]]
    assert disagreements == [], "\n".join(
        f"{name}: expected {expected}, git {git}, ours {ours}"
        for name, expected, git, ours in disagreements
    )
    assert len(table) == 21


def test_git_does_not_bind_the_signer_to_the_committer_email(
    history: tuple[SignedRepo, Path, Path, list[Case]],
) -> None:
    """Git accepts alice's signature on a commit whose committer is someone else.

    So "principal = committer email" is a rule the audit must add itself; this records the
    case where the stricter rule and git part ways.
    """
    repo, allowed, revocations, cases = history
    case = next(case for case in cases if case.name == "alice under another committer email")
    assert repo.verify_commit(case.oid, allowed, revocations) == 0
    raw = repo.raw_commit(case.oid)
    payload, blocks = split_signed_commit(raw)
    sig = parse_armored(blocks[0])
    signers = parse_allowed_signers(allowed.read_text(), str(allowed))
    assert verify(sig, payload)
    assert signers_for(signers, sig.public_key, "press@police.example", "git") == []
    assert signers_for(signers, sig.public_key, "alice@police.example", "git") != []
