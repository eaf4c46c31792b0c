"""The quick readings of the usual commit and SSHSIG blob answer exactly as the careful ones."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.errors import SignatureFormatError
from audit.sshkeys import PublicKey
from audit.sshsig import (
    SIGNATURE_HEADERS,
    SshSignature,
    _parse_fields,
    _parse_usual,
    _split_lines,
    _split_usual,
    parse_armored,
    parse_blob,
    split_signed_commit,
    verify,
    verify_usual,
)
from tests.support.signing import (
    Key,
    armor,
    python_sign,
    ssh_string,
    sshsig_blob,
    with_signature,
)

ED25519_BLOB = ssh_string(b"ssh-ed25519") + ssh_string(bytes(range(32)))
USUAL = sshsig_blob(ED25519_BLOB, b"git", b"sha512", b"ssh-ed25519", bytes(range(64)))
PAYLOAD = (
    b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
    b"author a <a@police.example> 1700000000 +0000\n"
    b"committer a <a@police.example> 1700000000 +0000\n"
    b"\n"
    b"Amber: an alert\n"
)

# Lines a commit's headers may hold: whatever git writes, and what a forger might.
HEADER_LINES = st.sampled_from(
    [
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n",
        b"parent 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n",
        b"committer a <a@police.example> 1700000000 +0000\n",
        b"gpgsig -----BEGIN SSH SIGNATURE-----\n",
        b"gpgsig-sha256 -----BEGIN SSH SIGNATURE-----\n",
        b"gpgsigx y\n",
        b"gpgsig\n",
        b" continued\n",
        b"  two spaces\n",
        b" \n",
        b" -----END SSH SIGNATURE-----\n",
        b"\n",
        b"message gpgsig line\n",
        b"\ngpgsig in the message\n",
        b"no newline",
    ]
)


def outcome(parse: object, blob: bytes) -> SshSignature | str:
    assert callable(parse)
    try:
        result = parse(blob)
    except SignatureFormatError as error:
        return f"error: {error}"
    assert isinstance(result, SshSignature)
    return result


@settings(max_examples=500, deadline=None)
@given(st.lists(HEADER_LINES, max_size=12), st.sampled_from(["sha1", "sha256"]))
def test_the_quick_split_agrees_with_the_line_by_line_one(
    lines: list[bytes], object_format: str
) -> None:
    raw = b"".join(lines)
    own = SIGNATURE_HEADERS[object_format] + b" "
    quick = _split_usual(raw, own)
    if quick is not None:
        assert quick == _split_lines(raw, own)


def test_the_usual_signed_commit_takes_the_quick_split() -> None:
    raw = with_signature(PAYLOAD, [armor(USUAL)])
    assert _split_usual(raw, b"gpgsig ") is not None
    assert split_signed_commit(raw) == (PAYLOAD, [armor(USUAL)])


def test_the_usual_blob_takes_the_quick_reading() -> None:
    found = _parse_usual(USUAL)
    assert found is not None
    assert found == _parse_fields(USUAL)
    sha256 = sshsig_blob(ED25519_BLOB, b"git", b"sha256", b"ssh-ed25519", bytes(64))
    assert _parse_usual(sha256) == _parse_fields(sha256)


@settings(max_examples=1000, deadline=None)
@given(st.integers(min_value=0, max_value=len(USUAL) - 1), st.integers(0, 255))
def test_any_changed_byte_reads_the_same_both_ways(position: int, value: int) -> None:
    data = bytearray(USUAL)
    data[position] = value
    assert outcome(parse_blob, bytes(data)) == outcome(_parse_fields, bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(USUAL)), st.binary(max_size=3))
def test_added_or_missing_bytes_read_the_same_both_ways(position: int, extra: bytes) -> None:
    for data in (USUAL[:position] + extra + USUAL[position:], USUAL[:position]):
        assert outcome(parse_blob, data) == outcome(_parse_fields, data)


def careful(block: bytes, message: bytes, namespace: str = "git") -> tuple[PublicKey, bool] | str:
    try:
        signature = parse_armored(block)
    except SignatureFormatError as error:
        return f"error: {error}"
    return signature.public_key, verify(signature, message, namespace)


@pytest.fixture(scope="module")
def usual_block(keys: dict[str, Key]) -> bytes:
    return python_sign(keys["ed25519"], PAYLOAD)


@pytest.mark.parametrize("hash_algorithm", ["sha512", "sha256"])
def test_the_usual_block_takes_the_quick_check_and_verifies(
    keys: dict[str, Key], hash_algorithm: str
) -> None:
    block = python_sign(keys["ed25519"], PAYLOAD, hash_algorithm=hash_algorithm)
    assert verify_usual(block, PAYLOAD) == (keys["ed25519"].public, True)
    assert verify_usual(block, PAYLOAD + b"x") == (keys["ed25519"].public, False)
    assert careful(block, PAYLOAD + b"x") == verify_usual(block, PAYLOAD + b"x")


def test_other_blocks_are_left_to_the_careful_check(keys: dict[str, Key]) -> None:
    usual = python_sign(keys["ed25519"], PAYLOAD)
    assert verify_usual(usual, PAYLOAD, namespace="file") is None
    others = [
        python_sign(keys["ed25519"], PAYLOAD, namespace="file"),
        python_sign(keys["ed25519"], PAYLOAD, reserved=b"future"),
        python_sign(keys["ecdsa-256"], PAYLOAD),
        python_sign(keys["rsa"], PAYLOAD),
        usual.replace(b"\n", b"\n\n", 2),
        usual + b"\n",
        usual[:-1] + b" ",
        usual.replace(b"-----\n", b"-----\n-----BEGIN SSH SIGNATURE-----\n", 1),
    ]
    for block in others:
        assert verify_usual(block, PAYLOAD) is None


@settings(max_examples=1000, deadline=None)
@given(data=st.data())
def test_any_changed_byte_of_the_armour_checks_the_same_both_ways(
    usual_block: bytes, data: st.DataObject
) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(usual_block) - 1))
    value = data.draw(st.sampled_from(b"AQZaz09+/=\n -x\0" + bytes([usual_block[position] ^ 1])))
    block = bytearray(usual_block)
    block[position] = value
    quick = verify_usual(bytes(block), PAYLOAD)
    if quick is not None:
        assert quick == careful(bytes(block), PAYLOAD)
