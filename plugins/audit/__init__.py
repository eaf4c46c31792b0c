"""Cascade's audit plugin: verify the signed, append-only history and show it to reviewers."""

from __future__ import annotations

# The receivers are imported when Pelican registers the plugin, not when publish.py imports
# audit.errors: a rebuild with nothing changed must not pay for loading the whole audit.


def register() -> None:
    from alerts.events import build_published, content_loaded, content_loading, write_outputs

    from .site import audit_content, save_ledger, start_audit, write_audit

    content_loading.connect(start_audit)
    content_loaded.connect(audit_content)
    write_outputs.connect(write_audit)
    build_published.connect(save_ledger)
