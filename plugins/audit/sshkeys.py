"""SSH public keys: the wire format, OpenSSH's one-line text form, fingerprints, crypto objects."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Final, TypeAlias

from .errors import AuditError, KeyFormatError

if TYPE_CHECKING:
    # Only for type hints: cryptography is loaded where a key object is first built (_load).
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    CryptoPublicKey: TypeAlias = Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey

ED25519: Final = "ssh-ed25519"
RSA: Final = "ssh-rsa"

# Key algorithm -> (curve name inside the blob, coordinate length in bytes).
ECDSA_CURVES: Final = {
    "ecdsa-sha2-nistp256": (b"nistp256", 32),
    "ecdsa-sha2-nistp384": (b"nistp384", 48),
    "ecdsa-sha2-nistp521": (b"nistp521", 66),
}
_ED25519_SIZE: Final = 32

SUPPORTED_ALGORITHMS: Final = (ED25519, *ECDSA_CURVES, RSA)
SUPPORTED_TEXT: Final = "ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa"

# OpenSSH refuses RSA moduli below 1024 bits and above 16384 bits (SSHBUF_MAX_BIGNUM).
RSA_MIN_BITS: Final = 1024
RSA_MAX_BITS: Final = 16384


class WireReader:
    """Reads RFC 4251 fields (uint32, string, mpint) from bytes, never past their end.

    Every problem raises `error`, so a key inside a signature reports a signature error and a
    key in a policy file reports a key error, without translating exceptions at each call.
    """

    __slots__ = ("_data", "_error", "_pos", "_what")

    def __init__(self, data: bytes, what: str, error: type[AuditError]) -> None:
        self._data = data
        self._pos = 0
        self._what = what
        self._error = error

    def fail(self, problem: str) -> AuditError:
        return self._error(f"{self._what}: {problem}")

    def uint32(self) -> int:
        end = self._pos + 4
        if end > len(self._data):
            raise self.fail("truncated")
        value = int.from_bytes(self._data[self._pos : end], "big")
        self._pos = end
        return value

    def fixed(self, length: int) -> bytes:
        end = self._pos + length
        if end > len(self._data):
            raise self.fail("truncated")
        value = self._data[self._pos : end]
        self._pos = end
        return value

    def string(self) -> bytes:
        return self.fixed(self.uint32())

    def text(self) -> str:
        """A string that must be printable text, as OpenSSH's get_cstring insists (no NUL)."""
        raw = self.string()
        if b"\0" in raw:
            raise self.fail("a name contains a NUL byte")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail("a name is not UTF-8") from None

    def mpint(self) -> int:
        """A non-negative mpint in its one canonical encoding.

        A second spelling of the same number would give the same key a second blob and so a
        second fingerprint, so only the minimal two's-complement form is accepted.
        """
        raw = self.string()
        if raw and raw[0] & 0x80:
            raise self.fail("negative integer")
        if raw[:1] == b"\0" and (len(raw) == 1 or not raw[1] & 0x80):
            raise self.fail("integer with a needless leading zero")
        return int.from_bytes(raw, "big")

    def end(self) -> None:
        if self._pos != len(self._data):
            raise self.fail("trailing data")


