"""SSHSIG decoding and verification against signatures made by real git and ssh-keygen."""

from __future__ import annotations

import base64
import contextlib
import subprocess
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import sshsig
from audit.errors import KeyFormatError, SignatureFormatError
from audit.sshkeys import PublicKey
from audit.sshsig import SshSignature, parse_armored, parse_blob, split_signed_commit, verify
from tests.support.signing import (
    Key,
    SignedRepo,
    armor,
    isolated_env,
    python_sign,
    ssh_mpint,
    ssh_string,
    sshsig_blob,
    with_signature,
)

KINDS = ["ed25519", "ecdsa-256", "ecdsa-384", "ecdsa-521", "rsa"]


def signed(repo: SignedRepo, oid: str) -> tuple[bytes, SshSignature]:
    payload, blocks = split_signed_commit(repo.raw_commit(oid))
    assert len(blocks) == 1
    return payload, parse_armored(blocks[0])


@pytest.mark.parametrize("kind", KINDS)
def test_a_commit_signed_by_git_verifies(
    kind: str, keys: dict[str, Key], signed_repo: SignedRepo, signed_commits: dict[str, str]
) -> None:
    payload, sig = signed(signed_repo, signed_commits[kind])
    assert sig.public_key == keys[kind].public
    assert sig.namespace == "git"
    assert sig.hash_algorithm == "sha512"
    assert verify(sig, payload) is True


@pytest.mark.parametrize("kind", KINDS)
def test_a_signature_copied_onto_another_message_fails(
    kind: str, signed_repo: SignedRepo, signed_commits: dict[str, str]
) -> None:
    raw = signed_repo.raw_commit(signed_commits[kind])
    forged = raw.replace(b"signed with", b"SIGNED WITH")
    assert forged != raw
    oid = signed_repo.write_raw_commit(forged)
    payload, blocks = split_signed_commit(signed_repo.raw_commit(oid))
    assert verify(parse_armored(blocks[0]), payload) is False


def test_a_signature_copied_onto_another_tree_fails(
    signed_repo: SignedRepo, signed_commits: dict[str, str]
) -> None:
    first, second = signed_commits["ed25519"], signed_commits["rsa"]
    other_tree = signed_repo.git("rev-parse", f"{second}^{{tree}}").strip()
    raw = signed_repo.raw_commit(first)
    tree_line = raw.split(b"\n", 1)[0]
    forged = raw.replace(tree_line, b"tree " + other_tree, 1)
    assert forged != raw
    payload, blocks = split_signed_commit(forged)
    assert verify(parse_armored(blocks[0]), payload) is False


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa-256", "rsa"])
def test_a_signature_for_another_namespace_fails(
    kind: str, keys: dict[str, Key], signed_repo: SignedRepo, signed_commits: dict[str, str]
) -> None:
    payload, _ = signed(signed_repo, signed_commits[kind])
    block = signed_repo.sign(keys[kind], payload, "file")
    oid = signed_repo.write_raw_commit(with_signature(payload, [block]))
    payload_again, blocks = split_signed_commit(signed_repo.raw_commit(oid))
    assert payload_again == payload
    sig = parse_armored(blocks[0])
    assert sig.namespace == "file"
    assert verify(sig, payload) is False
    # The signature itself is sound: it is only the namespace that makes it fail.
    assert verify(sig, payload, namespace="file") is True


def test_two_signature_headers_give_two_blocks(
    keys: dict[str, Key],
    outsider: Key,
    signed_repo: SignedRepo,
    signed_commits: dict[str, str],
) -> None:
    payload, blocks = split_signed_commit(signed_repo.raw_commit(signed_commits["ed25519"]))
    second = signed_repo.sign(outsider, payload, "git")
    oid = signed_repo.write_raw_commit(with_signature(payload, [blocks[0], second]))
    payload_again, found = split_signed_commit(signed_repo.raw_commit(oid))
    assert payload_again == payload
    assert found == [blocks[0], second]
    assert [parse_armored(block).public_key for block in found] == [
        keys["ed25519"].public,
        outsider.public,
    ]


