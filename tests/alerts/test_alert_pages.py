"""pages.plan_pages: which pages a build plans, given what it knows changed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.collection import AlertCollection
from alerts.index import micros, slim_of
from alerts.model import Alert, Provenance
from alerts.pages import ItemKeys, plan_pages
from alerts.registry import Registry
from alerts.settings import CascadeSettings
from alerts.touched import Basis, sizes_key
from alerts.validate import ParsedAlert

NOW = datetime(2017, 4, 25, 12, 0, tzinfo=UTC)
Make = Callable[..., Alert]


class Site:
    """The writer's side of planning: keys as published, and what a build kept."""

    def __init__(self) -> None:
        self.published: dict[str, str] = {}
        self.kept: set[str] = set()
        self.carried: set[str] = set()

    def unchanged(self, path: str, key: str) -> bool:
        if self.published.get(path) == key:
            self.kept.add(path)
            return True
        return False

    def unchanged_endings(self, paths: list[str], endings: list[str]) -> list[int]:
        missed = []
        for position, (path, ending) in enumerate(zip(paths, endings, strict=True)):
            if self.published.get(path, "\n").endswith(ending):
                self.kept.add(path)
            else:
                missed.append(position)
        return missed

    def carry(self, folder: str) -> None:
        self.carried.add(folder)

    def published_key(self, path: str) -> str | None:
        return self.published.get(path)

    def plan(
        self,
        alerts: list[Alert],
        registry: Registry,
        provenance: dict[str, Provenance] | None = None,
        basis: Basis | None = None,
        now: datetime = NOW,
    ) -> list[str]:
        """Plan, publish what was planned; returns the paths planned."""
        self.kept, self.carried = set(), set()
        pages = list(
            plan_pages(
                AlertCollection.of(alerts),
                registry,
                CascadeSettings(),
                now,
                provenance=provenance,
                items=ItemKeys(now, 7),
                published=self,
                basis=basis,
            )
        )
        self.planned = {page.path: page.key for page in pages}
        self.published.update(self.planned)
        return [page.path for page in pages if page.path.startswith("alerts/")]


@pytest.fixture
def make(parse: Callable[..., Any], make_alert: Callable[..., bytes]) -> Make:
    def alert(slug: str, issued: str, **fields: str) -> Alert:
        path = f"alerts/{issued[:4]}/{issued[:10]}-{slug}.md"
        result = parse(make_alert(issued=f'"{issued}"', **fields), path)
        assert isinstance(result, ParsedAlert), result
        return result.alert.evolve(content_hash=f"hash-of-{slug}-{fields.get('title', '')}")

    return alert


def change(registry: Registry, *pairs: tuple[Alert | None, Alert | None]) -> dict[str, Any]:
    return {
        (new or old).path: tuple(  # type: ignore[union-attr]
            None if a is None else slim_of(a, registry.sectors) for a in (old, new)
        )
        for old, new in pairs
    }


def test_only_the_pages_of_changed_alerts_their_threads_and_signers_are_planned(
    make: Make, registry: Registry
) -> None:
    root = make("root", "2017-04-20T10:00:00+01:00")
    update = make("update", "2017-04-21T10:00:00+01:00", updates="2017-04-20-root")
    alone = make("alone", "2017-04-22T10:00:00+01:00")
    other = make("other", "2017-04-23T10:00:00+01:00")
    signed = {a.id: Provenance("c" * 40, "SHA256:key", "alice") for a in (alone, other)}
    site = Site()
    assert len(site.plan([root, update, alone, other], registry, signed)) == 4
    basis = Basis({}, micros(NOW))

    # Nothing changed: no alert page is planned.
    assert site.plan([root, update, alone, other], registry, signed, basis) == []

    # The root of a thread changes: every page of the thread.
    edited = make("root", "2017-04-20T10:00:00+01:00", title='"Edited"')
    pairs = change(registry, (root, edited))
    planned = site.plan([edited, update, alone, other], registry, signed, Basis(pairs, micros(NOW)))
    assert sorted(planned) == [
        "alerts/2017-04-20-root/index.html",
        "alerts/2017-04-21-update/index.html",
    ]

    # A signer's name changes, nothing else: that alert's page only.
    renamed = {**signed, alone.id: replace(signed[alone.id], signer_name="alice smith")}
    planned = site.plan([edited, update, alone, other], registry, renamed, basis)
    assert planned == ["alerts/2017-04-22-alone/index.html"]


def test_badges_turned_by_the_clock_are_planned(make: Make, registry: Registry) -> None:
    expiring = make("expiring", "2017-04-20T10:00:00+01:00", expires='"2017-04-26T10:00:00+01:00"')
    lasting = make("lasting", "2017-04-10T10:00:00+01:00")
    site = Site()
    site.plan([expiring, lasting], registry)
    later = NOW + timedelta(days=2)
    planned = site.plan([expiring, lasting], registry, basis=Basis({}, micros(NOW)), now=later)
    assert planned == ["alerts/2017-04-20-expiring/index.html"]


def test_listings_nothing_touched_are_carried(make: Make, registry: Registry) -> None:
    retail = make("retail", "2017-04-20T10:00:00+01:00", sectors="[retail]")
    banking = make("banking", "2016-03-20T10:00:00+01:00", sectors="[banking]", level="green")
    site = Site()
    site.plan([retail, banking], registry)
    edited = make("retail", "2017-04-20T10:00:00+01:00", sectors="[retail]", title='"New"')
    site.plan(
        [edited, banking], registry, basis=Basis(change(registry, (retail, edited)), micros(NOW))
    )
    assert {"sectors/banking/", "levels/green/", "archive/2016/03/"} <= site.carried
    assert not {"sectors/retail/", "levels/red/", "archive/2017/04/"} & site.carried


