"""publish.py serve: serves the built site and rebuilds when content changes."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.cli.test_cli import GOOD_FRONT, write_alert
from tests.conftest import DEMO_NOW, ROOT, copy_content


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, ""


def test_serve_rebuilds_on_change(tmp_path: Path) -> None:
    content = copy_content(tmp_path)
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "publish.py"), "serve", "--content", str(content),
         "--output", str(tmp_path / "output"), "--now", DEMO_NOW, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = ""
        for line in server.stdout:
            if line.startswith("serving "):
                break
        match = re.search(r"at (http://[\d.]+:\d+)/", line)
        assert match, line
        base = match.group(1)
        status, home = fetch(base + "/")
        assert status == 200 and "Current alerts" in home
        assert fetch(base + "/alerts/2026-11-20-served-live/")[0] == 404

        write_alert(content, "2026-11-20-served-live", GOOD_FRONT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, page = fetch(base + "/alerts/2026-11-20-served-live/")
            if status == 200:
                break
            time.sleep(0.2)
        assert status == 200 and "Suspicious package at Example Street" in page
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout:
            server.stdout.close()