def test_the_other_object_formats_signature_header_is_not_signed(
    signed_repo: SignedRepo, signed_commits: dict[str, str]
) -> None:
    raw = signed_repo.raw_commit(signed_commits["ed25519"])
    payload, blocks = split_signed_commit(raw)
    extra = raw.replace(b"\n\n", b"\ngpgsig-sha256 first line\n second line\n\n", 1)
    assert split_signed_commit(extra) == (payload, blocks)
    # In a SHA-256 repository the roles swap, and git still signs neither header.
    assert split_signed_commit(extra, object_format="sha256") == (
        payload,
        [b"first line\nsecond line\n"],
    )


def test_an_unsigned_commit_is_its_own_payload() -> None:
    raw = b"tree 1234\nauthor a <a@x> 1 +0000\ncommitter a <a@x> 1 +0000\n\nmessage\n"
    assert split_signed_commit(raw) == (raw, [])


def test_the_message_is_payload_even_if_it_looks_like_a_header() -> None:
    raw = (
        b"tree 1234\ngpgsig -----BEGIN SSH SIGNATURE-----\n abc\n -----END SSH SIGNATURE-----\n"
        b"mergetag object 99\n type commit\n\ngpgsig in the message\n indented line\n"
    )
    payload, blocks = split_signed_commit(raw)
    assert payload == (
        b"tree 1234\nmergetag object 99\n type commit\n\ngpgsig in the message\n indented line\n"
    )
    assert blocks == [b"-----BEGIN SSH SIGNATURE-----\nabc\n-----END SSH SIGNATURE-----\n"]


@pytest.mark.parametrize("kind", KINDS)
def test_fingerprints_match_ssh_keygen(kind: str, keys: dict[str, Key]) -> None:
    key = keys[kind]
    assert key.public.fingerprint == key.fingerprint
    assert key.public.openssh() == " ".join(key.public_line.split()[:2])
    assert PublicKey.from_openssh(key.public.openssh()) == key.public


def test_sha256_signatures_verify_and_openssh_agrees(
    keys: dict[str, Key], signed_repo: SignedRepo
) -> None:
    message = b"a message hashed with sha256\n"
    block = python_sign(keys["ed25519"], message, hash_algorithm="sha256")
    sig = parse_armored(block)
    assert sig.hash_algorithm == "sha256"
    assert verify(sig, message) is True
    assert check_novalidate(signed_repo, block, message) is True


@pytest.mark.parametrize("algorithm", ["rsa-sha2-256", "rsa-sha2-512"])
def test_rsa_sha2_signatures_verify(algorithm: str, keys: dict[str, Key]) -> None:
    block = python_sign(keys["rsa"], b"m", signature_algorithm=algorithm)
    assert verify(parse_armored(block), b"m") is True


def test_rsa_sha1_signatures_are_refused_like_openssh(
    keys: dict[str, Key], signed_repo: SignedRepo
) -> None:
    block = python_sign(keys["rsa"], b"m", signature_algorithm="ssh-rsa")
    sig = parse_armored(block)
    assert sig.signature_algorithm == "ssh-rsa"
    assert verify(sig, b"m") is False
    assert check_novalidate(signed_repo, block, b"m") is False


def test_a_signature_algorithm_that_does_not_fit_the_key_fails(keys: dict[str, Key]) -> None:
    sig = parse_armored(python_sign(keys["ecdsa-256"], b"m"))
    assert verify(replace(sig, public_key=keys["ecdsa-384"].public), b"m") is False
    assert verify(replace(sig, signature_algorithm="ecdsa-sha2-nistp384"), b"m") is False


def test_the_reserved_field_is_ignored_like_openssh(
    keys: dict[str, Key], signed_repo: SignedRepo
) -> None:
    block = python_sign(keys["ed25519"], b"m", reserved=b"future tags")
    sig = parse_armored(block)
    assert sig.reserved == b"future tags"
    assert verify(sig, b"m") is True
    assert check_novalidate(signed_repo, block, b"m") is True


def test_a_signature_by_another_key_fails(keys: dict[str, Key], outsider: Key) -> None:
    sig = parse_armored(python_sign(keys["ed25519"], b"m"))
    assert verify(replace(sig, public_key=outsider.public), b"m") is False
    assert verify(replace(sig, hash_algorithm="md5"), b"m") is False


def check_novalidate(repo: SignedRepo, block: bytes, message: bytes) -> bool:
    """OpenSSH's own verdict on a signature, without any allowed-signers policy."""
    signature = repo.root / "check.sig"
    signature.write_bytes(block)
    result = subprocess.run(
        ["ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", str(signature)],
        input=message,
        capture_output=True,
        env=isolated_env(repo.home),
        check=False,
    )
    return result.returncode == 0


