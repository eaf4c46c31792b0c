"""Production and development builds of real signed repositories: the audit gates
publishing, and reviewers see who published what."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import feedparser
import lxml.html
import pytest
from lxml import etree

import publish
from alerts import forked
from alerts.generator import AlertsGenerator
from audit import site
from audit.build import BuildAudit
from tests.cli.test_cli import tree_digest
from tests.conftest import ROOT
from tests.support.signing import Key, SignedRepo, alert_path, alert_text, email_of

NOW = "2024-06-01T12:00:00+00:00"
REGISTRY = {
    "content/sectors.yml": '- slug: "retail"\n  name: "Retail"\n  description: "Shops."\n',
    "content/sources.yml": '- slug: "met-police"\n  name: "Metropolitan Police"\n',
}


def settings_file(tmp_path: Path, trusted: Key) -> Path:
    path = tmp_path / "conf.py"
    path.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from publishconf import *\n"
        f"THEME = {str(ROOT / 'theme')!r}\n"
        f"PLUGIN_PATHS = [{str(ROOT / 'plugins')!r}]\n"
        f"AUDIT_TRUSTED_SIGNERS = [{trusted.fingerprint!r}]\n",
        encoding="utf-8",
    )
    return path


def build(repo: SignedRepo, conf: Path, output: Path, *extra: str) -> int:
    return publish.main(
        ["build", "--production", "--settings", str(conf), "--content", str(repo.path / "content"),
         "--output", str(output), "--now", NOW, *extra]
    )  # fmt: skip


@pytest.fixture
def published(
    newsroom: SignedRepo, alice: Key, bob: Key, tmp_path: Path
) -> tuple[SignedRepo, Path, Path, str]:
    newsroom.commit(REGISTRY, "Sectors and sources", alice, email_of(alice), "2024-04-02T09:00:00Z")
    first = newsroom.commit(
        {alert_path("market-fire"): alert_text("Fire near the market")},
        "Amber: fire near the market",
        bob,
        email_of(bob),
        "2024-05-01T08:10:00Z",
    )
    conf = settings_file(tmp_path, alice)
    output = tmp_path / "output"
    assert build(newsroom, conf, output) == 0
    return newsroom, conf, output, first


def test_production_build_shows_who_published_what(
    published: tuple[SignedRepo, Path, Path, str], bob: Key
) -> None:
    repo, _, output, commit = published
    page = lxml.html.fromstring((output / "alerts/2024-05-01-market-fire/index.html").read_bytes())
    line = page.cssselect("section.provenance p")[0].text_content()
    assert line.startswith(
        f"Published by {email_of(bob)} (key {bob.fingerprint}) in commit {commit[:7]}, signature verified."
    )
    assert not page.cssselect(".site-notice")
    history = lxml.html.fromstring(
        (output / "alerts/2024-05-01-market-fire/history/index.html").read_bytes()
    )
    assert commit in history.text_content()
    assert "verified" in history.cssselect(".revision dd")[2].text_content()
    audit_page = (output / "audit/index.html").read_text(encoding="utf-8")
    assert "History verified" in audit_page and bob.fingerprint in audit_page
    summary = json.loads((output / "audit/audit.json").read_bytes())
    assert summary["verified"] is True and summary["violations"] == []
    ledger = json.loads((output / "audit/ledger.json").read_bytes())
    assert [e["head"] for e in ledger["entries"]] == [commit]
    assert json.loads((repo.path / ".cascade/ledger.json").read_bytes()) == ledger
    feed = feedparser.parse((output / "feeds/all.atom.xml").read_bytes())
    assert feed.bozo == 0 and feed.entries[0]["cascade_commit"] == commit
    ns = {"c": "https://alerts.example.org/ns/cascade/1.0"}
    doc = etree.parse(str(output / "feeds/all.atom.xml"))
    signer = doc.find(".//c:signer", ns)
    assert signer.text == bob.fingerprint and signer.get("name") == email_of(bob)
    item = json.loads((output / "feeds/all.json").read_bytes())["items"][0]["_cascade"]
    assert item["commit"] == commit and item["signer"]["fingerprint"] == bob.fingerprint


def _correct_the_cordon(repo: SignedRepo, bob: Key) -> str:
    """Bob's signed correction of the market fire alert; returns the commit."""
    commit: str = repo.commit(
        {
            alert_path("market-fire"): alert_text(
                "Fire near the market",
                corrections=[("2024-05-01T10:00:00+01:00", "The cordon moved to Mill Lane.")],
            )
        },
        "Correct the cordon",
        bob,
        email_of(bob),
        "2024-05-01T09:05:00Z",
    )
    return commit


