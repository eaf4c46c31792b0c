"""The build stamp: what a finished build read, so a rebuild with nothing changed stops early.

A build's output is a function of its inputs: the settings, our code and its libraries, the
theme, the content files, the git history behind them (the audit), the ledger, and the clock.
After a build succeeds, `publish.py` records a digest of every input but the clock, plus the
window of clock times in which the same inputs give the same output: from the build's `now`
until the first moment an alert expires, leaves the "current" box or a feed's retention
window. A later build whose inputs digest to the same value, whose output folder is the one
that build left, and whose clock is inside the window has nothing to do and stops before
Pelican starts. Everything else - any changed byte, a moved clock past a boundary, `--full`,
`--no-cache`, `--accept-rewrite`, a folder someone touched - takes the normal build.

When content/ is exactly a tree of HEAD (gitcontent.py), that tree's id stands for every
content file; otherwise every entry under content/ is stat-ed. Inputs are read *before* the
build they stamp, so an edit made while a build runs is seen by the next one. Files changed less than `RACY_SECONDS` before they were read are not trusted to
have a final modification time (the "racy clean" problem git has too), so no stamp is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import runpy
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from operator import is_not, itemgetter
from pathlib import Path
from typing import Any

from .discover import ContentWalk, walk_content
from .fingerprint import code_fingerprint, files_fingerprint
from .gitcontent import GitContent, Probe
from .index import EXPIRES, KEY, LATEST, first_issued_after, micros, slim_of

STAMP_FILE = "stamp.json"
FORMAT = 1
RACY_SECONDS = 1.0
# How long git may still take, once the rest is digested, before the caller's other work
# starts meanwhile: git answers for 10,000 alerts within it (a build with nothing to do then
# loads nothing more), for 100,000 it takes some 0.3 s more. Only when HEAD is the commit
# the last build saw: after a new commit a build is certain, so the work starts at once.
GIT_GRACE_SECONDS = 0.05
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = 86_400 * 10**6  # microseconds
# Libraries whose versions can change a page or a feed byte (markdown, nh3 and pyyaml are
# already in the code fingerprint the content cache uses).
LIBRARIES = ("pelican", "jinja2", "markupsafe", "feedgen", "lxml", "cryptography")


@dataclass(frozen=True)
class Inputs:
    """Where a build reads and writes, and the digest of what it reads (clock aside)."""

    content: Path
    output: Path
    state: Path
    digest: str
    # False when some content file is too fresh for its modification time to be trusted.
    settled: bool
    # The digest of everything but the ledger.
    without_ledger: str = ""
    # The walk of content/ the digest was made from, for the build to reuse; or, when
    # content/ is exactly a tree of HEAD, that tree (and no walk).
    walk: ContentWalk | None = field(default=None, compare=False, repr=False)
    git: GitContent | None = field(default=None, compare=False, repr=False)
    # The commit checked out ("" outside a repository): the stamp keeps it.
    head: str = ""


@dataclass(frozen=True)
class Stamp:
    inputs: str
    output: str
    seal: tuple[int, ...]  # the output folder and manifest as the build left them
    built_at: str  # the build's clock, ISO 8601
    valid_until: str | None  # the first moment the same inputs would give another output
    summary: str  # what the build printed, printed again by a build it saves
    notices: tuple[str, ...]
    format: int = FORMAT
    head: str = ""  # the commit checked out for that build ("" if none or not known)


def settings_digest(config: Path, overrides: Mapping[str, object]) -> tuple[str, dict[str, Any]]:
    """The settings file's values (uppercase names, as Pelican reads them) with `overrides`.

    Returns the digest and the values. Values without a stable text form (a function, say)
    make a digest that never repeats, so such settings simply never take the early stop.
    """
    values = {
        name: value
        for name, value in runpy.run_path(str(config)).items()
        if name.isupper() and not name.startswith("_")
    }
    values.update(overrides)
    text = json.dumps(values, sort_keys=True, default=_stable, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest(), values


def _stable(value: object) -> object:
    if isinstance(value, set | frozenset):
        return sorted(repr(item) for item in value)
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def _resolve(config: Path, value: object) -> Path | None:
    """A path setting as Pelican resolves it: relative to the settings file's folder."""
    if not isinstance(value, str) or not value:
        return None
    path = Path(value)
    return (path if path.is_absolute() else config.resolve().parent / path).resolve()


