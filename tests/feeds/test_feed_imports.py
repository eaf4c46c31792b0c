"""Loading the feeds plugin imports no XML library: most builds render no Atom or RSS feed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Needed only to render an Atom or RSS feed, or an entry.
RENDER_ONLY = (
    "lxml",
    "feedgen",
    "alert_feeds.atom_rss",
    "alert_feeds.extension",
    "alert_feeds.entry",
)


def test_loading_the_plugin_imports_no_renderer_of_xml() -> None:
    # A fresh interpreter: this one has imported them for other tests.
    code = (
        "import sys, alert_feeds, alert_feeds.outputs\n"
        f"print(sorted(m for m in {RENDER_ONLY!r} if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
