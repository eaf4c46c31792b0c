"""Connect the audit to the alerts generator: run it before writing, publish its pages."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from alerts.pages import Page, PagePlan

from .build import BuildAudit, audit_build, verified_provenance
from .bulk import collector_paused
from .report import AuditReport

AUDIT_PAGE = "audit/index.html"
AUDIT_JSON = "audit/audit.json"
LEDGER_JSON = "audit/ledger.json"


def audit_content(generator: Any) -> None:
    """Receiver of alerts.events.content_loaded: audit, then share what it found."""
    settings = generator.cascade
    audit = audit_build(
        generator.content_dir,
        settings,
        generator.now,
        generator.state_dir,
        settings.accept_rewrite,
    )
    generator.audit = audit
    generator.provenance.update(verified_provenance(audit))
    if not audit.verified or not audit.production:
        generator.page_context.setdefault("site_notices", []).append(
            {
                "title": "History not verified.",
                "text": "This site was not built from a verified, signed history: "
                + "; ".join(audit.reasons)
                + ".",
                "link": "audit/",
                "link_text": "See the audit.",
            }
        )


def write_audit(generator: Any) -> None:
    """Receiver of alerts.events.write_outputs: /audit/, its JSON, the ledger, histories."""
    audit: BuildAudit = generator.audit
    summary = audit_summary(audit)
    summary_bytes = _json(summary)
    ledger_bytes = _json(audit.ledger.to_json())
    generator.emit(AUDIT_JSON, ("audit-json", summary_bytes), lambda: summary_bytes)
    generator.emit(LEDGER_JSON, ("ledger-json", ledger_bytes), lambda: ledger_bytes)
    generator.emit_page(
        PagePlan(
            AUDIT_PAGE,
            "audit.html",
            ("audit", summary_bytes),
            lambda: {"audit": audit, "summary": summary, "page_scope": "all"},
        )
    )
    report = audit.report
    problem = hashlib.sha256((audit.problem or "").encode()).hexdigest()[:16]
    digests = report.revisions.digests() if report else {}
    with collector_paused():
        _emit_histories(generator, audit, digests, problem)


def _emit_histories(
    generator: Any, audit: BuildAudit, digests: Mapping[str, str], problem: str
) -> None:
    """Every alert's history page, keyed by what it shows."""
    report = audit.report
    for alert in generator.loaded.collection.alerts:
        # The history shows the alert's title and level, from its file, and its revisions:
        # the file's digest and the revisions' stand for all of it, so that an unchanged
        # history costs no reading and no hashing.
        key = (
            f"{alert.content_hash[:32] or _file_digest(alert)}{digests.get(alert.id, '')}{problem}"
        )
        generator.emit_page(
            Page(
                f"alerts/{alert.id}/history/index.html",
                "history.html",
                key,
                _history_context(alert, report, audit),
            )
        )


def _file_digest(alert: Any) -> str:
    """What the alert's file holds that a history shows, when its digest is not known."""
    inputs = f"{alert.id}\0{alert.title}\0{alert.level.value}"
    return hashlib.sha256(inputs.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _history_context(alert: Any, report: AuditReport | None, audit: BuildAudit) -> Any:
    return lambda: {
        "alert": alert,
        "revisions": report.revisions.get(alert.id, ()) if report else (),
        "problem": audit.problem,
        "page_scope": "all",
    }


def audit_summary(audit: BuildAudit) -> dict[str, Any]:
    """/audit/audit.json: the policy, what was checked, signers, ledger and violations.

    Per-alert revisions are on each alert's history page, not here: at archive scale they
    would make this file megabytes long.
    """
    report = audit.report
    full = report.to_json(history=False) if report else {}
    return {
        "verified": audit.verified,
        "production": audit.production,
        "problem": audit.problem,
        "reasons": list(audit.reasons),
        "policy": {
            "since": audit.policy.since,
            "trusted_signers": list(audit.policy.trusted_signers),
            "content_prefix": audit.policy.content_prefix,
            "signers_dir": audit.policy.signers_dir,
        },
        **full,
        "ledger": audit.ledger.to_json(),
    }


def _json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()


def save_ledger(generator: Any) -> None:
    """Receiver of alerts.events.build_published: a production build's head joins the
    ledger only once the site that shows it is in place."""
    audit: BuildAudit = generator.audit
    if audit.production:
        audit.ledger.save(audit.ledger_path)
