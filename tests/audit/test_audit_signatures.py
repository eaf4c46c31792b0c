"""Rules 1, 2, 3 and 8: who may sign, as whom, when, and who may change who may sign."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit.audit import audit_repository
from audit.ledger import Ledger
from audit.policy import AuditPolicy
from audit.report import AuditReport, Violation
from audit.sshsig import split_signed_commit
from tests.support.signing import (
    Key,
    SignedRepo,
    alert_path,
    alert_text,
    allowed_signers_text,
    email_of,
    python_sign,
    with_signature,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ALLOWED = ".signers/allowed_signers"
REVOKED = ".signers/revoked_keys"


def audit(repo: SignedRepo, policy: AuditPolicy, ledger: Ledger | None = None) -> AuditReport:
    return audit_repository(repo.path, policy, NOW, ledger or Ledger())


def publish(repo: SignedRepo, slug: str, key: Key | None, *, email: str = "", day: int = 1) -> str:
    """Commit a new alert signed by `key` as `email` (default: the key's own e-mail)."""
    who = email or (email_of(key) if key else "nobody@police.example")
    files = {alert_path(slug): alert_text(slug.title())}
    return repo.commit(files, f"Publish {slug}", key, who, f"2024-05-{day:02d}T09:00:00Z")


def test_an_unsigned_commit(newsroom: SignedRepo, policy: AuditPolicy) -> None:
    oid = publish(newsroom, "unsigned", None)
    report = audit(newsroom, policy)
    assert report.violations == (Violation(oid, "", "signed", "the commit is not signed"),)
    assert (report.verified_commits, report.unsigned_commits) == (1, 1)
    assert report.revisions["2024-05-01-unsigned"][0].verified is False
    assert report.revisions["2024-05-01-unsigned"][0].signer_fingerprint is None
    assert report.provenance["2024-05-01-unsigned"].signer_name == ""


def test_a_key_not_in_the_file(newsroom: SignedRepo, policy: AuditPolicy, outsider: Key) -> None:
    parent = newsroom.head()
    oid = publish(newsroom, "outsider", outsider)
    assert audit(newsroom, policy).violations == (
        Violation(
            oid,
            "",
            "signed",
            f"key {outsider.fingerprint} is not in {ALLOWED} as in {parent[:12]}",
        ),
    )


def test_a_key_cannot_authorise_itself(
    newsroom: SignedRepo, policy: AuditPolicy, alice: Key, bob: Key, dave: Key, outsider: Key
) -> None:
    """Rule 8: a commit adding a key to the signers file is judged by the file before it."""
    parent = newsroom.head()
    everyone = [(email_of(key), key) for key in (alice, bob, dave, outsider)]
    oid = newsroom.commit(
        {ALLOWED: allowed_signers_text(everyone), alert_path("sneaky"): alert_text("Sneaky")},
        "Add myself",
        outsider,
        email_of(outsider),
        "2024-05-01T09:00:00Z",
    )
    # Once a commit signed by a key that was allowed has let her in, she may sign.
    later = publish(newsroom, "after", outsider, day=2)
    report = audit(newsroom, policy)
    assert report.violations == (
        Violation(
            oid,
            ALLOWED,
            "policy",
            "changes the signing policy, so it must be signed by a key the policy before it "
            f"allows: key {outsider.fingerprint} is not in {ALLOWED} as in {parent[:12]}",
        ),
    )
    assert [r.verified for r in report.revisions["2024-05-01-after"]] == [True]
    assert later == report.head


def test_a_policy_change_signed_by_an_allowed_key_lets_a_new_signer_in(
    newsroom: SignedRepo, policy: AuditPolicy, alice: Key, bob: Key, dave: Key, erin: Key
) -> None:
    everyone = [(email_of(key), key) for key in (alice, bob, dave, erin)]
    newsroom.commit({ALLOWED: allowed_signers_text(everyone)}, "Add erin", alice, email_of(alice))
    publish(newsroom, "by-erin", erin, day=2)
    report = audit(newsroom, policy)
    assert report.violations == ()
    assert [s.principal for s in report.signers][-1] == email_of(erin)
    assert report.signers[-1].commits == 1


def test_a_revoked_key(newsroom: SignedRepo, policy: AuditPolicy, alice: Key, dave: Key) -> None:
    revocation = newsroom.commit(
        {REVOKED: dave.public_line + "\n"}, "Revoke dave", alice, email_of(alice)
    )
    oid = publish(newsroom, "by-dave", dave, day=2)
    report = audit(newsroom, policy)
    assert report.violations == (
        Violation(
            oid,
            "",
            "signed",
            f"key {dave.fingerprint} is revoked in {REVOKED} as in {revocation[:12]}",
        ),
    )
    assert next(s for s in report.signers if s.fingerprint == dave.fingerprint).revoked


def test_a_revocation_at_head_reaches_back_to_unpublished_commits(
    newsroom: SignedRepo, policy: AuditPolicy, alice: Key, dave: Key
) -> None:
    published = publish(newsroom, "published", dave, day=1)
    unpublished = publish(newsroom, "unpublished", dave, day=2)
    newsroom.commit({REVOKED: dave.public_line + "\n"}, "Revoke dave", alice, email_of(alice))
    ledger = Ledger().with_entry(published, datetime(2024, 5, 1, 10, 0, tzinfo=UTC))
    report = audit(newsroom, policy, ledger)
    assert report.violations == (
        Violation(
            unpublished,
            "",
            "signed",
            f"key {dave.fingerprint} is revoked in {REVOKED} at HEAD, and a revoked key is "
            "never accepted again for a commit not yet published",
        ),
    )
    assert report.revisions["2024-05-01-unpublished"][0].verified is False
    assert report.revisions["2024-05-01-published"][0].verified is True
    # Once that commit is published (the ledger reaches it) the revocation no longer bites.
    assert audit(newsroom, policy, ledger.with_entry(unpublished, NOW)).violations == ()


def test_a_retired_key_cannot_backdate_a_commit(
    tmp_path_factory: pytest.TempPathFactory, policy: AuditPolicy, alice: Key, erin: Key
) -> None:
    """The committer date is the signer's to choose; when the publisher saw it is not."""
    repo = SignedRepo(tmp_path_factory.mktemp("retired"))
    signers = [(email_of(alice), alice), (email_of(erin), erin, 'valid-before="20240501Z"')]
    repo.commit(
        {ALLOWED: allowed_signers_text(signers)},
        "Signers",
        alice,
        email_of(alice),
        "2024-04-01T09:00:00Z",
    )
    in_time = repo.commit(
        {alert_path("in-time"): alert_text("In time")},
        "In time",
        erin,
        email_of(erin),
        "2024-04-20T09:00:00Z",
    )
    backdated = repo.commit(
        {alert_path("backdated"): alert_text("Backdated")},
        "Backdated",
        erin,
        email_of(erin),
        "2024-04-25T09:00:00Z",
    )
    # The ledger shows the first commit went out while erin's key was valid.
    ledger = Ledger().with_entry(in_time, datetime(2024, 4, 21, 8, 0, tzinfo=UTC))
    report = audit(repo, policy, ledger)
    assert report.violations == (
        Violation(
            backdated,
            "",
            "validity",
            f"key {erin.fingerprint} is valid until 2024-05-01T00:00:00Z; the commit is dated "
            "2024-04-25T09:00:00Z, but the publisher first saw it at 2024-06-01T12:00:00Z "
            "(a commit date is the signer's to choose)",
        ),
    )
    assert [s.valid_before for s in report.signers if s.principal == email_of(erin)] == [
        datetime(2024, 5, 1, tzinfo=UTC)
    ]


def test_a_commit_dated_outside_the_window(
    tmp_path_factory: pytest.TempPathFactory, policy: AuditPolicy, alice: Key, erin: Key
) -> None:
    repo = SignedRepo(tmp_path_factory.mktemp("early"))
    signers = [(email_of(alice), alice), (email_of(erin), erin, 'valid-after="20240510Z"')]
    repo.commit({ALLOWED: allowed_signers_text(signers)}, "Signers", alice, email_of(alice))
    early = repo.commit(
        {alert_path("early"): alert_text("Early")},
        "Early",
        erin,
        email_of(erin),
        "2024-05-09T09:00:00Z",
    )
    assert audit(repo, policy).violations == (
        Violation(
            early,
            "",
            "validity",
            f"key {erin.fingerprint} is valid from 2024-05-10T00:00:00Z, but the commit is "
            "dated 2024-05-09T09:00:00Z",
        ),
    )


def test_the_signer_must_be_the_committer(
    newsroom: SignedRepo, policy: AuditPolicy, bob: Key
) -> None:
    """Git accepts this commit (see test_git_does_not_bind_...); the audit does not."""
    parent = newsroom.head()
    oid = publish(newsroom, "impostor", bob, email="alice@police.example")
    report = audit(newsroom, policy)
    assert report.violations == (
        Violation(
            oid,
            "",
            "identity",
            f"key {bob.fingerprint} is listed for bob@police.example in {ALLOWED} as in "
            f"{parent[:12]}, but the committer is alice@police.example",
        ),
    )
    assert report.revisions["2024-05-01-impostor"][0].signer_fingerprint == bob.fingerprint


def forge(repo: SignedRepo, raw: bytes) -> str:
    oid = repo.write_raw_commit(raw)
    repo.reset(oid)
    return oid


def test_a_signature_copied_onto_another_commit(
    newsroom: SignedRepo, policy: AuditPolicy, bob: Key
) -> None:
    signed = publish(newsroom, "genuine", bob)
    # Another tree, as if the alert had been changed after bob signed.
    newsroom.commit({alert_path("genuine"): alert_text("Doctored")}, "Doctored", None)
    doctored_tree = newsroom.git("rev-parse", "HEAD^{tree}").decode().strip()
    raw = newsroom.raw_commit(signed)
    original_tree = raw.split(b"\n", 1)[0].split()[1]
    oid = forge(newsroom, raw.replace(original_tree, doctored_tree.encode(), 1))
    assert audit(newsroom, policy).violations == (
        Violation(
            oid,
            "",
            "signed",
            f"the signature by {bob.fingerprint} does not match the commit "
            "(the commit was changed after it was signed)",
        ),
    )


def test_a_signature_for_another_namespace(
    newsroom: SignedRepo, policy: AuditPolicy, bob: Key
) -> None:
    payload, _ = split_signed_commit(newsroom.raw_commit(publish(newsroom, "file", bob)))
    oid = forge(newsroom, with_signature(payload, [newsroom.sign(bob, payload, "file")]))
    assert audit(newsroom, policy).violations == (
        Violation(oid, "", "signed", "the signature is for namespace 'file', not 'git'"),
    )


def test_two_signatures_are_one_too_many(
    newsroom: SignedRepo, policy: AuditPolicy, bob: Key
) -> None:
    """Git would check only the first; the audit refuses to choose."""
    payload, blocks = split_signed_commit(newsroom.raw_commit(publish(newsroom, "twice", bob)))
    second = python_sign(bob, payload)
    oid = forge(newsroom, with_signature(payload, [blocks[0], second]))
    assert audit(newsroom, policy).violations == (
        Violation(oid, "", "signed", "the commit carries 2 signatures; exactly one is allowed"),
    )


def test_the_root_commit_answers_to_the_pinned_keys(
    newsroom: SignedRepo, alice: Key, bob: Key
) -> None:
    """A root has no parent whose signers file could let its key in: settings pin the key."""
    expected = Violation(
        newsroom.head(),
        "",
        "signed",
        f"a root commit must be signed by a key pinned in trusted_signers; {alice.fingerprint} "
        "is not",
    )
    assert audit(newsroom, AuditPolicy(trusted_signers=(bob.fingerprint,))).violations == (
        expected,
    )
    assert audit(newsroom, AuditPolicy()).violations == (expected,)


def test_the_root_commit_names_its_signer_in_its_own_file(
    tmp_path_factory: pytest.TempPathFactory, alice: Key, bob: Key
) -> None:
    repo = SignedRepo(tmp_path_factory.mktemp("root"))
    files = {ALLOWED: allowed_signers_text([(email_of(bob), bob)]), "content/README.md": "x\n"}
    root = repo.commit(files, "Signers", alice, email_of(alice))
    assert audit(repo, AuditPolicy(trusted_signers=(alice.fingerprint,))).violations == (
        Violation(
            root,
            "",
            "identity",
            f"key {alice.fingerprint} is not in {ALLOWED} in the root commit itself",
        ),
    )


def test_a_broken_signers_file_stops_everyone(
    newsroom: SignedRepo, policy: AuditPolicy, alice: Key, bob: Key
) -> None:
    broken = newsroom.commit(
        {ALLOWED: f"{email_of(alice)} {alice.public_line}\nbob@police.example\n"},
        "Typo",
        alice,
        email_of(alice),
    )
    after = publish(newsroom, "after", bob, day=2)
    problem = f"{ALLOWED}:2: missing key after the principals"
    assert audit(newsroom, policy).violations == (
        Violation(
            broken,
            ALLOWED,
            "policy",
            "leaves the signing policy unusable, so no later commit could be signed: "
            f"{problem} (principals [options] keytype base64-key [comment])",
        ),
        Violation(
            after,
            "",
            "signed",
            f"nobody may sign: {problem} (principals [options] keytype base64-key [comment]) "
            f"as in {broken[:12]}",
        ),
    )


def test_a_revocation_is_permanent(
    newsroom: SignedRepo, policy: AuditPolicy, alice: Key, dave: Key
) -> None:
    newsroom.commit({REVOKED: dave.public_line + "\n"}, "Revoke dave", alice, email_of(alice))
    undo = newsroom.commit({REVOKED: "# nobody\n"}, "Forgive dave", alice, email_of(alice))
    assert audit(newsroom, policy).violations == (
        Violation(
            undo,
            REVOKED,
            "policy",
            f"takes key {dave.fingerprint} out of the revoked keys; a revocation is permanent",
        ),
    )
