"""Build a large git repository of alerts whose every commit is really SSH-signed, fast.

git fast-import writes the trees and unsigned commits; each commit is then rewritten with
its parent and an SSHSIG signature made in-process (ed25519), exactly the bytes
`git commit -S` would produce. Signing through ssh-keygen manages about 60 commits a second,
this about 5,000.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def _string(value: bytes) -> bytes:
    return len(value).to_bytes(4, "big") + value


@dataclass(frozen=True)
class Signer:
    name: str
    private: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, name: str, seed: int) -> Signer:
        return cls(name, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))

    @property
    def email(self) -> str:
        return f"{self.name}@police.example"

    @property
    def public_line(self) -> str:
        return (
            self.private.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
        )

    @property
    def fingerprint(self) -> str:
        blob = base64.b64decode(self.public_line.split()[1])
        return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")

    def sign(self, payload: bytes) -> bytes:
        """The armoured SSHSIG of `payload` in the git namespace."""
        blob = base64.b64decode(self.public_line.split()[1])
        signed = (
            b"SSHSIG" + _string(b"git") + _string(b"") + _string(b"sha512")
            + _string(hashlib.sha512(payload).digest())
        )  # fmt: skip
        signature = _string(b"ssh-ed25519") + _string(self.private.sign(signed))
        body = (
            b"SSHSIG" + (1).to_bytes(4, "big") + _string(blob) + _string(b"git") + _string(b"")
            + _string(b"sha512") + _string(signature)
        )  # fmt: skip
        text = base64.b64encode(body)
        lines = [text[i : i + 70] for i in range(0, len(text), 70)]
        return (
            b"-----BEGIN SSH SIGNATURE-----\n"
            + b"\n".join(lines)
            + b"\n-----END SSH SIGNATURE-----"
        )


def allowed_signers(signers: Sequence[Signer]) -> str:
    return "".join(f'{s.email} namespaces="git" {s.public_line}\n' for s in signers)


def _signed(payload: bytes, signature: bytes) -> bytes:
    head, _, message = payload.partition(b"\n\n")
    block = b"gpgsig " + signature.replace(b"\n", b"\n ")
    return head + b"\n" + block + b"\n\n" + message


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], input=input, capture_output=True, check=True
    )
    return done.stdout.decode()


def init(repo: Path) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    git(repo, "config", "user.name", "bench")
    git(repo, "config", "user.email", "bench@police.example")


def append_commits(
    repo: Path,
    commits: Sequence[tuple[Signer, str, dict[str, str]]],
    start_time: int,
) -> str:
    """Append signed commits (signer, message, files) to main; returns the new head."""
    parent = git(repo, "rev-parse", "--verify", "-q", "main").strip() if _has_head(repo) else None
    stream: list[bytes] = []
    for index, (signer, message, files) in enumerate(commits):
        ident = f"{signer.name} <{signer.email}> {start_time + index * 60} +0000".encode()
        data = message.encode() + b"\n"
        stream += [
            b"commit refs/heads/unsigned\n",
            b"author " + ident + b"\n",
            b"committer " + ident + b"\n",
        ]
        stream.append(b"data %d\n" % len(data) + data)
        if index == 0 and parent:
            stream.append(f"from {parent}\n".encode())
        for path, content in files.items():
            raw = content.encode()
            stream.append(
                f"M 100644 inline {path}\n".encode() + b"data %d\n" % len(raw) + raw + b"\n"
            )
        stream.append(b"\n")
    git(repo, "fast-import", "--quiet", "--force", input=b"".join(stream))
    range_spec = f"{parent}..refs/heads/unsigned" if parent else "refs/heads/unsigned"
    oids = git(repo, "rev-list", "--reverse", range_spec).split()
    raws = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        input="".join(o + "\n" for o in oids).encode(), capture_output=True, check=True,
    ).stdout  # fmt: skip
    objects = repo / ".git" / "objects"
    position = 0
    for index in range(len(oids)):
        header_end = raws.index(b"\n", position)
        size = int(raws[position:header_end].split()[2])
        raw = raws[header_end + 1 : header_end + 1 + size]
        position = header_end + 2 + size
        head, _, body = raw.partition(b"\n\n")
        headers = [line for line in head.split(b"\n") if not line.startswith(b"parent ")]
        if parent:
            headers.insert(1, b"parent " + parent.encode())
        payload = b"\n".join(headers) + b"\n\n" + body
        signed = _signed(payload, commits[index][0].sign(payload))
        store = b"commit %d\0" % len(signed) + signed
        parent = hashlib.sha1(store).hexdigest()
        (objects / parent[:2]).mkdir(exist_ok=True)
        (objects / parent[:2] / parent[2:]).write_bytes(zlib.compress(store, 1))
    assert parent
    git(repo, "update-ref", "refs/heads/main", parent)
    git(repo, "update-ref", "-d", "refs/heads/unsigned")
    git(repo, "reset", "-q", "--hard", "main")
    return parent


def _has_head(repo: Path) -> bool:
    return (
        subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--verify", "-q", "main"], capture_output=True
        ).returncode
        == 0
    )
