"""Signals other Cascade plugins connect to (feeds, audit), sent by the alerts generator."""

from __future__ import annotations

from blinker import signal

# Sent with the AlertsGenerator just before it loads content; receivers may start work that
# does not need the content aside (`generator.aside`, closed if the build stops there).
content_loading = signal("cascade-content-loading")
# Sent with the AlertsGenerator after content is loaded and before anything is written;
# receivers may attach per-alert provenance (the audit) through `generator.provenance`.
content_loaded = signal("cascade-content-loaded")
# Sent with the AlertsGenerator while it writes; receivers emit their own outputs
# through `generator.emit(path, key_parts, render)`.
write_outputs = signal("cascade-write-outputs")
# Sent with the AlertsGenerator once the new site is in place.
build_published = signal("cascade-build-published")
