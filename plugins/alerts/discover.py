"""Find alert files under content/ and refuse symbolic links that lead outside it.

One `os.scandir` pass: the kind of every entry comes with the directory listing, so only
symbolic links (rare) cost extra system calls, and each alert file's stat is taken here,
once, for the cache to compare with what it saw last time.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Problem

# Where alert files live, under content/. Here, not beside the rules that validate them:
# the build stamp walks content/ on every run, before markup and YAML would even load.
ALERTS_DIR = "alerts"

# What the content cache compares to decide whether a file may have changed: size,
# modification and status-change times (a write moves both) and the inode (a file
# replaced by another, as git and editors do, gets a new one). Packed into one bytes
# object: the cache keeps one per alert, and loading four number objects and a tuple per
# alert cost a 100,000-alert archive about 0.1 s on every build.
Stamp = bytes
_PACKED = struct.Struct("=qqqQ")
_pack = _PACKED.pack


def pack_stamp(size: int, modified_ns: int, changed_ns: int, inode: int) -> Stamp:
    try:
        return _pack(size, modified_ns, changed_ns, inode)
    except struct.error:  # beyond 64 bits: never equal to a packed stamp, still compared
        return repr((size, modified_ns, changed_ns, inode)).encode()


def stamp_of(stat: os.stat_result) -> Stamp:
    return pack_stamp(stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def last_change_ns(stamp: Stamp) -> int | None:
    """The later of the modification and status-change times in `stamp` (None if it
    cannot be read back)."""
    if len(stamp) != _PACKED.size:
        return None
    _, modified, changed, _ = _PACKED.unpack(stamp)
    return int(max(modified, changed))


@dataclass(frozen=True)
class ContentWalk(Mapping[str, Stamp]):
    """One walk of content/, taken by publish.py for the build stamp and handed to the
    build, so that an archive's files are stat-ed once per build, not once per reader.

    As a mapping it holds the alert files discovery would find, with their stamps.
    """

    # Every entry under content/ (folders, links and hidden ones too), by relative POSIX
    # path, in the order the walk met them: what the build stamp digests.
    everything: dict[str, Stamp]
    alerts: dict[str, Stamp] = field(default_factory=dict)
    # True when nothing under content/ needs discovery's closer look (no symbolic links,
    # no stray files among the alerts, no folder that could not be read): then `alerts`
    # is discovery's whole answer and content/ is not listed a second time.
    plain: bool = True
    # The latest modification time met (nanoseconds since the epoch).
    newest_ns: int = 0

    def __getitem__(self, rel: str) -> Stamp:
        return self.alerts[rel]

    def __iter__(self) -> Iterator[str]:
        return iter(self.alerts)

    def __len__(self) -> int:
        return len(self.alerts)


def walk_content(content: Path) -> ContentWalk:
    """Stat every entry under `content` once (links not followed)."""
    everything: dict[str, Stamp] = {}
    alerts: dict[str, Stamp] = {}
    plain = True
    newest = 0
    is_dir, is_link = stat.S_ISDIR, stat.S_ISLNK
    alerts_prefix = ALERTS_DIR + "/"
    # (relative folder with its slash, the folder, inside a hidden folder?)
    stack: list[tuple[str, str, bool]] = [("", os.fspath(content), False)]
    while stack:
        rel_dir, folder, hidden = stack.pop()
        in_alerts = not hidden and rel_dir.startswith(alerts_prefix)
        try:
            listing = os.scandir(folder)
        except OSError:
            plain = False
            continue
        with listing:
            for entry in listing:
                name = entry.name
                rel = rel_dir + name
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    plain = False
                    continue
                modified = info.st_mtime_ns
                if modified > newest:
                    newest = modified
                stamp = pack_stamp(info.st_size, modified, info.st_ctime_ns, info.st_ino)
                everything[rel] = stamp
                mode = info.st_mode
                if is_dir(mode):
                    # Discovery never reads hidden folders; their files are still inputs
                    # to the stamp.
                    stack.append((rel + "/", entry.path, hidden or name[0] == "."))
                elif hidden:
                    continue
                elif is_link(mode):
                    plain = False
                elif in_alerts and name[0] != ".":
                    if name.endswith(".md"):
                        alerts[rel] = stamp
                    else:
                        plain = False
    return ContentWalk(everything, alerts, plain, newest)


def find_alert_files(content: Path) -> tuple[list[str], list[Problem]]:
    """Relative POSIX paths of every .md file under content/alerts/, sorted, and problems
    with links or stray files anywhere under content/."""
    stamps, problems = scan_alert_files(content)
    return sorted(stamps), problems


def scan_alert_files(
    content: Path, known: Mapping[str, Stamp] | None = None
) -> tuple[dict[str, Stamp | None], list[Problem]]:
    """Every .md file under content/alerts/ (in no set order) with its stamp, or None if it
    cannot be stat-ed; and problems with links or stray files anywhere under content/, in
    the order a sorted walk meets them.

    `known`: stamps of regular files (by content-relative path) taken just before, by a
    walk of the same folder (publish.py's build stamp): used instead of a second stat. A
    stamp taken earlier is safe: a file changed since is hashed again next time. A plain
    ContentWalk is the whole answer: the folder is not listed again.
    """
    if isinstance(known, ContentWalk) and known.plain:
        return dict(known.alerts), []
    problems: list[Problem] = []
    found: dict[str, Stamp | None] = {}
    _scan(content, "", content.resolve(), found, problems, known or {})
    return found, problems


def _scan(
    content: Path,
    rel_dir: str,
    root: Path,
    found: dict[str, Stamp | None],
    problems: list[Problem],
    known: Mapping[str, Stamp],
) -> None:
    """One directory, then each of its sub-directories in name order (as os.walk would).
    Every alert file of an archive passes through here on every build: the common case (a
    plain .md file) costs one stat and no sorting."""
    here = os.path.join(content, rel_dir) if rel_dir else os.fspath(content)
    in_alerts = rel_dir == ALERTS_DIR or rel_dir.startswith(ALERTS_DIR + "/")
    prefix = f"{rel_dir}/" if rel_dir else ""
    subdirs: list[str] = []
    odd: list[os.DirEntry[str]] = []  # links, stray files: rare, and reported in name order
    try:
        with os.scandir(here) as listing:
            for entry in listing:
                name = entry.name
                if entry.is_symlink():
                    odd.append(entry)
                elif entry.is_dir(follow_symlinks=False):
                    if name[0] != ".":
                        subdirs.append(name)
                elif in_alerts and name[0] != ".":
                    if name.endswith(".md"):
                        rel = prefix + name
                        stamp = known.get(rel)
                        if stamp is not None:  # not a link: its own stat, as scandir says
                            found[rel] = stamp
                            continue
                        try:
                            found[prefix + name] = stamp_of(entry.stat())
                        except OSError:
                            found[prefix + name] = None  # the reader reports why
                    else:
                        odd.append(entry)
    except OSError:
        return  # an unreadable folder is skipped, as os.walk skips it
    odd.sort(key=lambda entry: entry.name)
    for entry in odd:
        _odd_entry(entry, prefix, root, in_alerts, found, problems)
    for name in sorted(subdirs):
        _scan(content, prefix + name, root, found, problems, known)


def _odd_entry(
    entry: os.DirEntry[str],
    prefix: str,
    root: Path,
    in_alerts: bool,
    found: dict[str, Stamp | None],
    problems: list[Problem],
) -> None:
    """A symbolic link (refused, or read like its target) or a stray file in alerts/."""
    name = entry.name
    rel = prefix + name
    if entry.is_symlink():
        message = _link_problem(Path(entry.path), root, in_alerts)
        if message:
            problems.append(Problem(rel, 1, "file", message))
            return
        # A link that may stay is never walked into; a link to a file is read like
        # the file itself.
        if _is_dir(entry) or not in_alerts or name.startswith("."):
            return
        if name.endswith(".md"):
            try:
                found[rel] = stamp_of(entry.stat())
            except OSError:
                found[rel] = None
            return
    problems.append(
        Problem(rel, 1, "file", "is not an alert (only .md files belong in content/alerts/)")
    )


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _link_problem(path: Path, root: Path, in_alerts: bool) -> str | None:
    """Why the symbolic link `path` is refused, or None if it may stay."""
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        target = path.resolve()  # dangling: where it would lead still matters
    except (OSError, RuntimeError):  # a loop: RuntimeError before Python 3.13
        return "is a symbolic link that loops back on itself (remove it)"
    if not target.is_relative_to(root):
        return "is a symbolic link to outside content/ (not allowed: copy the file in instead)"
    if in_alerts and target.is_dir():
        # Walking into linked folders could loop or read an alert twice; skipping them
        # silently would lose alerts.
        return (
            "is a symbolic link to a folder "
            "(folders in content/alerts/ are not followed: move the folder here)"
        )
    return None