def test_pages_planned_from_a_basis_have_the_keys_a_full_plan_gives(
    make: Make, registry: Registry
) -> None:
    old = [
        make(f"a{day}", f"2016-0{1 + day % 9}-1{day % 10}T10:00:00+01:00", sectors="[retail]")
        for day in range(12)
    ]
    new_one = make("new", "2017-04-20T10:00:00+01:00", sectors="[retail, banking]")
    site = Site()
    site.plan(old, registry)
    site.plan(
        [*old, new_one], registry, basis=Basis(change(registry, (None, new_one)), micros(NOW))
    )
    full = Site()
    full.plan([*old, new_one], registry)
    assert site.planned  # the retail year pages, among others, for their new year counts
    assert "sectors/retail/2016/index.html" in site.planned
    for path, key in site.planned.items():
        assert full.planned[path] == key, path
    assert {p for p, k in site.published.items() if full.planned.get(p) != k} == set()


def test_a_new_alert_touches_its_own_year_page_not_the_other_years(
    make: Make, registry: Registry
) -> None:
    old = [
        make(f"a{year}", f"{year}-03-10T10:00:00+01:00", sectors="[retail]")
        for year in (2015, 2016, 2017)
    ]
    new_one = make("new", "2017-04-20T10:00:00+01:00", sectors="[retail]")
    site = Site()
    site.plan(old, registry)
    before = dict(site.published)
    site.plan(
        [*old, new_one], registry, basis=Basis(change(registry, (None, new_one)), micros(NOW))
    )
    changed = {p for p, key in site.planned.items() if before.get(p) != key}
    assert {"sectors/retail/index.html", "sectors/retail/2017/index.html"} <= changed
    assert not {"sectors/retail/2016/index.html", "sectors/retail/2015/index.html"} & changed
    assert not {"levels/red/2016/index.html", "levels/red/2015/index.html"} & changed


def test_alerts_with_attachments_are_planned_only_when_a_size_changed(
    make: Make, registry: Registry
) -> None:
    attached = make("attached", "2017-04-20T10:00:00+01:00", attachments='["plan.pdf"]')
    plain = make("plain", "2017-04-21T10:00:00+01:00")
    sized = replace(attached, attachments=(replace(attached.attachments[0], size=10),))
    site = Site()
    site.plan([sized, plain], registry)
    same = Basis({}, micros(NOW), sizes_key({"plan.pdf": 10}))
    assert site.plan([sized, plain], registry, basis=same) == []
    grown = replace(attached, attachments=(replace(attached.attachments[0], size=12),))
    assert site.plan([grown, plain], registry, basis=same) == [
        "alerts/2017-04-20-attached/index.html"
    ]
    # A basis that does not say which sizes it saw (a build before they were recorded).
    regrown = replace(attached, attachments=(replace(attached.attachments[0], size=14),))
    unknown = Basis({}, micros(NOW))
    assert site.plan([regrown, plain], registry, basis=unknown) == [
        "alerts/2017-04-20-attached/index.html"
    ]


def test_counts_since_equal_counting_again(make: Make, registry: Registry) -> None:
    """A listing's count kept from the last build plus the changes since is the count."""
    from alerts.pages import counts_since, group_counts

    old = make("old", "2016-12-31T23:30:00-01:00", sectors='["retail"]')
    moved = make("moved", "2017-04-21T10:00:00+01:00", sectors='["retail"]')
    moved_now = replace(moved, sectors=("transport",), content_hash="hash-of-moved-2")
    new = make("new", "2017-04-22T10:00:00+01:00")
    before = [slim_of(a, registry.sectors) for a in (old, moved)]
    after = [slim_of(a, registry.sectors) for a in (moved_now, new)]
    changes = change(registry, (old, None), (moved, moved_now), (None, new))
    counted = counts_since(group_counts(before), changes.values())
    assert counted == group_counts(after)
    assert "archive/2016/12" not in counted and "sectors/retail/2016" not in counted


def test_with_the_signers_known_only_those_alerts_pages_are_looked_at(
    make: Make, registry: Registry
) -> None:
    """alerts/ is carried: an alert whose signer changed is planned; the rest is neither
    planned nor checked (no key is asked of the writer for it)."""
    alerts = [make(f"a{n}", f"2017-04-2{n}T10:00:00+01:00") for n in range(4)]
    signed = {a.id: Provenance("c" * 40, "SHA256:key", "alice") for a in alerts}
    site = Site()
    site.plan(alerts, registry, signed)
    resigned = {**signed, alerts[1].id: Provenance("d" * 40, "SHA256:other", "bob")}
    asked: list[str] = []

    def bulk(paths: list[str], endings: list[str]) -> list[int]:
        asked.extend(paths)
        return []

    site.unchanged_endings = bulk  # type: ignore[method-assign]
    pages = list(
        plan_pages(
            AlertCollection.of(alerts),
            registry,
            CascadeSettings(),
            NOW,
            provenance=resigned,
            items=ItemKeys(NOW, 7),
            published=site,
            basis=Basis({}, micros(NOW)),
            signers={alerts[1].id},
        )
    )
    assert [p.path for p in pages if p.path.startswith("alerts/")] == [
        f"alerts/{alerts[1].id}/index.html"
    ]
    assert asked == []