def test_correction_appears_in_the_history(
    published: tuple[SignedRepo, Path, Path, str], bob: Key
) -> None:
    repo, conf, output, _ = published
    fixed = _correct_the_cordon(repo, bob)
    assert build(repo, conf, output) == 0
    history = lxml.html.fromstring(
        (output / "alerts/2024-05-01-market-fire/history/index.html").read_bytes()
    )
    revisions = history.cssselect("li.revision")
    assert len(revisions) == 2
    assert revisions[1].cssselect("h2")[0].text_content().startswith("Corrected")
    assert "The cordon moved to Mill Lane." in revisions[1].text_content()
    assert fixed in revisions[1].text_content()
    assert "+  - at:" in revisions[1].cssselect("pre.diff")[0].text_content()


def test_the_audit_runs_in_a_child_beside_the_content_load_and_changes_nothing(
    newsroom: SignedRepo,
    alice: Key,
    bob: Key,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same repository built with the audit in a forked child (while the content loads)
    and in the build's own process: the same site, and the same refusal, worded alike, when
    a commit is unsigned (the child's error is not relayed: the parent audits again)."""
    newsroom.commit(REGISTRY, "Sectors and sources", alice, email_of(alice), "2024-04-02T09:00:00Z")
    newsroom.commit(
        {alert_path("market-fire"): alert_text("Fire near the market")},
        "Amber: fire near the market",
        bob,
        email_of(bob),
        "2024-05-01T08:10:00Z",
    )
    twin = SignedRepo.__new__(SignedRepo)
    twin.__dict__.update(newsroom.__dict__, path=tmp_path / "twin")
    shutil.copytree(
        newsroom.path, twin.path, symlinks=True, ignore=shutil.ignore_patterns("output")
    )
    conf = settings_file(tmp_path, alice)
    pids = tmp_path / "audited-in"
    real = site._audit

    def audited(generator: object) -> BuildAudit:
        with pids.open("a") as log:
            log.write(f"{os.getpid()}\n")
        return real(generator)

    monkeypatch.setattr(site, "_audit", audited)

    def built(repo: SignedRepo, cores: int, output: Path) -> tuple[int, list[int]]:
        monkeypatch.setattr(forked, "workers_available", lambda: cores)
        pids.write_text("")
        code = build(repo, conf, output)
        return code, [int(pid) for pid in pids.read_text().split()]

    aside, beside = tmp_path / "aside", tmp_path / "beside"
    code, audited_in = built(newsroom, 2, aside)
    assert code == 0 and len(audited_in) == 1 and audited_in[0] != os.getpid()
    code, audited_in = built(twin, 1, beside)
    assert code == 0 and audited_in == [os.getpid()]
    assert tree_digest(aside) == tree_digest(beside) != {}

    errors = []
    for repo, cores, output in ((newsroom, 2, aside), (twin, 1, beside)):
        repo.commit({alert_path("sneaky"): alert_text("Sneaky")}, "unsigned", None)
        capsys.readouterr()
        code, audited_in = built(repo, cores, output)
        assert code == 1 and audited_in[-1] == os.getpid()
        errors.append(capsys.readouterr().err)
    assert "signed: the commit is not signed" in errors[0]
    assert errors[0].replace(str(newsroom.path), "") == errors[1].replace(str(twin.path), "")


def test_unsigned_commit_refuses_to_publish(
    published: tuple[SignedRepo, Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, conf, output, _ = published
    before = tree_digest(output)
    bad = repo.commit({alert_path("sneaky"): alert_text("Sneaky")}, "unsigned", None)
    capsys.readouterr()
    assert build(repo, conf, output) == 1
    err = capsys.readouterr().err
    assert f"{bad[:12]}  -  signed: the commit is not signed" in err
    assert "nothing was published" in err and "Traceback" not in err
    assert tree_digest(output) == before


def test_uncommitted_content_refuses_to_publish(
    published: tuple[SignedRepo, Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, conf, output, _ = published
    (repo.path / alert_path("draft")).write_text(alert_text("Draft"), encoding="utf-8")
    assert build(repo, conf, output) == 1
    assert "are not committed" in capsys.readouterr().err


def test_rewritten_history_is_refused_then_accepted_with_a_reason(
    published: tuple[SignedRepo, Path, Path, str], bob: Key, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, conf, output, first = published
    repo.git("-c", f"user.signingkey={bob.private}", "commit", "-q", "--amend", "-S", "-m", "Amber: fire near the old market",
             env={"GIT_COMMITTER_EMAIL": email_of(bob), "GIT_COMMITTER_NAME": "bob"})  # fmt: skip
    capsys.readouterr()
    assert build(repo, conf, output) == 1
    assert "no-rewrite" in capsys.readouterr().err
    reason = "Commit message fixed before anyone mirrored it"
    assert build(repo, conf, output, "--accept-rewrite", reason) == 0
    ledger = json.loads((output / "audit/ledger.json").read_bytes())
    assert ledger["acceptances"][0]["reason"] == reason
    assert first in ledger["acceptances"][0]["waived"]
    assert reason in (output / "audit/index.html").read_text(encoding="utf-8")
    assert build(repo, conf, output) == 0  # the acceptance is remembered


def test_audit_command(
    published: tuple[SignedRepo, Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, conf, _, _ = published
    args = ["audit", "--repo", str(repo.path / "content"), "--settings", str(conf), "--now", NOW]
    capsys.readouterr()
    assert publish.main(args) == 0
    out = capsys.readouterr().out
    assert "Commits checked: 3 (3 verified, 0 unsigned)" in out and "ok: history verified" in out
    assert publish.main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    repo.commit({alert_path("market-fire"): None}, "delete it", None)
    assert publish.main(args) == 1
    out = capsys.readouterr().out
    assert "append-only" in out and "signed: the commit is not signed" in out


def test_development_build_says_history_is_not_verified(tmp_path: Path) -> None:
    from tests.conftest import DEMO_NOW, copy_content

    content = copy_content(tmp_path)  # not a git repository
    assert (
        publish.main(
            [
                "build",
                "--content",
                str(content),
                "--output",
                str(tmp_path / "out"),
                "--now",
                DEMO_NOW,
            ]
        )
        == 0
    )
    for page in (
        "index.html",
        "alerts/2026-11-18-fake-parcel-delivery-texts/index.html",
        "audit/index.html",
    ):
        tree = lxml.html.fromstring((tmp_path / "out" / page).read_bytes())
        notice = tree.cssselect(".site-notice")
        assert notice and "History not verified." in notice[0].text_content(), page
    audit_page = (tmp_path / "out/audit/index.html").read_text(encoding="utf-8")
    assert "not a verifiable git history" in audit_page


def test_a_production_build_that_grows_the_ledger_is_stamped_after_it(
    published: tuple[SignedRepo, Path, Path, str],
    bob: Key,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The build appends its head to the ledger itself: the stamp must take the ledger as
    the build left it, or every publication would be followed by a needless full run."""
    from tests.cli.test_build_stamp import SKIPPED, PelicanRuns, age

    repo, conf, output, _ = published
    repo.commit(
        {alert_path("bridge-closed"): alert_text("Bridge closed")},
        "Amber: bridge closed",
        bob,
        email_of(bob),
        "2024-05-02T08:10:00Z",
    )
    age(repo.path / "content")
    runs = PelicanRuns(monkeypatch)
    ledger = repo.path / ".cascade" / "ledger.json"
    before = len(json.loads(ledger.read_text())["entries"])
    assert build(repo, conf, output) == 0
    assert len(json.loads(ledger.read_text())["entries"]) == before + 1
    capsys.readouterr()
    assert build(repo, conf, output) == 0
    assert runs.count == 1 and SKIPPED in capsys.readouterr().out
    # A ledger changed by anyone else is an input like any other.
    ledger.write_text(ledger.read_text().replace("\n", "\n "), encoding="utf-8")
    assert build(repo, conf, output) == 0
    assert runs.count == 2


def test_only_the_history_of_a_changed_alert_is_rendered_again(
    published: tuple[SignedRepo, Path, Path, str],
    bob: Key,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo, conf, output, _ = published
    repo.commit(
        {alert_path("bridge"): alert_text("Bridge closed")},
        "Amber: bridge closed",
        bob,
        email_of(bob),
        "2024-05-01T08:20:00Z",
    )
    assert build(repo, conf, output) == 0
    bridge = output / "alerts/2024-05-01-bridge/history/index.html"
    unchanged = bridge.read_bytes()
    rendered: list[str] = []
    render = AlertsGenerator.render

    def spy(self: AlertsGenerator, plan: Any) -> bytes:
        rendered.append(plan.path)
        return render(self, plan)

    made: list[str] = []
    context = site._history_context

    def history_context(alert: Any, audit: Any) -> Any:
        made.append(alert.id)  # an Alert was built for its history page
        return context(alert, audit)

    monkeypatch.setattr(AlertsGenerator, "render", spy)
    monkeypatch.setattr(site, "_history_context", history_context)
    fixed = _correct_the_cordon(repo, bob)
    assert build(repo, conf, output) == 0
    market = "alerts/2024-05-01-market-fire/history/index.html"
    assert market in rendered
    assert "alerts/2024-05-01-bridge/history/index.html" not in rendered
    assert made == ["2024-05-01-market-fire"]
    assert fixed in (output / market).read_text(encoding="utf-8")
    assert bridge.read_bytes() == unchanged
    cold = tmp_path / "cold"
    assert build(repo, conf, cold, "--no-cache") == 0
    assert tree_digest(cold) == tree_digest(output)


def test_a_history_shows_the_alert_file_as_it_is(
    published: tuple[SignedRepo, Path, Path, str], tmp_path: Path
) -> None:
    """An uncommitted edit (a development build) changes no revision, but the history shows
    the file's title: its page follows the file."""
    repo, conf, output, _ = published

    def develop(into: Path, *extra: str) -> int:
        return publish.main(
            ["build", "--settings", str(conf), "--content", str(repo.path / "content"),
             "--output", str(into), "--now", NOW, *extra]
        )  # fmt: skip

    market = repo.path / alert_path("market-fire")
    page = output / "alerts/2024-05-01-market-fire/history/index.html"
    market.write_text(alert_text("Fire near the old market"), encoding="utf-8")
    assert develop(output) == 0
    assert "Fire near the old market" in page.read_text(encoding="utf-8")
    # The same one uncommitted change, so the same notice on every page: only this history's
    # key tells that its file changed.
    market.write_text(alert_text("Fire near the market hall"), encoding="utf-8")
    assert develop(output) == 0
    assert "Fire near the market hall" in page.read_text(encoding="utf-8")
    cold = tmp_path / "cold"
    assert develop(cold, "--no-cache") == 0
    assert tree_digest(cold) == tree_digest(output)
