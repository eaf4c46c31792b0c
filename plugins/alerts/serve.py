"""Serve the built site on localhost and rebuild when content or theme files change."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _snapshot(roots: list[Path]) -> dict[str, tuple[int, int]]:
    seen: dict[str, tuple[int, int]] = {}
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                stat = path.stat()
                seen[str(path)] = (stat.st_mtime_ns, stat.st_size)
    return seen


def serve(
    settings: dict[str, Any],
    rebuild: Callable[[], None],
    bind: str,
    port: int,
    interval: float = 1.0,
) -> int:
    output = Path(settings["OUTPUT_PATH"])
    watched = [Path(settings["PATH"]), Path(settings["THEME"])]
    # Serve from the output folder's parent so a rebuild's folder swap is picked up.
    handler = functools.partial(_SiteHandler, output=output)
    server = http.server.ThreadingHTTPServer((bind, port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    actual_port = server.server_address[1]  # port 0 asks the system for a free one
    print(f"serving {output} at http://{bind}:{actual_port}/ (Ctrl-C to stop)", flush=True)
    before = _snapshot(watched)
    try:
        while True:
            time.sleep(interval)
            now = _snapshot(watched)
            if now != before:
                before = now
                rebuild()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would bury the rebuild messages

    def __init__(self, *args: Any, output: Path, **kwargs: Any) -> None:
        self._output = output
        super().__init__(*args, directory=str(output), **kwargs)

    def translate_path(self, path: str) -> str:
        # Resolve against the current output folder: a full build swaps in a new one.
        self.directory = str(self._output)
        return super().translate_path(path)
