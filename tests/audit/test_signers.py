"""Allowed-signers and revoked-keys files: what they mean, and every way a line can be wrong."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.errors import PolicyFileError
from audit.signers import (
    AllowedSigner,
    parse_allowed_signers,
    parse_revoked_keys,
    signers_for,
    valid_at,
)
from audit.sshkeys import PublicKey
from tests.support.signing import Key, isolated_env, ssh_sign

PATH = "policy/allowed_signers"


def fixed_key(seed: int) -> PublicKey:
    """A real Ed25519 public key that is the same in every run."""
    private = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    text = private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    return PublicKey.from_openssh(text)


KEY_A = fixed_key(1)
KEY_B = fixed_key(2)
A = KEY_A.openssh()
B = KEY_B.openssh()


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_a_good_file_with_options_patterns_and_comments() -> None:
    text = (
        "# Cascade editors\n"
        "\n"
        f"alice@police.example,alice@backup.example {A}\n"
        f'\t  bob@police.example namespaces="git,file" {B} bob\'s laptop\n'
        f'*@press.example,!intern@press.example NAMESPACES="git" {A}\n'
        f'dave@police.example valid-after="20240101Z",valid-before="20241231235959Z" {B}\r\n'
        f'erin@police.example Valid-After="202401021200Z" {A}\n'
        "   # an indented comment\n"
    )
    signers = parse_allowed_signers(text, PATH)
    assert signers == (
        AllowedSigner(("alice@police.example", "alice@backup.example"), KEY_A, None, None, None, 3),
        AllowedSigner(("bob@police.example",), KEY_B, ("git", "file"), None, None, 4),
        AllowedSigner(("*@press.example", "!intern@press.example"), KEY_A, ("git",), None, None, 5),
        AllowedSigner(
            ("dave@police.example",),
            KEY_B,
            None,
            utc(2024, 1, 1),
            utc(2024, 12, 31, 23, 59, 59),
            6,
        ),
        AllowedSigner(("erin@police.example",), KEY_A, None, utc(2024, 1, 2, 12, 0), None, 7),
    )


def test_an_empty_file_allows_nobody() -> None:
    assert parse_allowed_signers("", PATH) == ()
    assert parse_allowed_signers("# nobody yet\n\n", PATH) == ()


ALLOWED_LINE = "principals [options] keytype base64-key [comment]"
OPTIONS = 'namespaces="...", valid-after="...", valid-before="..." separated by commas'
TIMES = "YYYYMMDDZ, YYYYMMDDHHMMZ or YYYYMMDDHHMMSSZ"
KEYS = "one ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa public key"
KEY_SUFFIX = "use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa"
A_BASE64 = A.split()[1]

BAD_LINES = {
    "cert-authority": (
        f"*@police.example cert-authority {A}",
        "cert-authority is not supported"
        " (certificates are not accepted; list each signer's own public key)",
    ),
    "local time": (
        f'alice@x valid-after="20240101" {A}',
        f'valid-after="20240101": times must be written with Z (UTC) ({TIMES})',
    ),
    "UTC suffix": (
        f'alice@x valid-before="20240101UTC" {A}',
        f'valid-before="20240101UTC": times must be written with Z (UTC) ({TIMES})',
    ),
    "short time": (
        f'alice@x valid-after="2024010Z" {A}',
        f'valid-after="2024010Z" is not a time ({TIMES})',
    ),
    "impossible date": (
        f'alice@x valid-before="20241301Z" {A}',
        f'valid-before="20241301Z" is not a valid date or time ({TIMES})',
    ),
    "unquoted value": (
        f"alice@x valid-after=20240101Z {A}",
        'the value of valid-after must be in double quotes (valid-after="...")',
    ),
    "unclosed quote": (
        f'alice@x namespaces="git {A}',
        'the value of namespaces has no closing quote (namespaces="...")',
    ),
    "option twice": (
        f'alice@x namespaces="git",namespaces="file" {A}',
        "namespaces is given twice (each option at most once)",
    ),
    "unknown option": (
        f"alice@x no-touch-required {A}",
        f"unknown option 'no-touch-required' ({OPTIONS})",
    ),
    "trailing comma": (
        f'alice@x namespaces="git", {A}',
        f"the options end with a comma ({OPTIONS})",
    ),
    "text after a value": (
        f'alice@x namespaces="git"x {A}',
        f"unexpected 'x' after namespaces ({OPTIONS})",
    ),
    "empty namespace": (
        f'alice@x namespaces="git,,file" {A}',
        f'empty namespace in namespaces="git,,file" ({OPTIONS})',
    ),
    "window inverted": (
        f'alice@x valid-after="20250101Z",valid-before="20240101Z" {A}',
        "valid-before is not later than valid-after (valid-after < valid-before)",
    ),
    "principals only": (
        "alice@x",
        f"missing key after the principals ({ALLOWED_LINE})",
    ),
    "options only": (
        'alice@x namespaces="git"',
        f"missing key after the options ({ALLOWED_LINE})",
    ),
    "empty principal": (
        f"alice@x,,bob@x {A}",
        "empty principal in 'alice@x,,bob@x' (comma-separated USER@DOMAIN patterns)",
    ),
    "quoted principal": (
        f'"alice x@y" {A}',
        "quoted principals are not supported (comma-separated USER@DOMAIN patterns)",
    ),
    "bad base64": (
        "alice@x ssh-ed25519 AAAA!!",
        f"public key: ssh-ed25519 key is not valid base64 ({KEYS})",
    ),
    "no base64": (
        "alice@x ssh-ed25519",
        f"public key: expected 'keytype base64-key', got 'ssh-ed25519' ({KEYS})",
    ),
    "DSA key": (
        "alice@x ssh-dss AAAA",
        f"public key: ssh-dss (DSA) keys are not accepted; {KEY_SUFFIX} ({KEYS})",
    ),
    "certificate": (
        "alice@x ssh-ed25519-cert-v01@openssh.com AAAA",
        "public key: ssh-ed25519-cert-v01@openssh.com is a certificate;"
        f" certificates are not accepted; {KEY_SUFFIX} ({KEYS})",
    ),
    "security key": (
        "alice@x sk-ssh-ed25519@openssh.com AAAA",
        "public key: sk-ssh-ed25519@openssh.com is a security-key (FIDO) key;"
        f" these are not accepted; {KEY_SUFFIX} ({KEYS})",
    ),
    "type disagrees with key": (
        f"alice@x ssh-rsa {A_BASE64}",
        f"public key: the text says ssh-rsa but the key inside is ssh-ed25519 ({KEYS})",
    ),
    "truncated key": (
        f"alice@x ssh-ed25519 {A_BASE64[:-8]}",
        f"ssh-ed25519 public key: truncated ({KEYS})",
    ),
}


@pytest.mark.parametrize(("line", "message"), BAD_LINES.values(), ids=BAD_LINES.keys())
def test_each_bad_line_is_named_with_what_is_wrong(line: str, message: str) -> None:
    text = f"# editors\nalice@x {A}\n{line}\nbob@x {B}\n"
    with pytest.raises(PolicyFileError) as caught:
        parse_allowed_signers(text, PATH)
    assert (caught.value.path, caught.value.line) == (PATH, 3)
    assert str(caught.value) == f"{PATH}:3: {message}"


def test_line_numbers_count_only_newlines() -> None:
    # str.splitlines() would also split at the form feed and the line separator, and report
    # the broken line as line 5.
    text = f"alice@x {A} comment\x0cwith a form feed\nbob@x {B} bob\u2028s key\nbroken\n"
    with pytest.raises(PolicyFileError) as caught:
        parse_allowed_signers(text, PATH)
    assert caught.value.line == 3


SIGNER = AllowedSigner(
    ("dave@police.example",), KEY_A, None, utc(2024, 1, 1), utc(2024, 6, 30, 12, 0, 0), 1
)


@pytest.mark.parametrize(
    ("when", "valid"),
    [
        (utc(2023, 12, 31, 23, 59, 59), False),
        (utc(2024, 1, 1), True),  # valid-after is inclusive, as in OpenSSH
        (utc(2024, 3, 1), True),
        (utc(2024, 6, 30, 12, 0, 0), True),  # so is valid-before
        (utc(2024, 6, 30, 12, 0, 1), False),
        (datetime(2024, 6, 30, 14, 0, 0, tzinfo=UTC) + timedelta(hours=-2), True),
    ],
)
def test_valid_after_and_before_include_their_bounds(when: datetime, valid: bool) -> None:
    assert valid_at(SIGNER, when) is valid


def test_a_signer_without_bounds_is_always_valid() -> None:
    always = AllowedSigner(("a@x",), KEY_A, None, None, None, 1)
    assert valid_at(always, utc(1970, 1, 1)) is True
    assert valid_at(always, utc(2999, 1, 1)) is True


def test_valid_at_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        valid_at(SIGNER, datetime(2024, 3, 1))


FILE = parse_allowed_signers(
    "\n".join(
        [
            f"alice@police.example {A}",
            f'*@press.example,!intern@press.example namespaces="git,f*" {B}',
            f'bob@police.example namespaces="file" {A}',
            f"a[1]@x {A}",
        ]
    ),
    PATH,
)


@pytest.mark.parametrize(
    ("key", "principal", "namespace", "lines"),
    [
        (KEY_A, "alice@police.example", "git", [1]),
        (KEY_B, "alice@police.example", "git", []),  # someone else's key
        (KEY_A, "mallory@police.example", "git", []),
        (KEY_B, "spokes@press.example", "git", [2]),
        (KEY_B, "spokes@press.example", "files", [2]),
        (KEY_B, "spokes@press.example", "email", []),
        (KEY_B, "intern@press.example", "git", []),  # excluded by the ! pattern
        (KEY_A, "bob@police.example", "git", []),  # that line is for files only
        (KEY_A, "bob@police.example", "file", [3]),
        (KEY_A, "a[1]@x", "git", [4]),  # OpenSSH patterns have no [classes]
        (KEY_A, "a1@x", "git", []),
    ],
)
def test_signers_for_matches_key_principal_and_namespace(
    key: PublicKey, principal: str, namespace: str, lines: list[int]
) -> None:
    found = signers_for(FILE, key, principal, namespace)
    assert [signer.line for signer in found] == lines


def test_revoked_keys_are_read_as_fingerprints() -> None:
    text = f"# revoked after the laptop theft\n\n{A} old laptop\n  {B}\n"
    assert parse_revoked_keys(text, "policy/revoked") == {KEY_A.fingerprint, KEY_B.fingerprint}
    assert parse_revoked_keys("", "policy/revoked") == frozenset()


def test_a_bad_revoked_key_line_is_named() -> None:
    with pytest.raises(PolicyFileError) as caught:
        parse_revoked_keys(f"{A}\nnot a key\n", "policy/revoked")
    assert str(caught.value) == (
        "policy/revoked:2: public key: unknown key type 'not';"
        f" use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa ({KEYS})"
    )


def test_binary_revocation_lists_are_refused() -> None:
    with pytest.raises(PolicyFileError, match="binary key revocation lists are not supported"):
        parse_revoked_keys("SSHKRL\n\0\0\0\x01", "policy/revoked")


# OpenSSH's own verdict for the same lines: where both of us accept a file, we must agree on
# who may sign; where OpenSSH refuses a line, so must we.
AGREEMENT = [
    "alice@x {key}",
    "*@x {key}",
    "a?ice@x {key}",
    "bob@x,alice@x {key}",
    "*@x,!alice@x {key}",
    "bob@x {key}",
    'alice@x namespaces="git" {key}',
    'alice@x namespaces="file" {key}',
    'alice@x namespaces="g*" {key}',
    'alice@x namespaces="*,!git" {key}',
    'alice@x valid-after="20240101Z" {key}',
    'alice@x valid-after="20250101Z" {key}',
    'alice@x VALID-BEFORE="20240531235959Z" {key}',
    'alice@x valid-before="20240601000000Z" {key}',
    'alice@x valid-after="20240101Z",valid-before="20990101Z" {key}',
    'alice@x valid-after="20250101Z",valid-before="20240101Z" {key}',
    "alice@x valid-after=20240101Z {key}",
    "alice@x namespaces=git {key}",
    "alice@x cert-authority {key}",
    "alice@x restrict {key}",
]
# Lines OpenSSH accepts and we refuse on purpose: a time without Z, which OpenSSH reads in the
# verifier's local zone, and an empty principal, which is always a typo.
STRICTER = [
    'alice@x valid-after="20240101" {key}',
    "alice@x,,bob@x {key}",
]
VERIFY_TIME = utc(2024, 6, 1)


def openssh_accepts(line: str, key: Key, tmp_path: Path) -> bool:
    """Whether `ssh-keygen -Y verify` lets `key` sign as alice@x in namespace git on 1 June."""
    policy = tmp_path / "allowed_signers"
    policy.write_text(line + "\n")
    signature = tmp_path / "message.sig"
    signature.write_bytes(ssh_sign(key, b"message", "git", tmp_path / "home"))
    result = subprocess.run(
        [
            *("ssh-keygen", "-Y", "verify", "-f", str(policy), "-I", "alice@x", "-n", "git"),
            *("-s", str(signature), "-Overify-time=20240601000000"),
        ],
        input=b"message",
        capture_output=True,
        env=isolated_env(tmp_path / "home"),
        check=False,
    )
    return result.returncode == 0


@pytest.mark.parametrize("template", AGREEMENT)
def test_openssh_agrees_on_who_may_sign(
    template: str, keys: dict[str, Key], tmp_path: Path
) -> None:
    key = keys["ed25519"]
    line = template.format(key=key.public_line)
    try:
        signers = parse_allowed_signers(line, PATH)
    except PolicyFileError:
        ours = False
    else:
        found = signers_for(signers, key.public, "alice@x", "git")
        ours = any(valid_at(signer, VERIFY_TIME) for signer in found)
    assert ours is openssh_accepts(line, key, tmp_path)


@pytest.mark.parametrize("template", STRICTER)
def test_where_we_are_stricter_than_openssh(
    template: str, keys: dict[str, Key], tmp_path: Path
) -> None:
    line = template.format(key=keys["ed25519"].public_line)
    assert openssh_accepts(line, keys["ed25519"], tmp_path)
    with pytest.raises(PolicyFileError):
        parse_allowed_signers(line, PATH)
