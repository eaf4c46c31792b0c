#!/usr/bin/env python3
"""Benchmark Cascade against issue 6's targets on a synthetic, really signed archive.

    python bench/run.py --alerts 10000 [--runs 5] [--big 100000]

Builds a git repository of N alerts (one signed commit each up to 10,000; ten per commit
above), then measures with `publish.py build --production` as a whole process: a cold
build with empty caches, a rebuild with nothing changed, one new alert committed then
built, peak memory; the audit cold and incremental; the same content built by plain
Pelican (default theme, tag pages and feeds, default pagination); Hugo when installed.
Prints medians and ratios. Timings live here, never in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from bench.signedrepo import Signer, allowed_signers, append_commits, init  # noqa: E402
from bench.synth import SynthAlert, alerts, write_registry  # noqa: E402

NOW = "2026-11-20T09:00:00+00:00"
SIGNERS = [Signer.from_seed(name, seed) for name, seed in (("alice", 1), ("bob", 2), ("carol", 3))]
TARGETS = {
    "one new alert": 1.0,
    "nothing changed": 0.7,
}


def measure(command: Sequence[str], cwd: Path | None = None) -> tuple[float, int]:
    """Wall time and peak resident memory (MB) of `command` and the processes it starts."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
        "elapsed = time.perf_counter() - t\n"
        "if done.returncode: sys.stderr.buffer.write(done.stderr); sys.exit(done.returncode)\n"
        "print(elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *command], cwd=cwd, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr}")
    seconds, kilobytes = done.stdout.split()
    return float(seconds), int(kilobytes) // 1024


class Archive:
    """A signed content repository and the commands that build it."""

    def __init__(self, base: Path, count: int) -> None:
        self.base = base
        self.repo = base / "repo"
        self.content = self.repo / "content"
        self.output = base / "output"
        self.conf = base / "conf.py"
        self.count = count
        self.added = 0
        init(self.repo)
        scratch = base / "registry"
        write_registry(scratch)
        files = {
            f"content/{p.relative_to(scratch).as_posix()}": p.read_bytes().decode("latin-1")
            for p in scratch.rglob("*")
            if p.is_file()
        }
        files[".signers/allowed_signers"] = allowed_signers(SIGNERS)
        per_commit = 1 if count <= 10_000 else 10
        batch: list[SynthAlert] = []
        commits: list[tuple[Signer, str, dict[str, str]]] = [
            (SIGNERS[0], "Registry and signers", files)
        ]
        for index, alert in enumerate(alerts(count, seed=1)):
            batch.append(alert)
            if len(batch) == per_commit:
                signer = SIGNERS[index % len(SIGNERS)]
                commits.append(
                    (signer, f"Alert {alert.id}", {f"content/{a.path}": a.text for a in batch})
                )
                batch = []
        if batch:
            commits.append(
                (SIGNERS[0], "Last alerts", {f"content/{a.path}": a.text for a in batch})
            )
        self.time = 1_600_000_000
        append_commits(self.repo, commits, self.time)
        self.time += 60 * len(commits)
        # The signed commits were written as loose objects; a publisher's clone receives
        # packs, and git packs a repository's loose objects itself past a few thousand.
        subprocess.run(["git", "-C", str(self.repo), "gc", "--quiet", "--prune=now"], check=True)
        self.conf.write_text(
            "import sys\n"
            f"sys.path.insert(0, {str(ROOT)!r})\n"
            "from publishconf import *\n"
            f"THEME = {str(ROOT / 'theme')!r}\n"
            f"PLUGIN_PATHS = [{str(ROOT / 'plugins')!r}]\n"
            f"AUDIT_TRUSTED_SIGNERS = [{SIGNERS[0].fingerprint!r}]\n",
            encoding="utf-8",
        )

    def build(self) -> list[str]:
        return [
            sys.executable, str(ROOT / "publish.py"), "build", "--production",
            "--settings", str(self.conf), "--content", str(self.content),
            "--output", str(self.output), "--now", NOW,
        ]  # fmt: skip

    def clean(self) -> None:
        shutil.rmtree(self.repo / ".cascade", ignore_errors=True)
        shutil.rmtree(self.output, ignore_errors=True)

    def add_alert(self) -> None:
        """Commit one new retail alert, signed, as a comms officer would."""
        self.added += 1
        issued = datetime.fromisoformat(NOW) - timedelta(minutes=59 - self.added % 50)
        alert_id = f"{issued.date().isoformat()}-bench-retail-{self.added}"
        text = (
            f'---\ntitle: "Bench alert {self.added}"\nlevel: "amber"\n'
            f'issued: "{issued.isoformat()}"\nsectors: ["retail", "hospitality"]\n'
            f'source: "met-police"\n---\n\nShops on the high street should review their plans.\n'
        )
        append_commits(
            self.repo,
            [
                (
                    SIGNERS[1],
                    f"Amber: {alert_id}",
                    {f"content/alerts/{issued:%Y/%m}/{alert_id}.md": text},
                )
            ],
            self.time,
        )
        self.time += 60


