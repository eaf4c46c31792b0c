"""SSH signatures on git commits: find them in a commit, decode SSHSIG, verify in-process."""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal, Protocol, TypeAlias

from .errors import KeyFormatError, SignatureFormatError
from .sshkeys import ECDSA_CURVES, ED25519, RSA, PublicKey, WireReader

ARMOR_BEGIN: Final = b"-----BEGIN SSH SIGNATURE-----\n"
ARMOR_END: Final = b"\n-----END SSH SIGNATURE-----"
MAGIC: Final = b"SSHSIG"
VERSION: Final = 1


class _Digest(Protocol):
    def digest(self) -> bytes: ...


HASHES: Final[dict[str, Callable[[bytes], _Digest]]] = {
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}

# The RSA signature algorithms OpenSSH's sshsig accepts, with their hashes; plain "ssh-rsa"
# (SHA-1) is refused.
RSA_SIGNATURES: Final = {"rsa-sha2-256": "sha256", "rsa-sha2-512": "sha512"}
ECDSA_HASHES: Final = {
    "ecdsa-sha2-nistp256": "sha256",
    "ecdsa-sha2-nistp384": "sha384",
    "ecdsa-sha2-nistp521": "sha512",
}
SIGNATURE_ALGORITHMS: Final = frozenset({ED25519, "ssh-rsa", *RSA_SIGNATURES, *ECDSA_HASHES})

# Git names the commit signature header after the repository's object format.
SIGNATURE_HEADERS: Final = {"sha1": b"gpgsig", "sha256": b"gpgsig-sha256"}
_ANY_SIGNATURE_HEADER: Final = b"gpgsig"


@dataclass(frozen=True)
class SshSignature:
    """One decoded SSHSIG blob (PROTOCOL.sshsig section 2)."""

    public_key: PublicKey
    namespace: str
    hash_algorithm: str
    signature_algorithm: str
    signature: bytes
    reserved: bytes


def split_signed_commit(
    raw: bytes, *, object_format: Literal["sha1", "sha256"] = "sha1"
) -> tuple[bytes, list[bytes]]:
    """The bytes a commit's signature covers, and each signature block found in its headers.

    Mirrors git's parse_buffer_signed_by_header(): the payload is the commit without its own
    signature headers (`gpgsig` in a SHA-1 repository) and without the other object format's
    (`gpgsig-sha256`, or any header that merely starts with "gpgsig"), continuation lines
    included. Git concatenates repeated signature headers into one buffer, and ssh-keygen then
    reads only the first block of it; we return each header as its own block so that the
    caller can refuse a commit that carries more than one.
    """
    own = SIGNATURE_HEADERS[object_format] + b" "
    return _split_usual(raw, own) or _split_lines(raw, own)


def _split_lines(raw: bytes, own: bytes) -> tuple[bytes, list[bytes]]:
    """`split_signed_commit` line by line, for any commit."""
    payload = bytearray()
    blocks: list[bytearray] = []
    current: bytearray | None = None
    in_other_signature = False
    pos = 0
    size = len(raw)
    while pos < size:
        newline = raw.find(b"\n", pos)
        end = size if newline < 0 else newline + 1
        line = raw[pos:end]
        if current is not None and line.startswith(b" "):
            current += line[1:]
        elif line.startswith(own):
            current = bytearray(line[len(own) :])
            blocks.append(current)
            in_other_signature = False
        else:
            current = None
            if line.startswith(_ANY_SIGNATURE_HEADER):
                in_other_signature = True
            elif in_other_signature and not line.startswith(b" "):
                in_other_signature = False
            if line == b"\n":
                # The blank line ends the headers: the message is signed as it stands.
                payload += raw[pos:]
                break
            if not in_other_signature:
                payload += line
        pos = end
    return bytes(payload), [bytes(block) for block in blocks]


def _split_usual(raw: bytes, own: bytes) -> tuple[bytes, list[bytes]] | None:
    """`split_signed_commit` for the usual commit, in a few searches instead of a loop over
    its lines: headers holding at most one signature header, of our own format and not the
    first line. None for any other commit, which the line-by-line reading then handles."""
    end = raw.find(b"\n\n")  # the blank line that ends the headers follows it
    if end < 0 or raw.startswith((b"\n", _ANY_SIGNATURE_HEADER)):
        return None
    marker = b"\n" + _ANY_SIGNATURE_HEADER
    start = raw.find(marker, 0, end)
    if start < 0:
        return raw, []
    start += 1
    if raw.find(marker, start, end) >= 0 or not raw.startswith(own, start):
        return None
    stop = raw.find(b"\n", start)
    while raw.startswith(b" ", stop + 1):  # continuation lines; the blank line stops them
        stop = raw.find(b"\n", stop + 1)
    stop += 1
    block = raw[start + len(own) : stop].replace(b"\n ", b"\n")
    return raw[:start] + raw[stop:], [block]


