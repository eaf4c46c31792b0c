"""fragments.FragmentStore: rendered pieces kept across builds, by every process of a build."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from alerts.fragments import FragmentStore
from alerts.parallel import map_forked


def never(*_: object) -> bytes:
    raise AssertionError("rendered although it was stored")


def test_fragments_rendered_in_forked_workers_survive_a_pruning_build(tmp_path: Path) -> None:
    path = tmp_path / "fragments.sqlite"
    store = FragmentStore(path)
    store.track_use()
    keys = [f"k{i}" for i in range(40)]

    def use(key: str) -> bytes:
        return store.get(key, lambda: key.encode())

    assert map_forked(use, keys, workers=2, min_items=1, after_batch=store.save) == [
        k.encode() for k in keys
    ]
    store.save(prune=True)
    store.close()

    again = FragmentStore(path)
    assert [again.get(key, never) for key in keys] == [k.encode() for k in keys]
    assert again.rendered == 0


def test_a_pruning_build_drops_only_what_no_process_used(tmp_path: Path) -> None:
    path = tmp_path / "fragments.sqlite"
    first = FragmentStore(path)
    for key in ("old", "kept-by-worker", "kept-by-parent"):
        first.get(key, key.encode)
    first.save()
    first.close()

    store = FragmentStore(path)
    store.track_use()
    assert store.get("kept-by-parent", never) == b"kept-by-parent"
    map_forked(
        lambda key: store.get(key, never),
        ["kept-by-worker"],
        workers=2,
        min_items=1,
        after_batch=store.save,
    )
    store.save(prune=True)
    store.close()

    rows = sqlite3.connect(path).execute("SELECT key FROM fragment ORDER BY key").fetchall()
    assert rows == [("kept-by-parent",), ("kept-by-worker",)]


def test_without_track_use_nothing_is_pruned(tmp_path: Path) -> None:
    path = tmp_path / "fragments.sqlite"
    store = FragmentStore(path)
    store.get("a", b"a".__bytes__)
    store.save()
    store.close()
    again = FragmentStore(path)
    again.save(prune=True)
    assert again.get("a", never) == b"a"


def test_get_many_renders_only_what_is_missing_in_order(tmp_path: Path) -> None:
    path = tmp_path / "fragments.sqlite"
    store = FragmentStore(path)
    store.get("b", lambda: b"B")
    store.save()
    store.close()

    again = FragmentStore(path)
    keys = ["a", "b", "c", "a"] + [f"x{i}" for i in range(1200)]
    rendered: list[int] = []

    def render(index: int) -> bytes:
        rendered.append(index)
        return keys[index].upper().encode()

    pieces = again.get_many(keys, render)
    assert pieces[:4] == [b"A", b"B", b"C", b"A"]
    assert pieces[4:] == [f"X{i}".encode() for i in range(1200)]
    assert rendered == [0, 2, *range(4, 1204)]  # "b" came from the store, "a" once


@pytest.mark.parametrize("damage", ["old-table", "garbage"])
def test_an_old_or_damaged_store_is_started_again(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "fragments.sqlite"
    if damage == "old-table":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE fragment (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
        db.execute("INSERT INTO fragment VALUES ('a', x'41')")
        db.commit()
        db.close()
    else:
        path.write_bytes(b"not a database" * 100)
    store = FragmentStore(path)
    assert store.get("a", lambda: b"new") == b"new"
    store.save()
    assert FragmentStore(path).get("a", never) == b"new"


def test_no_path_means_memory_only() -> None:
    store = FragmentStore(None)
    store.track_use()
    assert store.get("a", lambda: b"1") == b"1"
    assert store.get_many(["a", "b"], lambda i: b"2") == [b"1", b"2"]
    store.save(prune=True)


def test_a_slot_keeps_one_value_replaced_when_its_key_changes(tmp_path: Path) -> None:
    path = tmp_path / "fragments.sqlite"
    store = FragmentStore(path)
    assert store.get_slot("page#0", "k1", lambda: b"one") == b"one"
    store.save()
    assert store.get_slot("page#0", "k1", never) == b"one"
    assert store.get_slot("page#0", "k2", lambda: b"two") == b"two"
    store.save()
    store.close()
    rows = sqlite3.connect(path).execute("SELECT slot, key, value FROM slot").fetchall()
    assert rows == [("page#0", "k2", b"two")]  # replaced, not piled up


def test_slots_used_by_workers_survive_a_pruning_build(tmp_path: Path) -> None:
    path = tmp_path / "fragments.sqlite"
    first = FragmentStore(path)
    for name in ("used", "unused"):
        first.get_slot(name, "k", name.encode)
    first.save()
    first.close()

    store = FragmentStore(path)
    store.track_use()
    map_forked(
        lambda slot: store.get_slot(slot, "k", never),
        ["used"],
        workers=2,
        min_items=1,
        after_batch=store.save,
    )
    store.save(prune=True)
    store.close()
    rows = sqlite3.connect(path).execute("SELECT slot FROM slot").fetchall()
    assert rows == [("used",)]