def tree_signature(walk: ContentWalk, settled_before: float) -> tuple[str, bool]:
    """A digest of every entry's path, size, times and inode in `walk`.

    Also says whether every entry was last modified before `settled_before` (seconds since
    the epoch): a file written in the same clock tick as the read could change unseen.
    In the walk's order, not sorted: a folder listed in another order only costs a real
    build, and sorting an archive's paths would cost more than the rest of the digest.
    """
    everything = walk.everything
    digest = hashlib.sha256("\0".join(everything).encode("utf-8", "surrogateescape"))
    digest.update(b"\0".join(everything.values()))
    return digest.hexdigest(), walk.newest_ns < settled_before * 1e9


def git_head(folder: Path) -> str:
    """The commit checked out for `folder`, or "" outside a repository."""
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", "HEAD"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def _file_seal(path: Path) -> tuple[int, ...]:
    try:
        info = path.stat()
    except OSError:
        return (-1,)
    return (info.st_size, info.st_mtime_ns, info.st_ino)


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "-"


def _versions(names: Iterable[str]) -> str:
    found = []
    for name in names:
        try:
            found.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            found.append(f"{name}=-")
    return ",".join(found)


def read_inputs(
    config: Path,
    overrides: Mapping[str, object],
    content: Path | None,
    output: Path | None,
    while_waiting: Callable[[Callable[[], bool]], object] | None = None,
) -> Inputs | None:
    """Digest the inputs of a build, or None when they cannot be pinned down cheaply.

    `while_waiting` is called if git is still looking at content/ once everything else is
    digested (a large archive): work the build will want, done meanwhile, in steps, for as
    long as the function it is given says (a build with nothing to do must not wait for
    work it will not use)."""
    started = time.time()
    # git looks at content/ on another core while the settings are read.
    probe = Probe(content.resolve()) if content is not None and content.is_dir() else None
    # The clock is not an input like the others: the stamp's window stands for it.
    timeless = {name: value for name, value in overrides.items() if name != "CASCADE_NOW"}
    settings_key, values = settings_digest(config, timeless)
    # Absolute, as the build's settings have them: the stamp is taken for those folders.
    content = content.resolve() if content else _resolve(config, values.get("PATH"))
    output = output.resolve() if output else _resolve(config, values.get("OUTPUT_PATH"))
    theme = _resolve(config, values.get("THEME"))
    if content is None or output is None or theme is None or not content.is_dir():
        return None
    if not theme.is_dir():
        return None
    state_setting = Path(str(values.get("CASCADE_STATE_DIR") or ".cascade"))
    state = state_setting if state_setting.is_absolute() else content.parent / state_setting
    if probe is None or probe.content != content:
        probe = Probe(content)
    if while_waiting is not None:
        new_commit = probe.head() != _last_head(state)
        if not probe.finished(within=0.0 if new_commit else GIT_GRACE_SECONDS):
            # Told whether to go on: to the end when a build is certain, else while git looks.
            while_waiting(_always if new_commit else lambda: not probe.finished())
    # Committed content is named by its tree; anything else is walked and stat-ed here.
    git = probe.result()
    walk: ContentWalk | None = None
    if git is not None:
        tree, settled, head = f"git tree {git.tree}", True, git.head
    else:
        walk = walk_content(content)
        (tree, settled), head = tree_signature(walk, started - RACY_SECONDS), git_head(content)
    parts = (
        f"format={FORMAT}",
        settings_key,
        f"content={content}",
        f"output={output}",
        f"theme={theme}",
        code_fingerprint(),
        files_fingerprint([theme], ("*",)),
        _versions(LIBRARIES),
        sys.version,
        tree,
        head,
    )
    before = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return Inputs(
        content, output, state, _with_ledger(before, state), settled, before, walk, git, head
    )


def _always() -> bool:
    return True


def _last_head(state: Path) -> str | None:
    last = load(state)
    return last.head if last is not None else None