# --- malformed input -----------------------------------------------------------------------

ED25519_BLOB = ssh_string(b"ssh-ed25519") + ssh_string(bytes(range(32)))
GOOD = {
    "public_blob": ED25519_BLOB,
    "namespace": b"git",
    "hash_algorithm": b"sha512",
    "signature_algorithm": b"ssh-ed25519",
    "signature": bytes(64),
}


def blob(**changes: Any) -> bytes:
    return sshsig_blob(**{**GOOD, **changes})


def test_the_template_blob_is_well_formed() -> None:
    sig = parse_armored(armor(blob()))
    assert sig.namespace == "git"
    assert verify(sig, b"m") is False  # all-zero signature


CERT_BLOB = ssh_string(b"ssh-ed25519-cert-v01@openssh.com") + ssh_string(bytes(32))
SK_BLOB = ssh_string(b"sk-ssh-ed25519@openssh.com") + ssh_string(bytes(32))
P256_BLOB = ssh_string(b"ecdsa-sha2-nistp256") + ssh_string(b"nistp256")
BEGIN = b"-----BEGIN SSH SIGNATURE-----\n"
END = b"-----END SSH SIGNATURE-----\n"
BODY = base64.b64encode(blob())

MALFORMED_ARMOUR = {
    "empty": b"",
    "no header": BODY + b"\n" + END,
    "pgp header": b"-----BEGIN PGP SIGNATURE-----\n" + BODY + b"\n" + END,
    "no footer": BEGIN + BODY + b"\n",
    "text after the footer": BEGIN + BODY + b"\n" + END + b"more\n",
    "second block": BEGIN + BODY + b"\n" + END + BEGIN + BODY + b"\n" + END,
    "blank line": BEGIN + BODY + b"\n\n" + END,
    "CRLF": BEGIN.replace(b"\n", b"\r\n") + BODY + b"\r\n" + END,
    "not base64": BEGIN + b"!!!!" + b"\n" + END,
    "bad padding": BEGIN + BODY.rstrip(b"=") + b"\n" + END,
    "space in base64": BEGIN + BODY[:10] + b" " + BODY[10:] + b"\n" + END,
}

MALFORMED_BLOBS = {
    "bad magic": blob(magic=b"SSHSIH"),
    "version 0": blob(version=0),
    "version 2": blob(version=2),
    "truncated": blob()[:-5],
    "trailing data": blob() + b"\0",
    "empty namespace": blob(namespace=b""),
    "NUL in namespace": blob(namespace=b"git\0x"),
    "unknown hash": blob(hash_algorithm=b"sha1"),
    "unknown signature algorithm": blob(signature_algorithm=b"ssh-dss"),
    "short ed25519 signature": blob(signature=bytes(63)),
    "certificate key": blob(public_blob=CERT_BLOB),
    "security key": blob(public_blob=SK_BLOB),
    "DSA key": blob(public_blob=ssh_string(b"ssh-dss") + ssh_string(b"x")),
    "truncated key": blob(public_blob=ED25519_BLOB[:-1]),
    "key with trailing data": blob(public_blob=ED25519_BLOB + b"x"),
    "compressed P-256 point": blob(public_blob=P256_BLOB + ssh_string(b"\x02" + bytes(32))),
    "P-256 point off the curve": blob(public_blob=P256_BLOB + ssh_string(b"\x04" + bytes(64))),
    "RSA key too small": blob(
        public_blob=ssh_string(b"ssh-rsa") + ssh_mpint(65537) + ssh_mpint(2**511 + 1)
    ),
    "empty ECDSA value": blob(signature_algorithm=b"ecdsa-sha2-nistp256", signature=b""),
    "empty RSA signature": blob(signature_algorithm=b"rsa-sha2-256", signature=b""),
}


@pytest.mark.parametrize("block", MALFORMED_ARMOUR.values(), ids=MALFORMED_ARMOUR.keys())
def test_malformed_armour_is_refused(block: bytes) -> None:
    with pytest.raises(SignatureFormatError):
        parse_armored(block)


@pytest.mark.parametrize("data", MALFORMED_BLOBS.values(), ids=MALFORMED_BLOBS.keys())
def test_malformed_blobs_are_refused(data: bytes) -> None:
    with pytest.raises(SignatureFormatError):
        parse_armored(armor(data))


