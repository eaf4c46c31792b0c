"""Production builds that carry alerts/ whole: only the pages of alerts whose file, thread,
badges or signed history changed since the published site are looked at, and no entry of
the others is read. Every output byte must still equal a cold build's."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

import publish
from alerts.output import AlertPages
from audit.audit import audit_repository
from audit.build import Uncommitted, VerifiedProvenance
from audit.ledger import Ledger
from audit.policy import AuditPolicy
from tests.audit.test_audit_publishing import REGISTRY, settings_file
from tests.cli.test_cli import tree_digest
from tests.support.signing import Key, SignedRepo, alert_path, email_of

NOW = "2024-05-02T12:00:00+00:00"
LATER = "2024-05-20T12:00:00+00:00"  # the bridge alert expired, and none is current
CORRECTION = 'corrections:\n  - at: "2024-05-01T12:00:00+01:00"\n    note: "The cordon moved."\n'


def alert(title: str, issued: str, extra: str = "", corrections: str = "") -> str:
    return (
        f'---\ntitle: "{title}"\nlevel: "amber"\nissued: "{issued}"\nsectors: ["retail"]\n'
        f'source: "met-police"\n{extra}{corrections}---\nAvoid the area.\n'
    )


def build(repo: SignedRepo, conf: Path, output: Path, now: str, *extra: str) -> int:
    return publish.main(
        ["build", "--production", "--settings", str(conf), "--content", str(repo.path / "content"),
         "--output", str(output), "--now", now, *extra]
    )  # fmt: skip


def cold(repo: SignedRepo, conf: Path, output: Path, now: str) -> dict[str, str]:
    """The site built from nothing (no cache, no manifest), with the same ledger."""
    state = repo.path / ".cascade"
    aside = repo.path / ".cascade-aside"
    state.rename(aside)
    try:
        state.mkdir()
        shutil.copy(aside / "ledger.json", state / "ledger.json")
        shutil.rmtree(output, ignore_errors=True)
        assert build(repo, conf, output, now, "--no-cache", "--full") == 0
    finally:
        shutil.rmtree(state)
        aside.rename(state)
    return tree_digest(output)


def test_carried_builds_equal_cold_builds(
    newsroom: SignedRepo, alice: Key, bob: Key, dave: Key, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    repo = newsroom
    loads: list[str] = []
    load = AlertPages.load

    def spied(self: AlertPages) -> None:
        loads.append("load")  # the whole folder's entries read: not carried
        load(self)

    monkeypatch.setattr(AlertPages, "load", spied)
    bridge = alert(
        "Bridge closed", "2024-05-01T08:00:00+01:00", 'expires: "2024-05-10T12:00:00Z"\n'
    )
    market = alert("Fire near the market", "2024-05-01T09:00:00+01:00")
    conf = settings_file(tmp_path, alice)
    site, cold_site = tmp_path / "site", tmp_path / "cold"

    def commit(files: dict[str, str], key: Key, date: str) -> Callable[[], object]:
        return lambda: repo.commit(files, "x", key, email_of(key), date)

    # (the change, who signs it, the build's clock, whether alerts/ may be carried)
    steps: list[tuple[Callable[[], object], str, bool]] = [
        (commit({**REGISTRY, alert_path("bridge"): bridge}, bob, "2024-05-01T09:00:00Z"), NOW, False),
        # A first audit leaves no mark of its columns: the next build checks every page.
        (commit({alert_path("market"): market}, bob, "2024-05-01T09:10:00Z"), NOW, False),
        # A thread: the bridge alert's page now links its update.
        (
            commit(
                {
                    alert_path("bridge-open"): alert(
                        "Bridge open again", "2024-05-01T11:00:00+01:00",
                        'updates: "2024-05-01-bridge"\n',
                    )
                },
                bob,
                "2024-05-01T10:10:00Z",
            ),
            NOW,
            True,
        ),
        # A correction signed by someone else: the market page's signer and its history.
        (
            commit(
                {
                    alert_path("market"): alert(
                        "Fire near the market", "2024-05-01T09:00:00+01:00",
                        corrections='corrections:\n  - at: "2024-05-01T12:00:00+01:00"\n'
                        '    note: "The cordon moved."\n',
                    )
                },
                dave,
                "2024-05-01T11:10:00Z",
            ),
            NOW,
            True,
        ),
        (lambda: None, LATER, True),  # the clock: the bridge alert expired
        (
            commit({alert_path("quiet"): alert("Quiet", "2024-05-01T13:00:00+01:00")}, bob,
                   "2024-05-19T08:10:00Z"),
            LATER,
            True,
        ),
    ]  # fmt: skip
    for number, (change, now, carried) in enumerate(steps, 1):
        change()
        loads.clear()
        assert build(repo, conf, site, now) == 0
        assert not carried or not loads, f"step {number}: alerts/ was not carried"
        assert tree_digest(site) == cold(repo, conf, cold_site, now), f"step {number}"
    page = (site / "alerts/2024-05-01-market/index.html").read_text(encoding="utf-8")
    assert dave.fingerprint in page and "The cordon moved." in page
    assert "later update" in (site / "alerts/2024-05-01-bridge/index.html").read_text()
    # A changed setting changes every page's key: a full build, the same as a cold one.
    conf.write_text(conf.read_text() + 'SITENAME = "Another name"\n', encoding="utf-8")
    assert build(repo, conf, site, LATER) == 0
    assert "Another name" in (site / "alerts/2024-05-01-quiet/index.html").read_text()
    assert tree_digest(site) == cold(repo, conf, cold_site, LATER)


@pytest.mark.parametrize("unsigned", [False, True])
def test_provenance_looked_up_alert_by_alert_equals_the_whole(
    newsroom: SignedRepo, bob: Key, dave: Key, policy: AuditPolicy, tmp_path: Path, unsigned: bool
) -> None:
    """What a carried build looks up for a few alerts is what a full check makes for all:
    with a clean history, and with a violation (then only alerts at HEAD are signed)."""
    repo = newsroom
    files = {alert_path(slug): alert(slug, "2024-05-01T09:00:00+01:00") for slug in "abc"}
    repo.commit(files, "x", bob, email_of(bob), "2024-05-01T09:00:00Z")
    fixed = alert("a", "2024-05-01T09:00:00+01:00", corrections=CORRECTION)
    repo.commit({alert_path("a"): fixed}, "x", dave, email_of(dave), "2024-05-01T10:00:00Z")
    if unsigned:
        repo.commit({alert_path("d"): alert("d", "2024-05-01T11:00:00+01:00")}, "x", None)
    cache = tmp_path / "cache"
    for _ in range(2):  # the second from the saved state, as a build reads it
        report = audit_repository(
            repo.path, policy, datetime(2024, 6, 1, tzinfo=UTC), Ledger(), cache
        )
    assert report.ok is not unsigned
    whole = VerifiedProvenance(report).whole()
    looked_up = VerifiedProvenance(report)
    ids = [f"2024-05-01-{slug}" for slug in "abcde"]
    assert {i: looked_up[i] for i in ids if i in looked_up} == whole
    assert whole["2024-05-01-a"].signer_fingerprint == dave.fingerprint


def test_committed_content_is_not_asked_of_git_status_twice(
    newsroom: SignedRepo, alice: Key, bob: Key, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build's stamp found content/ to be a tree of HEAD: the audit takes its word (an
    uncommitted file is still refused: test_uncommitted_content_refuses_to_publish)."""
    asked: list[Path | None] = []
    enter = Uncommitted.__enter__

    def spied(self: Uncommitted) -> Uncommitted:
        asked.append(self._content)
        return enter(self)

    monkeypatch.setattr(Uncommitted, "__enter__", spied)
    files = {**REGISTRY, alert_path("bridge"): alert("Bridge", "2024-05-01T08:00:00+01:00")}
    newsroom.commit(files, "x", bob, email_of(bob), "2024-05-01T09:00:00Z")
    conf = settings_file(tmp_path, alice)
    assert build(newsroom, conf, tmp_path / "site", NOW) == 0
    assert asked == [None]