@dataclass(frozen=True)
class PublicKey:
    """An SSH public key: its algorithm name and its wire-format blob (RFC 4253 / 5656 / 8709)."""

    algorithm: str
    blob: bytes

    def __post_init__(self) -> None:
        _check(self.algorithm, self.blob)

    @classmethod
    def from_blob(cls, blob: bytes) -> PublicKey:
        """The key whose wire form is `blob`; raises KeyFormatError if it is not one we accept."""
        name = WireReader(blob, "public key", KeyFormatError).text()
        _check_algorithm(name)
        return cls(name, blob)

    @classmethod
    def from_openssh(cls, text: str) -> PublicKey:
        """Parse `keytype base64 [comment]`, the form of `id_ed25519.pub` and authorized_keys."""
        fields = text.strip().split(maxsplit=2)
        if len(fields) < 2:
            raise KeyFormatError(f"public key: expected 'keytype base64-key', got {text.strip()!r}")
        name, encoded = fields[0], fields[1]
        _check_algorithm(name)
        try:
            blob = binascii.a2b_base64(encoded.encode("ascii"), strict_mode=True)
        except (binascii.Error, UnicodeEncodeError):
            raise KeyFormatError(f"public key: {name} key is not valid base64") from None
        key = cls.from_blob(blob)
        if key.algorithm != name:
            raise KeyFormatError(
                f"public key: the text says {name} but the key inside is {key.algorithm}"
            )
        return key

    @cached_property
    def fingerprint(self) -> str:
        """`SHA256:` and the unpadded base64 of the blob's SHA-256, as `ssh-keygen -lf` prints."""
        digest = hashlib.sha256(self.blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")

    def openssh(self) -> str:
        """The one-line `keytype base64` form, without a comment."""
        return f"{self.algorithm} {base64.b64encode(self.blob).decode('ascii')}"

    def to_crypto(self) -> CryptoPublicKey:
        """The `cryptography` public key object, built once per distinct key."""
        return _load(self.algorithm, self.blob)


def _check_algorithm(name: str) -> None:
    if name in SUPPORTED_ALGORITHMS:
        return
    if name.endswith("-cert-v01@openssh.com"):
        problem = f"{name} is a certificate; certificates are not accepted"
    elif name.startswith("sk-"):
        problem = f"{name} is a security-key (FIDO) key; these are not accepted"
    elif name == "ssh-dss":
        problem = "ssh-dss (DSA) keys are not accepted"
    else:
        problem = f"unknown key type {name!r}"
    raise KeyFormatError(f"public key: {problem}; use {SUPPORTED_TEXT}")


@lru_cache(maxsize=1024)
def _check(algorithm: str, blob: bytes) -> None:
    """Raise KeyFormatError unless `blob` is a key `_load` accepts, checking each blob once.

    An Ed25519 key is any 32 bytes to cryptography (it refuses none), so reading the blob is
    the whole check and a file of Ed25519 signers is read without loading cryptography. The
    other kinds are checked by building the key: a point on the curve, a usable modulus.
    """
    if algorithm == ED25519:
        _ed25519_bytes(blob)
    else:
        _load(algorithm, blob)


def _ed25519_bytes(blob: bytes) -> bytes:
    reader = WireReader(blob, f"{ED25519} public key", KeyFormatError)
    if reader.text() != ED25519:
        raise reader.fail("the blob names another algorithm")
    raw = reader.string()
    if len(raw) != _ED25519_SIZE:
        raise reader.fail("an Ed25519 key is 32 bytes")
    reader.end()
    return raw


@lru_cache(maxsize=1024)
def _load(algorithm: str, blob: bytes) -> CryptoPublicKey:
    # Imported here, not at the top: see _check.
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if algorithm == ED25519:
        raw = _ed25519_bytes(blob)
        try:
            return Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            raise KeyFormatError(f"{algorithm} public key: not an Ed25519 public key") from None
    reader = WireReader(blob, f"{algorithm} public key", KeyFormatError)
    if reader.text() != algorithm:
        raise reader.fail("the blob names another algorithm")
    key: CryptoPublicKey
    if algorithm in ECDSA_CURVES:
        curve_name, size = ECDSA_CURVES[algorithm]
        curves = {
            b"nistp256": ec.SECP256R1(),
            b"nistp384": ec.SECP384R1(),
            b"nistp521": ec.SECP521R1(),
        }
        if reader.string() != curve_name:
            raise reader.fail(f"curve is not {curve_name.decode()}")
        point = reader.string()
        # Uncompressed points only: OpenSSH writes them, and one key must have one blob.
        if len(point) != 1 + 2 * size or point[0] != 4:
            raise reader.fail("the point is not an uncompressed point of the curve")
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(curves[curve_name], point)
        except ValueError:
            raise reader.fail("the point is not on the curve") from None
    elif algorithm == RSA:
        exponent = reader.mpint()
        modulus = reader.mpint()
        if not RSA_MIN_BITS <= modulus.bit_length() <= RSA_MAX_BITS:
            raise reader.fail(f"modulus must be {RSA_MIN_BITS} to {RSA_MAX_BITS} bits")
        try:
            key = rsa.RSAPublicNumbers(exponent, modulus).public_key()
        except ValueError:
            raise reader.fail("invalid exponent or modulus") from None
    else:
        _check_algorithm(algorithm)
        raise AssertionError("unreachable: _check_algorithm accepted an unknown algorithm")
    reader.end()
    return key
