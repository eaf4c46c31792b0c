"""Real SSH keys (ssh-keygen) and real SSH-signed git repositories for the audit tests."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from audit.sshkeys import PublicKey

# kind -> ssh-keygen arguments; "ecdsa" is P-256, and RSA is 2048 bits to keep tests quick.
KEY_KINDS: dict[str, tuple[str, ...]] = {
    "ed25519": ("-t", "ed25519"),
    "ecdsa": ("-t", "ecdsa", "-b", "256"),
    "ecdsa-256": ("-t", "ecdsa", "-b", "256"),
    "ecdsa-384": ("-t", "ecdsa", "-b", "384"),
    "ecdsa-521": ("-t", "ecdsa", "-b", "521"),
    "rsa": ("-t", "rsa", "-b", "2048"),
}

SignerEntry = tuple[str, "Key"] | tuple[str, "Key", str]


@dataclass(frozen=True)
class Key:
    """A key pair made by ssh-keygen: the private key file and what `ssh-keygen -lf` says."""

    name: str
    kind: str
    private: Path
    public_line: str  # "keytype base64 comment", the .pub file's line
    fingerprint: str  # SHA256:..., from `ssh-keygen -lf`

    @property
    def public(self) -> PublicKey:
        return PublicKey.from_openssh(self.public_line)


def isolated_env(home: Path) -> dict[str, str]:
    """An environment in which git and ssh-keygen see none of the user's configuration."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GIT_", "SSH_")) and name not in ("EMAIL", "TZ", "LANG")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_TERMINAL_PROMPT="0",
        # git hands ssh-keygen the committer time as local time: make local time UTC.
        TZ="UTC",
        LC_ALL="C",
    )
    return env


