"""Keys and signed repositories shared by the audit tests, made once per test session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts import forked
from audit import reach
from audit.history import Graph, read_graph
from audit.policy import AuditPolicy
from audit.state import CACHE_FILE, load_state
from tests.support.signing import Key, SignedRepo, allowed_signers_text, email_of, make_key


@pytest.fixture(autouse=True)
def audit_in_process() -> Iterator[None]:
    """A build audits in a forked child while it loads content (alerts/forked.py); here in
    the test's own process, so that the spies these tests set on the audit see it. The
    child is tested in test_audit_publishing.py, and by every build in tests/site and
    tests/cli. (Not through `monkeypatch`: a fixture that uses it would undo its patches
    after, not before, the teardown of the tests' own fixtures.)"""
    real = forked.workers_available
    forked.workers_available = lambda: 1
    yield
    forked.workers_available = real


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


@pytest.fixture(scope="session")
def alice(keys: dict[str, Key]) -> Key:
    return keys["ed25519"]


@pytest.fixture(scope="session")
def bob(keys: dict[str, Key]) -> Key:
    return keys["ecdsa-256"]


@pytest.fixture(scope="session")
def dave(keys: dict[str, Key]) -> Key:
    return keys["rsa"]


@pytest.fixture(scope="session")
def erin(keys: dict[str, Key]) -> Key:
    return keys["ecdsa-521"]


@pytest.fixture(scope="session")
def policy(alice: Key) -> AuditPolicy:
    """The default policy, with alice's key pinned for the root commit."""
    return AuditPolicy(trusted_signers=(alice.fingerprint,))


README = "Alerts live in alerts/YYYY/, one file each, named by date and slug.\n"


@pytest.fixture
def newsroom(tmp_path: Path, alice: Key, bob: Key, dave: Key) -> SignedRepo:
    """A content repository whose root commit, signed by alice, lets alice, bob and dave sign."""
    repo = SignedRepo(tmp_path)
    signers = allowed_signers_text([(email_of(key), key) for key in (alice, bob, dave)])
    repo.commit(
        {".signers/allowed_signers": signers, "content/README.md": README},
        "Who may sign",
        alice,
        email_of(alice),
        "2024-04-01T09:00:00Z",
    )
    return repo


@pytest.fixture
def graph_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The head of every audit that read the whole commit graph from now on."""
    heads: list[str] = []
    real = read_graph

    def counting(*arguments: object) -> Graph:
        graph = real(*arguments)  # type: ignore[arg-type]
        heads.append(graph.head)
        return graph

    monkeypatch.setattr(reach, "read_graph", counting)
    return heads


def persisted(repo: SignedRepo, cache: Path) -> dict[str, object]:
    """What the state cached in `cache` holds, in a form that two states holding the same
    facts share, whatever the layout of their journals."""
    key = tuple(json.loads((cache / CACHE_FILE).read_text())["key"])
    state = load_state(cache, key)
    assert state is not None
    histories = state.histories
    frontier = state.publications.frontier
    return {
        "totals": (
            state.head,
            state.commits,
            state.first_commit,
            state.verified,
            state.unsigned,
            state.violations,
            dict(state.signed),
            dict(state.unpublished),
            state.revoked,
            state.head_signers,
            state.alerts,
            state.ledger_entries,
            state.ledger_digest,
        ),
        "histories": {
            alert: (entry.digest, entry.latest)
            for alert in histories
            if (entry := histories.get(alert)) is not None
        },
        "revisions": histories.all_revisions(),
        "outside": set(state.publications.outside),
        # Two frontiers are the same if they reach the same commits.
        "published": set(repo.git("rev-list", *frontier).split()) if frontier else set(),
    }