def plain_pelican(base: Path, count: int) -> dict[str, tuple[float, int]]:
    """The same alerts as plain Pelican articles: default theme, tags, feeds, pagination."""
    content = base / "pelican" / "content"
    content.mkdir(parents=True)
    synthetic = list(alerts(count, seed=1))

    def write(alert: SynthAlert) -> None:
        front, body = alert.text.split("---\n", 2)[1:]
        meta = {
            k.strip(): v.strip().strip('"')
            for k, _, v in (line.partition(":") for line in front.splitlines())
            if v
        }
        tags = meta.get("sectors", "").strip("[]").replace('"', "")
        (content / f"{alert.id}.md").write_text(
            f"Title: {meta['title']}\nDate: {alert.issued.isoformat()}\nCategory: {meta['level']}\n"
            f"Tags: {tags}\nSlug: {alert.id}\n\n{body}",
            encoding="utf-8",
        )

    for alert in synthetic:
        write(alert)
    conf = base / "pelican" / "pelicanconf.py"
    conf.write_text(
        'SITENAME = "Plain"\nSITEURL = ""\nTIMEZONE = "Europe/London"\nDEFAULT_LANG = "en"\n'
        'FEED_ALL_ATOM = "feeds/all.atom.xml"\nTAG_FEED_ATOM = "feeds/tag/{slug}.atom.xml"\n'
        "DEFAULT_PAGINATION = 10\nCACHE_CONTENT = True\nLOAD_CONTENT_CACHE = True\n"
        f"CACHE_PATH = {str(base / 'pelican' / 'cache')!r}\n",
        encoding="utf-8",
    )
    command = [
        sys.executable,
        "-m",
        "pelican",
        str(content),
        "-s",
        str(conf),
        "-o",
        str(base / "pelican" / "out"),
        "-q",
    ]
    settle()
    cold = measure(command)
    settle()
    (content / "zz-new.md").write_text(
        "Title: One more\nDate: 2026-11-20T08:59:00+00:00\nCategory: amber\nTags: retail\n\nNew.\n",
        encoding="utf-8",
    )
    incremental = measure(command)
    return {"cold": cold, "one new alert": incremental}


def settle() -> None:
    """Write what the page cache holds to disk before timing the next row. A cold build
    leaves about a gigabyte of files written; flushing them takes this machine's disk
    some tens of seconds, and any build timed meanwhile waits on it (one new alert took
    1.14 s instead of 0.88 s right after a cold build). A publisher's builds run long
    after the cold build, so each row is timed on a settled disk."""
    os.sync()