def verify_usual(
    block: bytes, message: bytes, namespace: str = "git"
) -> tuple[PublicKey, bool] | None:
    """`verify(parse_armored(block), message, namespace)` and the key that signed, for the
    usual block (the usual blob, see _parse_usual, armoured in lines of base64 alone), in a
    few steps rather than each field read and checked apart: a first audit verifies every
    commit. None for any other block, which parse_armored and verify then read carefully."""
    armour = _USUAL_ARMOUR.fullmatch(block)
    if armour is None or namespace != _USUAL_NAMESPACE:
        return None
    try:
        blob = binascii.a2b_base64(armour[1].replace(b"\n", b""), strict_mode=True)
    except binascii.Error:
        return None
    if len(blob) != _USUAL_SIZE or not blob.startswith(_USUAL_HEAD):
        return None
    hash_algorithm = _USUAL_MIDDLES.get(blob[_USUAL_KEY_END : _USUAL_KEY_END + _USUAL_MIDDLE_SIZE])
    if hash_algorithm is None:
        return None
    try:
        key = _usual_key(blob[_USUAL_KEY_START:_USUAL_KEY_END])
    except KeyFormatError:
        return None
    digest = HASHES[hash_algorithm](message).digest()
    signed = _signed_prefix(namespace, hash_algorithm) + _string(digest)
    return key, _checker(key)(ED25519, blob[-_ED25519_SIGNATURE_SIZE:], signed)


def parse_armored(block: bytes) -> SshSignature:
    """Decode an armored `-----BEGIN SSH SIGNATURE-----` block; strict about every byte."""
    if not block.startswith(ARMOR_BEGIN):
        raise SignatureFormatError("signature: does not start with -----BEGIN SSH SIGNATURE-----")
    body = block[len(ARMOR_BEGIN) :]
    if body.endswith(b"\n"):
        body = body[:-1]
    if not body.endswith(ARMOR_END):
        raise SignatureFormatError(
            "signature: does not end with -----END SSH SIGNATURE----- (nothing may follow it)"
        )
    inside = body[: -len(ARMOR_END)]
    if ARMOR_BEGIN.strip() in inside:
        raise SignatureFormatError("signature: more than one signature inside one armour")
    lines = inside.split(b"\n")
    if any(not line for line in lines):
        raise SignatureFormatError("signature: empty line inside the armour")
    try:
        blob = binascii.a2b_base64(b"".join(lines), strict_mode=True)
    except binascii.Error:
        raise SignatureFormatError("signature: the armour is not valid base64") from None
    return parse_blob(blob)


def parse_blob(blob: bytes) -> SshSignature:
    """Decode a binary SSHSIG blob: magic, version 1, key, namespace, reserved, hash, signature."""
    return _parse_usual(blob) or _parse_fields(blob)


def _parse_fields(blob: bytes) -> SshSignature:
    """`parse_blob` field by field, for any blob: says what is wrong with a bad one."""
    reader = WireReader(blob, "signature", SignatureFormatError)
    if reader.fixed(len(MAGIC)) != MAGIC:
        raise reader.fail("missing the SSHSIG magic")
    version = reader.uint32()
    # OpenSSH accepts any version up to its own (so 0 as well); we want exactly the one we know.
    if version != VERSION:
        raise reader.fail(f"unsupported SSHSIG version {version} (only {VERSION} is known)")
    key_blob = reader.string()
    namespace = reader.text()
    reserved = reader.string()
    hash_algorithm = reader.text()
    wrapped = reader.string()
    reader.end()
    try:
        public_key = PublicKey.from_blob(key_blob)
    except KeyFormatError as error:
        raise SignatureFormatError(f"signature: {error}") from None
    if not namespace:
        raise reader.fail("empty namespace")
    if hash_algorithm not in HASHES:
        raise reader.fail(f"unknown hash algorithm {hash_algorithm!r} (sha256 or sha512)")
    inner = WireReader(wrapped, "signature value", SignatureFormatError)
    signature_algorithm = inner.text()
    signature = inner.string()
    inner.end()
    if signature_algorithm not in SIGNATURE_ALGORITHMS:
        raise inner.fail(f"unknown signature algorithm {signature_algorithm!r}")
    _check_shape(signature_algorithm, signature)
    return SshSignature(
        public_key=public_key,
        namespace=namespace,
        hash_algorithm=hash_algorithm,
        signature_algorithm=signature_algorithm,
        signature=signature,
        reserved=reserved,
    )


