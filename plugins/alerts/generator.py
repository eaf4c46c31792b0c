"""The Pelican generator that reads alerts and writes every page through one SiteOutput."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import marshal
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import FileSystemBytecodeCache
from markupsafe import Markup
from pelican.generators import Generator

from . import present
from .build import ErrorCollector
from .cache import AlertCache
from .errors import BuildError
from .events import build_published, content_loaded, content_loading, write_outputs
from .fingerprint import code_fingerprint, files_fingerprint
from .fragments import FragmentStore
from .index import ID
from .journal import collector_paused
from .loader import LoadedContent, load_content
from .model import ALL_SECTORS, Alert, Level, Provenance
from .output import SiteOutput, WriteStats
from .pages import ItemKeys, Members, Page, PagePlan, counts_since, group_counts, plan_pages
from .security import CONTENT_SECURITY_POLICY, REFERRER_POLICY, headers_file
from .settings import CascadeSettings
from .touched import Basis, sizes_key

logger = logging.getLogger(__name__)
STATIC_DIR = "static"
# Lists at least this long are kept whole as well as item by item (see alert_items).
_WHOLE_LIST = 64


_NO_PROVENANCE = "none"
# The fragment slot of the listings' counts, kept for the next build (see _group_counts).
_COUNTS = "group-counts"


def _no_changes(published: str) -> Collection[str] | None:
    """Without the audit plugin, no alert has a signer: none changed, if none had one."""
    return () if published == _NO_PROVENANCE else None


def _render_item(template: Any, alert: Alert) -> bytes:
    return str(template.render(alert=alert)).encode("utf-8")


def _output_key(parts: tuple[Any, ...]) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


class AlertsGenerator(Generator):  # type: ignore[misc]  # Pelican is untyped
    """Loads content/alerts into the shared context, then writes pages incrementally."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Author text reaches every template; escaping must not depend on a setting.
        self.env.autoescape = True
        self.cascade = CascadeSettings.from_pelican(self.settings)
        self.now = self.cascade.now or datetime.now(UTC)
        self.content_dir = Path(self.path)
        self._code = code_fingerprint()
        self.state_dir = self.cascade.state_path(self.content_dir)
        if not self.cascade.no_cache:
            # Compiling every template again costs more than a whole no-change build's work.
            jinja_cache = self.state_dir / "cache" / "jinja"
            jinja_cache.mkdir(parents=True, exist_ok=True)
            self.env.bytecode_cache = FileSystemBytecodeCache(str(jinja_cache))
        # Filled by the audit plugin: who signed the commit that last changed each alert.
        self.provenance: Mapping[str, Provenance] = {}
        # Set by the audit plugin too: a word naming the signers and histories this build
        # shows (no space; "" if it cannot tell), and, given the word of the build that
        # published the site, the alerts whose signer or history may differ since (None:
        # it cannot tell). Without the plugin, no alert has either.
        self.provenance_mark = _NO_PROVENANCE
        self.provenance_changes: Callable[[str], Collection[str] | None] = _no_changes
        # What the published site was built from (its basis), and the alerts whose signer or
        # history may differ from it: when both are known, alerts/ is carried whole and
        # only those alerts' pages (and the basis's) are looked at (`carrying`).
        self.basis: Basis | None = None
        self.signers_changed: Collection[str] | None = None
        self.counts: dict[str, int] | None = None  # how many alerts each listing holds
        # Set by the audit plugin: what it found, for its pages and the ledger.
        self.audit: Any = None
        self.page_context: dict[str, Any] = {}
        self.stats: WriteStats | None = None
        self.loaded: LoadedContent | None = None
        self._output: SiteOutput | None = None
        self.build_key = ""
        self.items: ItemKeys | None = None
        self._rendering: list[Any] | None = None  # the page being rendered, lists made so far
        self.fragments = FragmentStore(
            None if self.cascade.no_cache else self.state_dir / "cache" / "fragments.sqlite"
        )
        self._errors = ErrorCollector()
        logging.getLogger("pelican").addHandler(self._errors)
        # Work that receivers of content_loading started aside (the audit, in a forked
        # child): closed, so waited for, if loading the content fails.
        self.aside = contextlib.ExitStack()

    # -- context ---------------------------------------------------------------------------

    def generate_context(self) -> None:
        try:
            self._load()
        except BaseException:
            # The build stops here; so must our listening to Pelican's log.
            logging.getLogger("pelican").removeHandler(self._errors)
            self.aside.close()
            raise

    def _load(self) -> None:
        content_loading.send(self)
        cache = AlertCache(
            None if self.cascade.no_cache else self.state_dir / "cache" / "alerts",
            self._code,
        )
        self.loaded = load_content(
            self.content_dir,
            self.now,
            timedelta(minutes=self.cascade.future_tolerance_minutes),
            cache,
            # Stamps of content/alerts/ files, if the caller walked the folder already.
            known_stamps=self.settings.get("CASCADE_CONTENT_STAMPS"),
        )
        self._cache = cache
        self.context["cascade_alerts"] = self.loaded.collection
        self.context["cascade_registry"] = self.loaded.registry
        content_loaded.send(self)

    # -- output ----------------------------------------------------------------------------

    def generate_output(self, writer: Any) -> None:
        """Pelican's own writer is not used: ours stages, skips unchanged and swaps."""
        assert self.loaded is not None
        self.build_key = self._build_key()
        output = SiteOutput(
            Path(self.output_path),
            self.state_dir / "cache" / "manifest.json",
            build_key=self.build_key,
            full=self.cascade.full_rebuild,
            after_batch=self.fragments.save,
        )
        self._output = output
        if output.full:
            # A full build prunes the fragment store afterwards: what it uses must be marked.
            self.fragments.track_use()
        self.items = ItemKeys(self.now, self.cascade.current_window_days)
        basis, published_mark = self._basis(output.previous_state)
        self.basis = basis
        self.signers_changed = None if basis is None else self.provenance_changes(published_mark)
        # Names this build in the manifest and in the content cache: the next build plans
        # from the changes the cache reports only if both were saved by the same build.
        # With its clock, its attachments' sizes and its signers' mark, to see what those
        # changed since.
        self.counts = self._group_counts(basis)
        sizes = sizes_key(self.loaded.collection.sizes)
        mark = self.provenance_mark or "-"
        output.state = f"{secrets.token_hex(8)} {self.items.now_us} {sizes} {mark}"
        try:
            self._install_globals()
            with collector_paused():
                self._plan(output, basis)
            self._copy_static()
            headers = headers_file().encode()
            self.emit("_headers", ("headers", headers), lambda: headers)
            write_outputs.send(self)
            if self._errors.messages:
                raise BuildError("Pelican reported errors:\n" + "\n".join(self._errors.messages))
            self.stats = output.publish()
        except BaseException:
            output.abandon()
            self.fragments.close()
            raise
        finally:
            logging.getLogger("pelican").removeHandler(self._errors)
        generation = (output.recorded_state or "").partition(" ")[0]
        self._cache.save(generation)
        self._cache.close()
        if self.counts is not None:
            # For the next build, which starts from this one's basis.
            counts = marshal.dumps(self.counts)
            self.fragments.get_slot(_COUNTS, generation, lambda: counts)
        self.fragments.save(prune=self.stats.full)
        self.fragments.close()
        logger.info(
            "cascade: %d alerts (%d parsed), %d outputs rendered, %d unchanged",
            len(self.loaded.collection.alerts),
            self.loaded.parsed_now,
            self.stats.rendered,
            self.stats.kept,
        )
        build_published.send(self)

    def _group_counts(self, basis: Basis | None) -> dict[str, int] | None:
        """How many alerts each listing holds: from the counts the basis's build kept and
        the changes since, or counted (None if there are no slim records to count)."""
        assert self.loaded is not None
        slims = self.loaded.collection.slims
        if slims is None:
            return None
        if basis is not None:
            kept = self.fragments.get_slot(_COUNTS, self.loaded.saved_by, lambda: b"")
            try:
                before = marshal.loads(kept) if kept else None
            except (EOFError, ValueError, TypeError):
                before = None
            if isinstance(before, dict):
                return counts_since(before, basis.changes.values())
        return group_counts(slims)

    @property
    def carrying(self) -> bool:
        """Whether alerts/ is carried whole (see `signers_changed`)."""
        return self.basis is not None and self.signers_changed is not None

    def _plan(self, output: SiteOutput, basis: Basis | None) -> None:
        assert self.loaded is not None
        if basis is not None and self.signers_changed is not None:
            output.carry("alerts/")
            # What an alert that is gone left there (its page, its history) goes.
            present = self.loaded.collection.by_id
            for old, _ in basis.changes.values():
                if old is not None and old[ID] not in present:
                    output.drop(f"alerts/{old[ID]}/")
        for page in plan_pages(
            self.loaded.collection,
            self.loaded.registry,
            self.cascade,
            self.now,
            provenance=self.provenance,
            items=self.items,
            published=output,
            basis=basis,
            signers=self.signers_changed,
            counts=self.counts,
        ):
            self.emit_page(page)

    def _basis(self, published_by: str | None) -> tuple[Basis | None, str]:
        """What the build that published the site saw, if the content cache was saved by
        that same build (else its changes are not the site's, and every page is planned),
        and the mark of the signers it showed ("" if none is known)."""
        assert self.loaded is not None
        generation, _, rest = (published_by or "").partition(" ")
        now_us, _, rest = rest.partition(" ")
        sizes, _, mark = rest.partition(" ")
        if not generation or generation != self.loaded.saved_by or not now_us.isdigit():
            return None, ""
        return Basis(self.loaded.changes, int(now_us), sizes), "" if mark == "-" else mark

    def emit(self, path: str, parts: tuple[Any, ...], render: Callable[[], bytes]) -> None:
        """Write `path` from `render()` unless `parts`, its inputs, are as last time.

        `render` may run later, in a forked worker: it must not change shared state
        (fragments it caches are saved by each worker).
        """
        assert self._output is not None
        self._output.emit(path, _output_key(parts), render)

    def emit_keyed(self, path: str, key: str, render: Callable[[], bytes]) -> None:
        """`emit` for a caller that has already digested every input into `key`."""
        assert self._output is not None
        self._output.emit(path, key, render)

    def unchanged(self, path: str, key: str) -> bool:
        """True, with `path` kept as published, if it was last made from `key`: a plugin
        that emits a page per alert can ask this before making the page's Page and context
        (most are unchanged), and emit only the others."""
        assert self._output is not None
        return self._output.unchanged(path, key)

    def unchanged_endings(self, paths: list[str], endings: list[str]) -> list[int]:
        """`unchanged` for thousands of pages at once, each known unchanged if its published
        key ends with its `ending` (see SiteOutput.unchanged_endings): keeps those, returns
        the positions of the others, in C loops."""
        assert self._output is not None
        return self._output.unchanged_endings(paths, endings)

    def emit_page(self, plan: PagePlan | Page) -> None:
        assert self._output is not None
        key = plan.key if isinstance(plan, Page) else _output_key((plan.template, plan.parts))
        if not self._output.unchanged(plan.path, key):
            self._output.emit(plan.path, key, lambda: self.render(plan))

    def render(self, plan: PagePlan | Page) -> bytes:
        template = self.get_template(plan.template.removesuffix(".html"))
        context = {**self.page_context, **plan.context(), "page_path": plan.path}
        self._rendering = [plan.path, 0]
        try:
            return str(template.render(context)).encode("utf-8")
        finally:
            self._rendering = None

    def alert_items(self, alerts: Sequence[Alert]) -> Markup:
        """Listing items for `alerts`, each rendered once and kept in the fragment store:
        a year's archive page can list thousands, and one new alert must not re-render
        them all. A long list is also kept whole, in its page's slot: a new alert changes
        the year counts every year page shows, not the items of past years."""
        if not isinstance(alerts, Members):
            items = self.items or ItemKeys(self.now, self.cascade.current_window_days)
            lines = [items.line(alert) for alert in alerts]
            alerts = Members(alerts, range(len(alerts)), lines.__getitem__)
        # Members: lines and digest worked out from slim records, no Alert built for them.
        if len(alerts) < _WHOLE_LIST or self._rendering is None:
            return Markup(self._items(alerts).decode("utf-8"))  # rendered with autoescape
        page, count = self._rendering
        self._rendering[1] = count + 1
        key = hashlib.sha256(f"{self.build_key} list {alerts.digest}".encode()).hexdigest()
        block = self.fragments.get_slot(f"{page}#{count}", key, lambda: self._items(alerts))
        return Markup(block.decode("utf-8"))  # rendered with autoescape

    def _items(self, alerts: Members) -> bytes:
        template = self.get_template("_item")
        salt = f"{self.build_key} item "
        sha256 = hashlib.sha256
        keys = [sha256((salt + line).encode()).hexdigest() for line in alerts.lines]
        pieces = self.fragments.get_many(keys, lambda i: _render_item(template, alerts[i]))
        return b"\n".join(pieces)

    def _copy_static(self) -> None:
        assert self._output is not None
        static = Path(self.theme) / STATIC_DIR
        for source in sorted(p for p in static.rglob("*") if p.is_file()):
            self._output.copy(f"theme/{source.relative_to(static).as_posix()}", source)
        assert self.loaded is not None
        names = self.loaded.collection.attachment_names()
        for name in names:
            self._output.copy(f"attachments/{name}", self.content_dir / "attachments" / name)

    # -- what every page may use -----------------------------------------------------------

    def _build_key(self) -> str:
        """Inputs shared by every page: code, templates, settings, sectors and sources."""
        assert self.loaded is not None
        theme = files_fingerprint([Path(self.theme)], ("*",))
        parts = (
            self._code,
            theme,
            repr(self.cascade.page_settings()),
            repr(sorted(self.loaded.registry.sectors.items())),
            repr(sorted(self.loaded.registry.sources.items())),
            repr(self.page_context.get("site_notices", [])),
        )
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def _install_globals(self) -> None:
        assert self.loaded is not None
        zone = self.cascade.timezone
        site_url = self.cascade.site_url
        registry = self.loaded.registry
        self.env.filters.update(
            {
                "local_time": lambda moment: present.local_time(moment, zone),
                "short_time": lambda moment: present.short_time(moment, zone),
                "iso": present.iso,
                "human_size": present.human_size,
                "file_kind": present.file_kind,
                "sector_name": registry.sector_name,
                "source_name": registry.source_name,
            }
        )
        self.env.globals.update(
            {
                "url": lambda path="": f"{site_url}/{path}",
                "body": lambda alert: Markup(alert.body_html),  # sanitised by sanitise_html
                "levels": list(Level),
                "registry": registry,
                "ALL_SECTORS": ALL_SECTORS,
                "site": self.cascade,
                "is_expired": lambda alert: alert.expired(self.now),
                "alert_items": self.alert_items,
                "SITENAME": self.cascade.site_name,
                "CSP": CONTENT_SECURITY_POLICY,
                "REFERRER_POLICY": REFERRER_POLICY,
            }
        )
        self.page_context.setdefault("site_notices", [])