def _with_ledger(digest: str, state: Path) -> str:
    """`digest` joined with the ledger's bytes. A production build appends to the ledger
    itself, so its stamp takes the ledger as the build left it, not as it found it."""
    ledger = _file_digest(state / "ledger.json")
    return hashlib.sha256(f"{digest}\n{ledger}".encode()).hexdigest()


def output_seal(output: Path, manifest: Path) -> tuple[int, ...]:
    """The output folder's identity and the manifest's, as a finished build leaves them."""
    return (*_file_seal(output), *_file_seal(manifest))


def _stamp_path(state: Path) -> Path:
    return state / "cache" / STAMP_FILE


def _manifest_path(state: Path) -> Path:
    return state / "cache" / "manifest.json"


def load(state: Path) -> Stamp | None:
    try:
        raw = json.loads(_stamp_path(state).read_text(encoding="utf-8"))
        stamp = Stamp(**{**raw, "seal": tuple(raw["seal"]), "notices": tuple(raw["notices"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return stamp if stamp.format == FORMAT else None


def unchanged(inputs: Inputs, now: datetime) -> Stamp | None:
    """The stamp of the last build if this build, at `now`, would write the same output."""
    stamp = load(inputs.state)
    if stamp is None or stamp.inputs != inputs.digest or stamp.output != str(inputs.output):
        return None
    if stamp.seal != output_seal(inputs.output, _manifest_path(inputs.state)):
        return None
    if now < datetime.fromisoformat(stamp.built_at):
        return None  # the clock went back: "current" and "expired" may read differently
    if stamp.valid_until is not None and now >= datetime.fromisoformat(stamp.valid_until):
        return None
    return stamp


def forget(state: Path) -> None:
    """Drop the stamp before a build starts, so a build that fails half-way (and the
    recovery the next build must do) is never skipped."""
    with contextlib.suppress(FileNotFoundError):
        _stamp_path(state).unlink()


def record(
    inputs: Inputs,
    now: datetime,
    valid_until: datetime | None,
    summary: str,
    notices: Iterable[str],
) -> None:
    """Write the stamp of a build that has just published `inputs` at `now`."""
    if not inputs.settled:
        return
    stamp = Stamp(
        inputs=_with_ledger(inputs.without_ledger, inputs.state),
        output=str(inputs.output),
        seal=output_seal(inputs.output, _manifest_path(inputs.state)),
        built_at=now.isoformat(),
        valid_until=valid_until.isoformat() if valid_until else None,
        summary=summary,
        notices=tuple(notices),
        head=inputs.head,
    )
    path = _stamp_path(inputs.state)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(asdict(stamp), sort_keys=True), encoding="utf-8")
    os.replace(scratch, path)


def next_change(moments: Iterable[int], now: datetime) -> datetime | None:
    """The earliest of `moments` (microseconds since the epoch) after `now`: when the clock
    alone changes some output."""
    after = micros(now)
    later = min((moment for moment in moments if moment > after), default=None)
    return None if later is None else _EPOCH + timedelta(microseconds=later)


def alert_boundaries(
    collection: Any, window_days: int, retention_days: int, now: datetime
) -> Iterator[int]:
    """The first moment after `now` at which some alert's place in the site or a feed can
    change by time alone, of each kind: an alert expires, leaves the current box, or it or
    its latest correction leaves a feed's retention window, or (issued a little in the
    future) it begins.

    Read from the collection's slim records when it has them, so that a build which looked
    at a handful of alerts does not build every other one just to stamp itself; and without
    a Python step per alert, as it runs over the whole archive."""
    after = micros(now)
    window = window_days * _DAY
    retention = retention_days * _DAY
    records = getattr(collection, "slims", None)  # newest first
    if records is None:
        records = sorted((slim_of(alert, ()) for alert in collection.alerts), key=itemgetter(KEY))
    # Issue times: by bisection over the archive's order.
    for delay in (0, window, retention):
        first = first_issued_after(records, after - delay)
        if first is not None:
            yield first + delay
    # Expiries and corrections follow no order: one C loop over each column.
    latest = map(itemgetter(LATEST), records)
    expires = filter(partial(is_not, None), map(itemgetter(EXPIRES), records))
    for moments, delay in ((expires, 0), (latest, retention)):
        found = min(filter((after - delay).__lt__, moments), default=None)
        if found is not None:
            yield found + delay