def _parse_usual(blob: bytes) -> SshSignature | None:
    """`parse_blob` for what git and ssh-keygen write nearly always (an Ed25519 signature in
    the git namespace, empty reserved field, SHA-512 or SHA-256) by comparing the blob with
    its template; None for any other blob, which the field-by-field reading then handles."""
    if len(blob) != _USUAL_SIZE or not blob.startswith(_USUAL_HEAD):
        return None
    middle = blob[_USUAL_KEY_END : _USUAL_KEY_END + _USUAL_MIDDLE_SIZE]
    hash_algorithm = _USUAL_MIDDLES.get(middle)
    if hash_algorithm is None:
        return None
    try:
        public_key = _usual_key(blob[_USUAL_KEY_START:_USUAL_KEY_END])
    except KeyFormatError:
        return None  # not a point of the curve: the careful reading says so
    return SshSignature(
        public_key=public_key,
        namespace=_USUAL_NAMESPACE,
        hash_algorithm=hash_algorithm,
        signature_algorithm=ED25519,
        signature=blob[-_ED25519_SIGNATURE_SIZE:],
        reserved=b"",
    )


@lru_cache(maxsize=256)
def _usual_key(blob: bytes) -> PublicKey:
    # A history is signed by a few keys: each is decoded and checked once.
    return PublicKey.from_blob(blob)


def verify(sig: SshSignature, message: bytes, namespace: str = "git") -> bool:
    """True if `sig` is a valid signature of `message` in `namespace` by `sig.public_key`.

    False for any signature that decodes but does not verify: wrong namespace, key and
    signature algorithms that do not fit, SHA-1 RSA, tampered message. Whether the key is
    allowed to sign is for the allowed-signers policy, not for this function.
    """
    if sig.namespace != namespace or sig.hash_algorithm not in HASHES:
        return False
    if not _algorithms_fit(sig.public_key.algorithm, sig.signature_algorithm):
        return False
    digest = HASHES[sig.hash_algorithm](message).digest()
    # OpenSSH verifies against an empty reserved field whatever the blob carries
    # (sshsig_wrap_verify), as the spec says to ignore it; we do the same so that our
    # verdicts match `git verify-commit` byte for byte.
    signed = _signed_prefix(namespace, sig.hash_algorithm) + _string(digest)
    return _checker(sig.public_key)(sig.signature_algorithm, sig.signature, signed)


def load_cryptography() -> None:
    """Load what verifying takes now, rather than in each worker forked after this."""
    import nacl.bindings  # noqa: F401
    from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: F401


# Whether a signature (by its algorithm and value) is valid over the signed data.
_Check: TypeAlias = Callable[[str, bytes, bytes], bool]


@lru_cache(maxsize=1024)
def _checker(key: PublicKey) -> _Check:
    """How signatures by `key` are checked, made once per key.

    An Ed25519 key (nearly every commit) is checked by libsodium, in about half the time
    OpenSSL takes. libsodium refuses some signatures that OpenSSH accepts (a small-order key
    or R, a non-canonical key encoding) and accepts none that OpenSSL refuses: both check the
    same equation on the same encodings, libsodium with more checks before it. So a signature
    libsodium refuses is asked of OpenSSL, and every verdict is OpenSSL's, as before.
    """
    if key.algorithm == ED25519:
        return _sodium_checker(key)
    return _openssl_checker(key)


def _sodium_checker(key: PublicKey) -> _Check:
    # Imported here, not at the top: a build that finds every verdict in its cache verifies
    # nothing and need not load it.
    from nacl.bindings import crypto_sign_open
    from nacl.exceptions import CryptoError

    raw = key.blob[-_ED25519_KEY_SIZE:]  # the blob ends with the 32-byte key (RFC 8709)

    def check_ed25519(algorithm: str, signature: bytes, signed: bytes) -> bool:
        try:
            # libsodium takes the signature followed by the message it covers.
            crypto_sign_open(signature + signed, raw)
        except CryptoError:
            return _openssl_checker(key)(algorithm, signature, signed)
        return True

    return check_ed25519