def test_malformed_ecdsa_values_are_refused(keys: dict[str, Key]) -> None:
    p256 = keys["ecdsa-256"].public.blob
    for value in (
        b"\x00\x00\x00\x01\x80" + ssh_mpint(1),  # negative r
        ssh_mpint(1) + b"\x00\x00\x00\x02\x00\x01",  # s with a needless leading zero
        ssh_mpint(1),  # no s
        ssh_mpint(1) + ssh_mpint(2) + b"x",  # trailing data
    ):
        data = blob(public_blob=p256, signature_algorithm=b"ecdsa-sha2-nistp256", signature=value)
        with pytest.raises(SignatureFormatError):
            parse_blob(data)


def test_error_messages_say_what_is_wrong() -> None:
    with pytest.raises(SignatureFormatError, match="unsupported SSHSIG version 2"):
        parse_blob(blob(version=2))
    with pytest.raises(SignatureFormatError, match="certificates are not accepted"):
        parse_blob(blob(public_blob=CERT_BLOB))
    with pytest.raises(KeyFormatError, match="security-key"):
        PublicKey.from_openssh("sk-ssh-ed25519@openssh.com AAAA")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_escape_as_other_errors(data: bytes) -> None:
    for block in (data, BEGIN + data + b"\n" + END, armor(data)):
        with contextlib.suppress(SignatureFormatError):
            parse_armored(block)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(blob()) - 1), st.integers(0, 255))
def test_corrupting_any_byte_is_refused_or_fails_to_verify(position: int, value: int) -> None:
    data = bytearray(blob())
    data[position] = value
    try:
        sig = parse_blob(bytes(data))
    except SignatureFormatError:
        return
    assert verify(sig, b"m") is False


# --- which library verifies an Ed25519 signature ------------------------------------------


@pytest.fixture
def fresh_checkers() -> Any:
    """The per-key checkers made anew, so that a test sees the path it sets up taken."""
    sshsig._checker.cache_clear()
    sshsig._openssl_checker.cache_clear()
    yield
    sshsig._checker.cache_clear()
    sshsig._openssl_checker.cache_clear()


def test_libsodium_alone_accepts_a_good_ed25519_signature(
    keys: dict[str, Key], fresh_checkers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_openssl(key: PublicKey) -> Any:
        raise AssertionError("OpenSSL was asked about a signature libsodium accepts")

    monkeypatch.setattr(sshsig, "_openssl_checker", no_openssl)
    assert verify(parse_armored(python_sign(keys["ed25519"], b"m")), b"m") is True


def test_a_bad_ed25519_signature_is_refused_by_both(
    keys: dict[str, Key], fresh_checkers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[PublicKey] = []
    openssl = sshsig._openssl_checker

    def counted(key: PublicKey) -> Any:
        asked.append(key)
        return openssl(key)

    monkeypatch.setattr(sshsig, "_openssl_checker", counted)
    sig = parse_armored(python_sign(keys["ed25519"], b"m"))
    assert verify(sig, b"another message") is False
    assert asked == [keys["ed25519"].public]


# The identity point as a key, and R = identity, S = 0 as the signature: [S]B = R + [h]A holds
# for every message. OpenSSH and OpenSSL check that equation and accept it; libsodium refuses
# small-order points before it. Git's verdict is OpenSSH's, so ours must be too.
SMALL_ORDER_KEY = b"\x01" + bytes(31)
SMALL_ORDER_SIGNATURE = SMALL_ORDER_KEY + bytes(32)


def test_a_signature_libsodium_refuses_but_openssh_accepts_is_accepted(
    signed_repo: SignedRepo, fresh_checkers: None
) -> None:
    from nacl.bindings import crypto_sign_open
    from nacl.exceptions import BadSignatureError

    with pytest.raises(BadSignatureError):
        crypto_sign_open(SMALL_ORDER_SIGNATURE + b"m", SMALL_ORDER_KEY)
    block = armor(
        blob(
            public_blob=ssh_string(b"ssh-ed25519") + ssh_string(SMALL_ORDER_KEY),
            signature=SMALL_ORDER_SIGNATURE,
        )
    )
    assert check_novalidate(signed_repo, block, b"m") is True
    assert verify(parse_armored(block), b"m") is True