def make_key(dir: Path, name: str, kind: str = "ed25519") -> Key:
    """Generate a passphrase-less key `dir/name` of `kind` (see KEY_KINDS) with comment `name`."""
    dir.mkdir(parents=True, exist_ok=True)
    private = dir / name
    env = isolated_env(dir / ".home")
    subprocess.run(
        ["ssh-keygen", "-q", *KEY_KINDS[kind], "-N", "", "-C", name, "-f", str(private)],
        check=True,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    public_line = private.with_name(name + ".pub").read_text().strip()
    listing = subprocess.run(
        ["ssh-keygen", "-lf", str(private) + ".pub"],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    return Key(name, kind, private, public_line, listing.stdout.split()[1])


def ssh_sign(key: Key, data: bytes, namespace: str, home: Path) -> bytes:
    """An armored SSHSIG of `data` made by `ssh-keygen -Y sign -n namespace`."""
    result = subprocess.run(
        ["ssh-keygen", "-q", "-Y", "sign", "-n", namespace, "-f", str(key.private)],
        input=data,
        check=True,
        env=isolated_env(home),
        capture_output=True,
    )
    return result.stdout


class SignedRepo:
    """A real repository in `root/repo` whose commits are SSH-signed the way git signs them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "repo"
        self.home = root / "home"
        self.path.mkdir(parents=True)
        self.env = isolated_env(self.home)
        self.git("init", "-q", "-b", "main")
        self.git("config", "gpg.format", "ssh")
        self.git("config", "commit.gpgsign", "true")
        # The identity for commands other than commit(), such as a merge.
        self.git("config", "user.name", "editor")
        self.git("config", "user.email", "editor@police.example")

    def git(
        self, *arguments: str, input: bytes = b"", env: Mapping[str, str] | None = None
    ) -> bytes:
        """Run git in the repository; raise on failure; return its standard output."""
        result = self.run_git(*arguments, input=input, env=env)
        if result.returncode != 0:
            raise AssertionError(
                f"git {' '.join(arguments)} failed: {result.stderr.decode(errors='replace')}"
            )
        return result.stdout

    def run_git(
        self, *arguments: str, input: bytes = b"", env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["git", "-C", str(self.path), *arguments],
            input=input,
            capture_output=True,
            env={**self.env, **(env or {})},
            check=False,
        )

    def commit(
        self,
        files: Mapping[str, str | None],
        message: str,
        key: Key | None,
        email: str = "editor@police.example",
        date: str | None = None,
    ) -> str:
        """Write (or, for None, delete) `files`, commit them signed by `key`, return the id."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                self.git("rm", "-q", "--", name)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content, encoding="utf-8")
                self.git("add", "--", name)
        identity = _identity(email, date)
        arguments = ["commit", "-q", "--allow-empty", "-m", message]
        if key is None:
            self.git(*arguments, "--no-gpg-sign", env=identity)
        else:
            self.git("-c", f"user.signingkey={key.private}", *arguments, "-S", env=identity)
        return self.git("rev-parse", "HEAD").decode().strip()

    def merge(
        self,
        branch: str,
        key: Key | None,
        email: str = "editor@police.example",
        date: str | None = None,
        strategy: str | None = None,
    ) -> str:
        """Merge `branch` into the current branch as a (signed) merge commit; return its id."""
        identity = _identity(email, date)
        arguments = ["merge", "-q", "--no-ff", "--no-edit", *(["-s", strategy] if strategy else [])]
        if key is None:
            self.git(*arguments, "--no-gpg-sign", branch, env=identity)
        else:
            self.git("-c", f"user.signingkey={key.private}", *arguments, "-S", branch, env=identity)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").decode().strip()

    def reset(self, oid: str) -> None:
        """Point the current branch (and the work tree) at `oid`, as a rewrite of history does."""
        self.git("reset", "-q", "--hard", oid)

    def raw_commit(self, oid: str) -> bytes:
        """The commit object exactly as stored (`git cat-file commit`)."""
        return self.git("cat-file", "commit", oid)

    def write_raw_commit(self, raw: bytes) -> str:
        """Store a hand-made commit object (a forgery, for tests) and return its id."""
        # --literally: newer gits fsck-check hash-object input, and forgeries are the point.
        written = self.git("hash-object", "-t", "commit", "-w", "--literally", "--stdin", input=raw)
        return written.decode().strip()

    def write_allowed_signers(
        self, entries: Iterable[SignerEntry], name: str = "allowed_signers"
    ) -> Path:
        """Write `principals [options] key` lines (outside the work tree) and return the path."""
        path = self.root / name
        path.write_text(allowed_signers_text(entries), encoding="utf-8")
        return path

    def write_revoked_keys(self, keys: Iterable[Key], name: str = "revoked_keys") -> Path:
        path = self.root / name
        path.write_text("".join(key.public_line + "\n" for key in keys), encoding="utf-8")
        return path

    def verify_commit(self, oid: str, allowed: Path, revoked: Path | None = None) -> int:
        """The exit status of `git verify-commit` with the given policy files (0 = good)."""
        options = ["-c", f"gpg.ssh.allowedSignersFile={allowed}"]
        if revoked is not None:
            options += ["-c", f"gpg.ssh.revocationFile={revoked}"]
        return self.run_git(*options, "verify-commit", oid).returncode

    def sign(self, key: Key, data: bytes, namespace: str) -> bytes:
        """An armored signature of `data` by `key` in `namespace`, made by ssh-keygen."""
        return ssh_sign(key, data, namespace, self.home)


def _identity(email: str, date: str | None) -> dict[str, str]:
    identity = {
        "GIT_AUTHOR_NAME": email.split("@")[0],
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": email.split("@")[0],
        "GIT_COMMITTER_EMAIL": email,
    }
    if date is not None:
        identity.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return identity


def email_of(key: Key) -> str:
    """The e-mail a test signer commits with, and its principal in allowed-signers files."""
    return f"{key.name}@police.example"


def alert_path(slug: str, year: int = 2024) -> str:
    """Where an alert issued on 1 May of `year` lives in a content repository."""
    return f"content/alerts/{year}/{year}-05-01-{slug}.md"


def allowed_signers_text(entries: Iterable[SignerEntry]) -> str:
    """The text of an allowed-signers file: `principals [options] key` per entry."""
    lines = ["# who may sign this repository"]
    for entry in entries:
        options = entry[2] + " " if len(entry) == 3 else ""
        lines.append(f"{entry[0]} {options}{entry[1].public_line}")
    return "\n".join(lines) + "\n"


def alert_text(
    title: str,
    issued: str = "2024-05-01T09:00:00+01:00",
    corrections: Iterable[tuple[str, str]] = (),
    status: str | None = None,
    body: str = "Police are dealing with an incident.\n\nAvoid the area.",
) -> str:
    """An alert file with front-matter; `corrections` are (at, note) pairs, oldest first."""
    lines = [
        "---",
        f'title: "{title}"',
        'level: "amber"',
        f'issued: "{issued}"',
        'sectors: ["retail"]',
        'source: "met-police"',
    ]
    if status is not None:
        lines.append(f'status: "{status}"')
    fixes = list(corrections)
    if fixes:
        lines.append("corrections:")
        for at, note in fixes:
            lines += [f'  - at: "{at}"', f'    note: "{note}"']
    return "\n".join([*lines, "---", body]) + "\n"


def with_signature(payload: bytes, blocks: Iterable[bytes], header: bytes = b"gpgsig") -> bytes:
    """A commit object: `payload` with each armored block inserted as a signature header.

    Placed where git puts it, at the end of the headers, each line after the first indented
    by one space.
    """
    head, blank, message = payload.partition(b"\n\n")
    headers = head + b"\n"
    for block in blocks:
        lines = block.rstrip(b"\n").split(b"\n")
        headers += header + b" " + b"\n ".join(lines) + b"\n"
    return headers + (b"\n" + message if blank else b"")


def ssh_string(value: bytes) -> bytes:
    """An RFC 4251 string: a 32-bit length, then the bytes."""
    return len(value).to_bytes(4, "big") + value


def ssh_mpint(value: int) -> bytes:
    """An RFC 4251 mpint (non-negative), in its minimal encoding."""
    return ssh_string(value.to_bytes((value.bit_length() + 8) // 8, "big") if value else b"")


def sshsig_blob(
    public_blob: bytes,
    namespace: bytes,
    hash_algorithm: bytes,
    signature_algorithm: bytes,
    signature: bytes,
    *,
    reserved: bytes = b"",
    magic: bytes = b"SSHSIG",
    version: int = 1,
) -> bytes:
    """A binary SSHSIG blob assembled field by field, so that tests can get any field wrong."""
    wrapped = ssh_string(signature_algorithm) + ssh_string(signature)
    return (
        magic
        + version.to_bytes(4, "big")
        + ssh_string(public_blob)
        + ssh_string(namespace)
        + ssh_string(reserved)
        + ssh_string(hash_algorithm)
        + ssh_string(wrapped)
    )


def armor(blob: bytes) -> bytes:
    """The armored form, wrapped at 70 columns like ssh-keygen's."""
    encoded = base64.b64encode(blob)
    lines = [encoded[index : index + 70] for index in range(0, len(encoded), 70)]
    return (
        b"-----BEGIN SSH SIGNATURE-----\n" + b"\n".join(lines) + b"\n-----END SSH SIGNATURE-----\n"
    )


def python_sign(
    key: Key,
    message: bytes,
    *,
    namespace: str = "git",
    hash_algorithm: str = "sha512",
    signature_algorithm: str | None = None,
    reserved: bytes = b"",
) -> bytes:
    """An armored SSHSIG made with `cryptography`, for what ssh-keygen will not make.

    Signs over an empty reserved field whatever `reserved` the blob carries, as OpenSSH does.
    """
    private = serialization.load_ssh_private_key(key.private.read_bytes(), password=None)
    digest = hashlib.new(hash_algorithm, message).digest()
    signed = (
        b"SSHSIG"
        + ssh_string(namespace.encode())
        + ssh_string(b"")
        + ssh_string(hash_algorithm.encode())
        + ssh_string(digest)
    )
    public = key.public
    algorithm = signature_algorithm or (
        "rsa-sha2-512" if public.algorithm == "ssh-rsa" else public.algorithm
    )
    if isinstance(private, ed25519.Ed25519PrivateKey):
        signature = private.sign(signed)
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        curve_hash = {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}
        der = private.sign(signed, ec.ECDSA(curve_hash[private.curve.key_size]))
        r, s = decode_dss_signature(der)
        signature = ssh_mpint(r) + ssh_mpint(s)
    elif isinstance(private, rsa.RSAPrivateKey):
        rsa_hash = {"ssh-rsa": hashes.SHA1(), "rsa-sha2-256": hashes.SHA256()}
        chosen = rsa_hash.get(algorithm, hashes.SHA512())
        signature = private.sign(signed, padding.PKCS1v15(), chosen)
    else:
        raise TypeError(f"no signer for {type(private).__name__}")
    blob = sshsig_blob(
        public.blob,
        namespace.encode(),
        hash_algorithm.encode(),
        algorithm.encode(),
        signature,
        reserved=reserved,
    )
    return armor(blob)
