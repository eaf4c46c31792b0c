"""Connect the audit to the alerts generator: run it before writing, publish its pages."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from functools import partial
from itertools import repeat
from operator import getitem, itemgetter
from typing import Any, Final

from alerts.forked import ForkedCall
from alerts.gitcontent import GitContent
from alerts.index import ID, SHA
from alerts.pages import Page, PagePlan

from .build import BuildAudit, audit_build, verified_provenance
from .bulk import collector_paused
from .journal import DIGEST_SIZE

AUDIT_PAGE = "audit/index.html"
AUDIT_JSON = "audit/audit.json"
LEDGER_JSON = "audit/ledger.json"
# A history page's key: its file's digest (the first 32 hex digits of its SHA-256), its
# revisions' digest (or a stand-in as long, that no digest is) and a tail every page shares.
_FILE: Final = slice(None, 32)
_NO_HISTORY: Final = "-" * DIGEST_SIZE
_TAIL: Final = 16


def start_audit(generator: Any) -> None:
    """Receiver of alerts.events.content_loading: the audit reads git and its own cache,
    not the content the generator is about to load, so it runs meanwhile in a forked child
    (at 100,000 alerts each step takes tenths of a second, on one core)."""
    generator.audit_call = generator.aside.enter_context(ForkedCall(partial(_audit, generator)))


def audit_content(generator: Any) -> None:
    """Receiver of alerts.events.content_loaded: audit (or take what start_audit's child
    found), then share what it found."""
    call: ForkedCall[BuildAudit] | None = getattr(generator, "audit_call", None)
    audit = call.result() if call is not None else _audit(generator)
    generator.audit = audit
    provenance = verified_provenance(audit)
    if generator.provenance:
        generator.provenance = {**generator.provenance, **provenance.whole()}
    else:
        generator.provenance = provenance  # looked up alert by alert
    generator.provenance_mark = _mark(audit)
    generator.provenance_changes = partial(_changed_since, audit)
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


def _audit(generator: Any) -> BuildAudit:
    settings = generator.cascade
    return audit_build(
        generator.content_dir,
        settings,
        generator.now,
        generator.state_dir,
        settings.accept_rewrite,
        # The build's stamp found content/ to be a tree of HEAD (git status: nothing else).
        committed=isinstance(generator.settings.get("CASCADE_CONTENT_STAMPS"), GitContent),
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
    with collector_paused():
        _emit_histories(generator, audit)


def _mark(audit: BuildAudit) -> str:
    """Names the signers and histories this build shows, for the next build to tell which
    changed since (see `_changed_since`): "" if it cannot be told."""
    report = audit.report
    if report is None or not report.ok:
        # Without a report every page says why; with violations, the alerts shown as
        # signed are those at HEAD, which no mark follows.
        return ""
    histories = report.revisions.histories.mark()
    return f"{histories}:{report.revisions.salt or '-'}" if histories else ""


def _changed_since(audit: BuildAudit, published: str) -> set[str] | None:
    """The alerts whose signer or history may differ from what the build that published
    `published` (its `_mark`) showed; None if that cannot be told."""
    mark = _mark(audit)
    histories, _, salt = published.rpartition(":")
    if not mark or not histories or salt != mark.rpartition(":")[2]:
        return None
    assert audit.report is not None
    return audit.report.revisions.histories.changed_since(histories)


def _emit_histories(generator: Any, audit: BuildAudit) -> None:
    """Every alert's history page, keyed by what it shows.

    The history shows the alert's title and level, from its file, and its revisions: the
    file's digest and the revisions' stand for all of it, so an unchanged history costs no
    reading and no hashing. The keys are made from the alerts' slim records in C loops and
    the unchanged pages kept in one call: an Alert and a Page are made only for the few
    histories that changed, not for the whole archive.
    """
    report = audit.report
    revisions = report.revisions if report else None
    # What every history shows alike: why there is no audit (if so), and which commits a
    # revocation withdrew (rare: each revision says whether it verified).
    tail = hashlib.sha256(
        f"{audit.problem or ''}\0{revisions.salt if revisions else ''}".encode()
    ).hexdigest()[:_TAIL]
    collection = generator.loaded.collection
    slims = collection.slims
    if generator.carrying and slims is not None:
        _emit_changed_histories(generator, audit, tail)
        return
    digests = revisions.histories.digests() if revisions else {}
    shas = None if slims is None else list(map(itemgetter(SHA), slims))
    if slims is None or shas is None or "" in shas:
        # No slim records (or a file's digest unknown): a collection made otherwise.
        alerts = list(collection.alerts)
        ids = [alert.id for alert in alerts]
        shas = [alert.content_hash or _file_digest(alert) for alert in alerts]
    else:
        alerts = collection.alerts
        ids = list(map(itemgetter(ID), slims))
    # Every key is as long as every other (a file digest, a history digest or a stand-in
    # as long, the tail), so a key published for one page ends with no other's. Joined
    # in C loops: a format per alert costs twice as much.
    files: Iterator[str] = map(getitem, shas, repeat(_FILE))
    found = map(digests.get, ids, repeat(_NO_HISTORY))
    keys = list(map("".join, zip(files, found, repeat(tail))))
    rels = list(map("".join, zip(repeat("alerts/"), ids, repeat("/history/index.html"))))
    for position in _changed(generator, rels, keys):
        alert = alerts[position]
        generator.emit_page(
            Page(rels[position], "history.html", keys[position], _history_context(alert, audit))
        )


def _emit_changed_histories(generator: Any, audit: BuildAudit, tail: str) -> None:
    """The history pages that may have changed since the build that published the site
    (alerts/ is carried whole: see AlertsGenerator.carrying): those of the alerts whose
    file changed since, and of those whose revisions did (`signers_changed`). The tail
    every history shows is in the published mark, so it is as it was."""
    collection = generator.loaded.collection
    slims, by_id = collection.slims, collection.by_id
    report = audit.report
    histories = report.revisions.histories if report else None
    wanted = set(generator.signers_changed)
    for old, new in generator.basis.changes.values():
        wanted.update(slim[ID] for slim in (old, new) if slim is not None)
    for alert_id in sorted(wanted):
        if alert_id not in by_id:
            continue  # gone: its folder is dropped
        position = collection.position(alert_id)
        sha = slims[position][SHA]
        found = histories.digest(alert_id) if histories else ""
        key = f"{sha[_FILE] if sha else _file_digest(by_id[alert_id])}{found or _NO_HISTORY}{tail}"
        generator.emit_page(
            Page(
                f"alerts/{alert_id}/history/index.html",
                "history.html",
                key,
                _history_context(collection.alerts[position], audit),
            )
        )


def _changed(generator: Any, rels: list[str], keys: list[str]) -> list[int]:
    """Keep the pages of `rels` whose key is as published; the positions of the others.

    The output writer does it in one loop (unchanged_endings: the whole key is the ending,
    as every history key is as long as every other).
    """
    missed: list[int] = generator.unchanged_endings(rels, keys)
    return missed


def _file_digest(alert: Any) -> str:
    """What the alert's file holds that a history shows, when its digest is not known."""
    inputs = f"{alert.id}\0{alert.title}\0{alert.level.value}"
    return hashlib.sha256(inputs.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _history_context(alert: Any, audit: BuildAudit) -> Any:
    report = audit.report
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