@lru_cache(maxsize=1024)
def _openssl_checker(key: PublicKey) -> _Check:
    """How OpenSSL (through cryptography) checks signatures by `key`, made once per key.

    cryptography is imported here (and where sshkeys builds its keys), not at the top, for
    the reason _sodium_checker gives.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    crypto = key.to_crypto()
    digests = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}

    def check(algorithm: str, signature: bytes, signed: bytes) -> bool:
        try:
            if isinstance(crypto, Ed25519PublicKey):
                crypto.verify(signature, signed)
            elif isinstance(crypto, ec.EllipticCurvePublicKey):
                r, s = _ecdsa_pair(signature)
                ecdsa = ec.ECDSA(digests[ECDSA_HASHES[algorithm]])
                crypto.verify(encode_dss_signature(r, s), signed, ecdsa)
            else:
                size = (crypto.key_size + 7) // 8
                if len(signature) > size:
                    return False
                # OpenSSH pads a short signature (leading zero bytes dropped by some
                # signers); so do we.
                padded = signature.rjust(size, b"\0")
                hash_algorithm = digests[RSA_SIGNATURES[algorithm]]
                crypto.verify(padded, signed, padding.PKCS1v15(), hash_algorithm)
        except InvalidSignature:
            return False
        return True

    return check


@lru_cache(maxsize=16)
def _signed_prefix(namespace: str, hash_algorithm: str) -> bytes:
    """What the signed data starts with, the same for every commit (PROTOCOL.sshsig 3)."""
    return b"".join(
        (
            MAGIC,
            _string(namespace.encode("utf-8")),
            _string(b""),
            _string(hash_algorithm.encode("ascii")),
        )
    )


def _algorithms_fit(key_algorithm: str, signature_algorithm: str) -> bool:
    if key_algorithm == RSA:
        return signature_algorithm in RSA_SIGNATURES
    return key_algorithm == signature_algorithm


def _check_shape(algorithm: str, signature: bytes) -> None:
    if algorithm == ED25519:
        if len(signature) != 64:
            raise SignatureFormatError("signature value: an Ed25519 signature is 64 bytes")
    elif algorithm in ECDSA_CURVES:
        _ecdsa_pair(signature)
    elif not signature:
        raise SignatureFormatError("signature value: empty RSA signature")


def _ecdsa_pair(signature: bytes) -> tuple[int, int]:
    reader = WireReader(signature, "ECDSA signature value", SignatureFormatError)
    r = reader.mpint()
    s = reader.mpint()
    reader.end()
    return r, s


def _string(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


# The usual blob (see _parse_usual): magic, version 1, the 51-byte Ed25519 key blob, then
# namespace "git", an empty reserved field, the hash name, and the 64-byte signature.
_USUAL_NAMESPACE: Final = "git"
_ED25519_SIGNATURE_SIZE: Final = 64
_ED25519_KEY_SIZE: Final = 32
_USUAL_HEAD: Final = b"".join(
    (MAGIC, VERSION.to_bytes(4, "big"), (51).to_bytes(4, "big"), _string(ED25519.encode()))
) + (32).to_bytes(4, "big")
_USUAL_KEY_START: Final = len(MAGIC) + 8
_USUAL_KEY_END: Final = len(_USUAL_HEAD) + _ED25519_KEY_SIZE
_USUAL_MIDDLES: Final = {
    b"".join(
        (
            _string(_USUAL_NAMESPACE.encode()),
            _string(b""),
            _string(name.encode()),
            (4 + len(ED25519) + 4 + _ED25519_SIGNATURE_SIZE).to_bytes(4, "big"),
            _string(ED25519.encode()),
            _ED25519_SIGNATURE_SIZE.to_bytes(4, "big"),
        )
    ): name
    for name in HASHES
}
_USUAL_MIDDLE_SIZE: Final = len(next(iter(_USUAL_MIDDLES)))
_USUAL_SIZE: Final = _USUAL_KEY_END + _USUAL_MIDDLE_SIZE + _ED25519_SIGNATURE_SIZE
# An armour parse_armored accepts as it stands: lines of base64 characters only (so neither
# empty nor holding a second BEGIN line), whose joined text it then decodes the same way.
_USUAL_ARMOUR: Final = re.compile(
    re.escape(ARMOR_BEGIN) + rb"((?:[A-Za-z0-9+/=]+\n)+)" + re.escape(ARMOR_END[1:]) + rb"\n?"
)
