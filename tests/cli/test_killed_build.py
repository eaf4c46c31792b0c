"""A build killed part-way leaves the published site byte-for-byte as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.synth import write_archive
from tests.cli.test_cli import tree_digest
from tests.conftest import DEMO_NOW, ROOT


def command(content: Path, output: Path, *extra: str) -> list[str]:
    return [sys.executable, str(ROOT / "publish.py"), "build", "--content", str(content),
            "--output", str(output), "--now", DEMO_NOW, *extra]  # fmt: skip


def run_build(content: Path, output: Path) -> None:
    done = subprocess.run(command(content, output), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_killed_build_leaves_previous_site_intact(tmp_path: Path) -> None:
    content = tmp_path / "content"
    write_archive(content, 1500)
    output = tmp_path / "output"
    run_build(content, output)
    before = tree_digest(output)

    # Change every alert's level of detail so the next build must re-render everything,
    # then kill it while it is writing pages into the staging folder.
    for path in content.rglob("*.md"):
        path.write_text(path.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    staging = tmp_path / ".output.staging"
    build = subprocess.Popen(
        command(content, output, "--full"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and build.poll() is None:
        if staging.is_dir() and sum(1 for _ in staging.rglob("*.html")) > 20:
            break
        time.sleep(0.005)
    assert build.poll() is None, "the build finished before it could be killed"
    os.kill(build.pid, signal.SIGKILL)
    build.wait(timeout=30)
    assert tree_digest(output) == before

    # The next build cleans up after the killed one and publishes the new content.
    run_build(content, output)
    assert tree_digest(output) != before
    assert not staging.exists()
    assert "One more line." in next(output.glob("alerts/*/index.html")).read_text(encoding="utf-8")
