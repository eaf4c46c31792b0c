"""publish.py through main([...]): exit codes, messages, and what is left on disk."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

import publish
from tests.conftest import DEMO_NOW, build, copy_content

PROBLEM_LINE = re.compile(r"^[^:\s]+:\d+: [\w\[\].-]+: .+$")


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture()
def content(tmp_path: Path) -> Path:
    return copy_content(tmp_path)


def write_alert(content: Path, alert_id: str, front: str, body: str = "Body text.") -> Path:
    path = content / "alerts" / alert_id[:4] / alert_id[5:7] / f"{alert_id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{front.strip()}\n---\n\n{body}\n", encoding="utf-8")
    return path


GOOD_FRONT = """
title: "Suspicious package at Example Street"
level: "amber"
issued: "2026-11-20T08:30:00+00:00"
sectors: ["retail"]
source: "met-police"
"""


def test_check_passes_on_demo_content(content: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert publish.main(["check", "--content", str(content), "--now", DEMO_NOW]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: ") and out.count("\n") == 1


def test_check_prints_every_problem_in_the_stated_form(
    content: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_alert(
        content,
        "2026-11-19-broken",
        'title: NO\nlevel: "Red"\nissued: "2026-11-19T10:00:00"\nsector: ["retail"]\nsource: "nobody"',
    )
    code = publish.main(["check", "--content", str(content), "--now", DEMO_NOW])
    err = capsys.readouterr().err
    assert code == 1
    lines = err.strip().splitlines()
    problems = [line for line in lines if PROBLEM_LINE.match(line)]
    assert len(problems) == len(lines) - 1 == 6
    assert "Traceback" not in err
    assert (
        'alerts/2026/11/2026-11-19-broken.md:2: title: must be text, but YAML reads NO as a true/false value (put it in quotes: title: "NO")'
        in lines
    )
    assert (
        "alerts/2026/11/2026-11-19-broken.md:3: level: 'Red' is not allowed (allowed: red, amber, green)"
        in lines
    )
    assert any(
        ": sector: unknown field" in line and "did you mean 'sectors'?" in line for line in lines
    )
    assert any(": sectors: is required" in line for line in lines)
    assert any(":4: issued: " in line and "has no UTC offset" in line for line in lines)
    assert any(": source[0]: 'nobody' is not in sources.yml" in line for line in lines)


def test_check_only_the_named_files(content: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_alert(content, "2026-11-19-broken", 'title: "x"')
    good = write_alert(
        content, "2026-11-19-fine", GOOD_FRONT.replace("2026-11-20T08:30", "2026-11-19T08:30")
    )
    assert publish.main(["check", "--content", str(content), "--now", DEMO_NOW, str(good)]) == 0
    assert "1 alert file(s) checked" in capsys.readouterr().out


def test_check_refuses_a_future_alert(content: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_alert(content, "2027-11-20-typo-year", GOOD_FRONT.replace("2026-11-20", "2027-11-20"))
    assert publish.main(["check", "--content", str(content), "--now", DEMO_NOW]) == 1
    err = capsys.readouterr().err
    assert (
        "alerts/2027/11/2027-11-20-typo-year.md:4: issued: 2027-11-20T08:30:00+00:00 is in the future"
        in err
    )


def test_check_thread_must_point_at_an_earlier_alert(
    content: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_alert(
        content, "2026-11-20-follow-up", GOOD_FRONT + 'updates: "2026-11-20-nothing-here"\n'
    )
    assert publish.main(["check", "--content", str(content), "--now", DEMO_NOW]) == 1
    assert (
        ":7: updates: '2026-11-20-nothing-here' is not an alert id in content/alerts/"
        in capsys.readouterr().err
    )


def test_new_writes_a_valid_skeleton(content: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = publish.main(
        [
            "new", "--content", str(content), "--title", "NO: yes & \"quotes\" # not a comment",
            "--level", "green", "--sector", "retail", "--sector", "transport",
            "--source", "btp", "--issued", "2026-11-20T08:00:00+00:00",
        ]
    )  # fmt: skip
    assert code == 0
    path = content / "alerts/2026/11/2026-11-20-no-yes-quotes-not-a-comment.md"
    assert path.is_file()
    assert publish.main(["check", "--content", str(content), "--now", DEMO_NOW, str(path)]) == 0
    assert "wrote " in capsys.readouterr().out


def test_new_without_a_terminal_names_what_is_missing(
    content: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert publish.main(["new", "--content", str(content), "--level", "red"]) == 2
    assert "missing --title, --sector, --source" in capsys.readouterr().err


def test_bad_alert_fails_build_and_keeps_previous_site(
    content: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "output"
    assert build(content, output) == 0
    before = tree_digest(output)
    write_alert(content, "2026-11-20-bad", GOOD_FRONT.replace('"amber"', '"purple"'))
    assert build(content, output) == 1
    err = capsys.readouterr().err
    assert (
        "alerts/2026/11/2026-11-20-bad.md:3: level: 'purple' is not allowed (allowed: red, amber, green)"
        in err
    )
    assert tree_digest(output) == before
    assert not list(tmp_path.glob(".output.*")), "staging left behind"


def test_build_is_reproducible(content: Path, tmp_path: Path) -> None:
    assert build(content, tmp_path / "a", "--no-cache") == 0
    assert build(content, tmp_path / "b", "--no-cache") == 0
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")


def test_incremental_build_equals_a_cold_build(
    content: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "output"
    assert build(content, output) == 0
    capsys.readouterr()
    # a new alert in a thread, and a correction to an existing one
    write_alert(
        content,
        "2026-11-20-retail-follow-up",
        GOOD_FRONT + 'updates: "2026-11-19-cash-in-transit-robberies"\n',
    )
    old = next(content.glob("alerts/2026/2026-11-18-*.md"))
    text = old.read_text(encoding="utf-8")
    assert "corrections:" not in text
    old.write_text(
        text.replace(
            "\n---\n",
            '\ncorrections:\n  - at: "2026-11-20T08:45:00+00:00"\n    note: "Corrected the helpline number."\n---\n',
            1,
        ).replace("---\n", "---\n", 1),
        encoding="utf-8",
    )
    assert build(content, output) == 0
    out = capsys.readouterr().out
    rendered = int(re.search(r"(\d+) rendered", out).group(1))  # type: ignore[union-attr]
    assert "full build" not in out
    assert 0 < rendered < 60
    cold = tmp_path / "cold"
    assert build(content, cold, "--no-cache", "--full") == 0
    assert tree_digest(output) == tree_digest(cold)


def test_rebuild_with_nothing_changed_renders_nothing(
    content: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "output"
    assert build(content, output) == 0
    before = tree_digest(output)
    capsys.readouterr()
    assert build(content, output) == 0
    assert " 0 rendered" in capsys.readouterr().out
    assert tree_digest(output) == before


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        publish.main(["build", "--now", "yesterday"])
    assert exit_info.value.code == 2
    assert "is not an ISO 8601 date-time" in capsys.readouterr().err


def test_output_keys_do_not_depend_on_hash_seeds(content: Path, tmp_path: Path) -> None:
    """Every key must be the same in every process: repr of a set is not."""
    import contextlib
    import json
    import marshal
    import os
    import sqlite3
    import subprocess
    import sys

    from tests.conftest import ROOT

    manifests = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [sys.executable, str(ROOT / "publish.py"), "build", "--content", str(content),
             "--output", str(tmp_path / "out"), "--now", DEMO_NOW, "--full"],
            check=True, env=env, capture_output=True,
        )  # fmt: skip
        state = content.parent / ".cascade" / "cache"
        # each file's key and digest (a full build writes them all to the snapshot)
        _, _, files = marshal.loads((state / "manifest.index").read_bytes())
        assert json.loads((state / "manifest.json").read_text())["files"] == len(files) > 0
        del files[""]  # the build's own name and clock, not an output's key
        # Alert and history pages are kept apart, in SQLite.
        with contextlib.closing(sqlite3.connect(state / "manifest.alerts.sqlite")) as db:
            pages = dict(db.execute("SELECT k, v FROM pages").fetchall())
        assert pages
        manifests.append({**files, **pages})
    assert manifests[0] == manifests[1]


def test_failed_builds_leave_no_log_handlers_behind(content: Path, tmp_path: Path) -> None:
    import logging

    write_alert(content, "2026-11-20-bad", GOOD_FRONT.replace('"amber"', '"purple"'))
    before = len(logging.getLogger("pelican").handlers)
    for _ in range(3):
        assert build(content, tmp_path / "output") == 1
    assert len(logging.getLogger("pelican").handlers) == before


def test_a_cold_build_keeps_every_list_item_for_the_next_build(tmp_path: Path) -> None:
    """Pages rendered in forked workers cache their list items; pruning after a full build
    must not throw those away (the next build would render thousands again)."""
    import sqlite3

    from bench.synth import write_archive

    content = tmp_path / "content"
    written = write_archive(content, 450)  # enough outputs to render on every core
    assert build(content, tmp_path / "output") == 0
    store = content.parent / ".cascade" / "cache" / "fragments.sqlite"
    (count,) = sqlite3.connect(store).execute("SELECT count(*) FROM fragment").fetchone()
    # one list item per alert, plus feed entries
    assert count > len(written)


def test_the_script_exits_with_the_commands_status_and_no_traceback(
    content: Path, tmp_path: Path
) -> None:
    """Run as a program (as comms officers and CI run it): the status is the command's."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "publish.py"), *args],
            capture_output=True,
            text=True,
            check=False,
        )

    good = run(
        "build", "--content", str(content), "--output", str(tmp_path / "out"), "--now", DEMO_NOW
    )
    assert good.returncode == 0 and "built " in good.stdout
    write_alert(content, "2026-11-20-bad", GOOD_FRONT.replace('"amber"', '"purple"'))
    bad = run("check", "--content", str(content), "--now", DEMO_NOW)
    assert bad.returncode == 1
    assert "2026-11-20-bad.md" in bad.stderr and "level" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_build_folds_the_content_stores_log_into_it(tmp_path: Path) -> None:
    """A cold build writes every alert's body at once: left in the write-ahead log, that
    would be folded in by whichever build opened the store next (a tenth of a second at
    10,000 alerts, in the first build after a cold one)."""
    content = copy_content(tmp_path)
    output = tmp_path / "output"
    assert build(content, output) == 0
    cache = content.parent / ".cascade" / "cache"
    assert (cache / "alerts.sqlite").stat().st_size > 0
    assert not (cache / "alerts.sqlite-wal").exists()