def timed_audit(archive: Archive, runs: int = 3) -> tuple[float, float]:
    """In-process: a cold audit without cache (median of `runs`: a few seconds each, and
    the machine's speed wanders), then an incremental one after a new commit."""
    from audit.audit import audit_repository
    from audit.ledger import Ledger
    from audit.policy import AuditPolicy

    policy = AuditPolicy(trusted_signers=(SIGNERS[0].fingerprint,))
    now = datetime.fromisoformat(NOW)
    cache = archive.base / "audit-cache"
    colds = []
    for _ in range(runs):
        shutil.rmtree(cache, ignore_errors=True)
        started = time.perf_counter()
        audit_repository(archive.content, policy, now, Ledger(), cache)
        colds.append(time.perf_counter() - started)
    cold = median(colds)
    archive.add_alert()
    started = time.perf_counter()
    audit_repository(archive.content, policy, now, Ledger(), cache)
    return cold, time.perf_counter() - started


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def compile_bytecode() -> None:
    """Compile our code to bytecode, as installing a package does (pip compiles what it
    installs). An editable checkout under PYTHONDONTWRITEBYTECODE=1 (this machine's
    default) would otherwise compile every plugin module from source in every build, some
    0.1 s that a deployed publisher does not pay."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "plugins"), str(ROOT / "publish.py")],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def run(count: int, runs: int, big: int, hugo: bool) -> dict[str, object]:
    results: dict[str, object] = {"alerts": count, "runs": runs}
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        base = Path(tmp)
        started = time.perf_counter()
        archive = Archive(base / "main", count)
        results["repository_seconds"] = round(time.perf_counter() - started, 1)
        colds, peaks = [], []
        for _ in range(min(runs, 3)):
            archive.clean()
            settle()
            seconds, peak = measure(archive.build())
            colds.append(seconds)
            peaks.append(peak)
        results["cold"] = median(colds)
        results["cold_peak_mb"] = max(peaks)
        settle()
        results["nothing changed"] = median([measure(archive.build())[0] for _ in range(runs)])
        one_new = []
        for _ in range(runs):
            archive.add_alert()
            one_new.append(measure(archive.build())[0])
        results["one new alert"] = median(one_new)
        results["one new alert, each run"] = [round(seconds, 3) for seconds in one_new]
        results["audit_cold"], results["audit_incremental"] = timed_audit(archive)
        results["plain_pelican"] = plain_pelican(base, count)
        if hugo and shutil.which("hugo"):
            results["hugo"] = "installed, not measured by this script yet"
        if big:
            big_archive = Archive(base / "big", big)
            measure(big_archive.build())
            settle()
            # Alternately at each size, so that both medians come from the same minutes:
            # this machine's speed drifts by a third over an hour, more than the margin.
            big_runs, beside = [], []
            for _ in range(max(3, runs)):
                big_archive.add_alert()
                big_runs.append(measure(big_archive.build())[0])
                archive.add_alert()
                beside.append(measure(archive.build())[0])
            results["one new alert at big"] = median(big_runs)
            results["one new alert beside big"] = median(beside)
            results["one new alert at big, each run"] = [round(s, 3) for s in big_runs]
            results["one new alert beside big, each run"] = [round(s, 3) for s in beside]
            results["big"] = big
    return results


def report(results: dict[str, object]) -> str:
    n = results["alerts"]
    pelican = results["plain_pelican"]
    assert isinstance(pelican, dict)
    cold = float(results["cold"])  # type: ignore[arg-type]
    rows = [
        (
            "one new alert committed -> build --production",
            f"{results['one new alert']:.2f} s",
            "<= 1.0 s",
            float(results["one new alert"]) <= 1.0,
        ),  # type: ignore[arg-type]
        (
            "rebuild with nothing changed",
            f"{results['nothing changed']:.2f} s",
            "<= 0.7 s",
            float(results["nothing changed"]) <= 0.7,
        ),  # type: ignore[arg-type]
        (
            "cold full build, empty caches",
            f"{cold:.1f} s ({cold / pelican['cold'][0]:.2f} x plain Pelican {pelican['cold'][0]:.1f} s)",
            "<= 0.5 x",
            cold <= 0.5 * pelican["cold"][0],
        ),
        (
            "peak memory of a cold build",
            f"{results['cold_peak_mb']} MB",
            "<= 400 MB",
            int(results["cold_peak_mb"]) <= 400,
        ),  # type: ignore[call-overload]
    ]
    if "one new alert at big" in results:
        big = float(results["one new alert at big"])  # type: ignore[arg-type]
        beside = float(results["one new alert beside big"])  # type: ignore[arg-type]
        ratio = big / beside
        rows.append(
            (
                f"one new alert at {results['big']:,} alerts",
                f"{big:.2f} s ({ratio:.2f} x {beside:.2f} s at {n:,}, runs alternated)",
                "<= 2 x",
                ratio <= 2,
            )
        )
    width = max(len(r[0]) for r in rows)
    shown = max(len(r[1]) for r in rows)
    lines = [
        f"Cascade benchmark: {n:,} alerts, {n:,}+ signed commits, median of {results['runs']} runs",
        "",
    ]
    lines.append(f"{'measure':<{width}}  {'result':<{shown}}  target     met")
    for name, value, target, met in rows:
        lines.append(f"{name:<{width}}  {value:<{shown}}  {target:<10} {'yes' if met else 'NO'}")
    lines += [
        "",
        f"audit of the history: cold {results['audit_cold']:.2f} s, incremental after one commit {results['audit_incremental']:.3f} s (targets 2 s, 0.2 s)",
        f"plain Pelican 4 on the same content: cold {pelican['cold'][0]:.1f} s ({pelican['cold'][1]} MB), one new alert {pelican['one new alert'][0]:.1f} s",
        f"hugo: {results.get('hugo', 'not installed')}",
        f"(building the signed repository took {results['repository_seconds']} s)",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--big", type=int, default=0, help="also time one new alert at this size")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    results = run(args.alerts, args.runs, args.big, hugo=True)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
