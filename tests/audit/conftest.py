"""Keys and signed repositories shared by the audit tests, made once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.signing import Key, SignedRepo, make_key

# Kinds the audit accepts, each with the name of its test signer.
SIGNERS: dict[str, str] = {
    "ed25519": "alice",
    "ecdsa-256": "bob",
    "ecdsa-384": "carol",
    "ecdsa-521": "erin",
    "rsa": "dave",
}


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def keys(key_dir: Path) -> dict[str, Key]:
    """One key per accepted kind, keyed by kind ("ed25519", "ecdsa-256", ..., "rsa")."""
    return {kind: make_key(key_dir, name, kind) for kind, name in SIGNERS.items()}


@pytest.fixture(scope="session")
def outsider(key_dir: Path) -> Key:
    """A key in no allowed-signers file."""
    return make_key(key_dir, "mallory")


@pytest.fixture(scope="session")
def revoked(key_dir: Path) -> Key:
    """A key that is listed as allowed but also revoked."""
    return make_key(key_dir, "oscar")


@pytest.fixture(scope="session")
def signed_repo(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Key]) -> SignedRepo:
    """A repository with one commit signed by each kind of key, in SIGNERS order."""
    repo = SignedRepo(tmp_path_factory.mktemp("signed"))
    for number, (kind, key) in enumerate(keys.items(), start=1):
        repo.commit(
            {"content/alert.md": f"alert {number}\n"},
            f"Alert {number} signed with {kind}",
            key,
            email=f"{key.name}@police.example",
            date=f"2024-05-0{number}T09:00:00Z",
        )
    return repo


@pytest.fixture(scope="session")
def signed_commits(signed_repo: SignedRepo) -> dict[str, str]:
    """Commit id of the commit signed by each kind of key."""
    oids = signed_repo.git("rev-list", "--reverse", "HEAD").decode().split()
    return dict(zip(SIGNERS, oids, strict=True))
