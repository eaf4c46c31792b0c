#!/usr/bin/env python3
"""Cascade's command line: check, write, build, serve and audit alerts.

Library code raises domain errors; this module turns them into one clear message and an
exit code: 0 success, 1 problems in content or history, 2 usage or setup errors.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "plugins"))

# Only light modules here: a rebuild with nothing changed must finish before the markup,
# YAML, Pelican and audit machinery would even have loaded; commands import what they use.
from alerts.errors import CascadeError, ContentError, Problem, SettingsError  # noqa: E402
from alerts.model import Level  # noqa: E402
from audit.errors import RepositoryError  # noqa: E402

if TYPE_CHECKING:
    from alerts import stamp

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
FUTURE_TOLERANCE = timedelta(minutes=5)


def parse_now(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date-time like 2017-04-20T21:30:00+01:00"
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, like +01:00 or Z")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="publish.py",
        description="Check, build and publish Cascade safety and security alerts.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "check",
        help="validate alert files and print every problem",
        description=(
            "Validate alert files (default: all of content/), including rules across files. "
            "Prints every problem as path:line: field: message and exits 1 if there are any."
        ),
    )
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="alert files to check")
    check.add_argument("--content", type=Path, default=ROOT / "content", help="content folder")
    check.add_argument(
        "--now", type=parse_now, help="the clock for the future-date rule (ISO 8601)"
    )

    new = commands.add_parser(
        "new",
        help="write a valid alert skeleton",
        description=(
            "Write a correctly named alert file from flags, asking for what is missing when "
            "run in a terminal."
        ),
    )
    new.add_argument("--title")
    new.add_argument("--level", choices=[level.value for level in Level])
    new.add_argument(
        "--sector", action="append", default=[], help="sector slug or 'all' (repeatable)"
    )
    new.add_argument("--source", action="append", default=[], help="source slug (repeatable)")
    new.add_argument("--summary")
    new.add_argument("--topic", action="append", default=[], help="topic slug (repeatable)")
    new.add_argument("--updates", help="id of the alert this one follows up")
    new.add_argument("--issued", type=parse_now, help="issue time (default: now, UK time)")
    new.add_argument("--content", type=Path, default=ROOT / "content", help="content folder")

    build = commands.add_parser(
        "build",
        help="check, then build the site into the output folder",
        description=(
            "Check all content, then build the site with Pelican. The output folder is "
            "replaced only if the whole build succeeded."
        ),
    )
    _build_options(build)

    audit = commands.add_parser(
        "audit",
        help="verify the signed, append-only history",
        description=(
            "Check every commit behind the content against the signing policy. Prints each "
            "violation as 'commit  path  rule: explanation', then a summary. Exit 0 clean, "
            "1 violations, 2 usage or repository errors."
        ),
    )
    audit.add_argument(
        "--repo",
        type=Path,
        default=ROOT / "content",
        help="the content folder, or any folder in its repository",
    )
    audit.add_argument(
        "--since", help="first commit held to the rules (default: AUDIT_SINCE, else the root)"
    )
    audit.add_argument("--json", action="store_true", help="print the report as JSON")
    audit.add_argument(
        "--now", type=parse_now, help="the clock, for key validity windows (ISO 8601)"
    )
    audit.add_argument(
        "--settings",
        type=Path,
        default=ROOT / "publishconf.py",
        help="settings with AUDIT_TRUSTED_SIGNERS",
    )

    serve = commands.add_parser(
        "serve",
        help="build, serve locally and rebuild on changes",
        description="Build the site, serve it on localhost and rebuild when content changes.",
    )
    _build_options(serve)
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--bind", default="127.0.0.1")
    return parser


def _build_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--content", type=Path, help="content folder (default: the settings' PATH)"
    )
    command.add_argument(
        "--output", type=Path, help="output folder (default: the settings' OUTPUT_PATH)"
    )
    command.add_argument(
        "--now", type=parse_now, help="fix the clock (ISO 8601) for reproducible builds"
    )
    command.add_argument(
        "--production",
        action="store_true",
        help="use publishconf.py and require a verified history",
    )
    command.add_argument(
        "--settings",
        type=Path,
        help="Pelican settings file (default: pelicanconf.py or publishconf.py)",
    )
    command.add_argument(
        "--full",
        action="store_true",
        help="re-render every page, ignoring what the last build wrote",
    )
    command.add_argument(
        "--no-cache",
        action="store_true",
        help="parse every alert again, ignoring the content cache",
    )
    command.add_argument(
        "--accept-rewrite",
        metavar="REASON",
        help="(with --production) accept rewritten published history, recording REASON publicly",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return cmd_check(args)
        if args.command == "new":
            return cmd_new(args)
        if args.command == "build":
            return cmd_build(args)
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "audit":
            return cmd_audit(args)
    except ContentError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found; nothing was published.", file=sys.stderr)
        return EXIT_PROBLEMS
    except (SettingsError, RepositoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CascadeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        print("interrupted; the published site is unchanged", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


def cmd_check(args: argparse.Namespace) -> int:
    from alerts.cache import AlertCache
    from alerts.fingerprint import code_fingerprint
    from alerts.loader import load_content, relative_to_content

    content: Path = args.content
    now = args.now or datetime.now(UTC)
    only: set[str] | None = None
    if args.paths:
        only = set()
        outside: list[Problem] = []
        for path in args.paths:
            rel = relative_to_content(content, path)
            if isinstance(rel, Problem):
                outside.append(rel)
            else:
                only.add(rel)
        if outside:
            raise ContentError(outside)
    loaded = load_content(
        content, now, FUTURE_TOLERANCE, AlertCache(None, code_fingerprint()), only
    )
    checked = len(only) if only is not None else len(loaded.collection.alerts)
    print(
        f"ok: {checked} alert file(s) checked, no problems ({len(loaded.collection.alerts)} alerts in {content})"
    )
    return EXIT_OK


def cmd_new(args: argparse.Namespace) -> int:
    from alerts.registry import load_registry
    from alerts.skeleton import NewAlert, write_skeleton

    content: Path = args.content
    registry = load_registry(content)
    interactive = sys.stdin.isatty()

    def ask(prompt: str, current: str | None) -> str | None:
        if current or not interactive:
            return current
        return input(f"{prompt}: ").strip() or None

    title = ask("Title", args.title)
    level = ask("Level (red, amber, green)", args.level)
    sectors = args.sector or (
        (ask(f"Sectors, comma-separated ({', '.join(registry.sectors)} or all)", None) or "").split(
            ","
        )
    )
    sources = args.source or (
        (ask(f"Source ({', '.join(registry.sources)})", None) or "").split(",")
    )
    sectors = [s.strip() for s in sectors if s.strip()]
    sources = [s.strip() for s in sources if s.strip()]
    missing = [
        name
        for name, value in (
            ("--title", title),
            ("--level", level),
            ("--sector", sectors),
            ("--source", sources),
        )
        if not value
    ]
    if missing:
        raise SettingsError("new", f"missing {', '.join(missing)}")
    if level not in [lv.value for lv in Level]:
        raise SettingsError("--level", f"{level!r} is not allowed (allowed: red, amber, green)")
    assert title is not None and level is not None
    issued = args.issued or datetime.now(UTC).astimezone(_london()).replace(microsecond=0)
    path = write_skeleton(
        content,
        NewAlert(
            title=title,
            level=Level(level),
            sectors=tuple(sectors),
            sources=tuple(sources),
            issued=issued,
            summary=args.summary,
            topics=tuple(args.topic),
            updates=args.updates,
        ),
    )
    print(f"wrote {path}")
    print(f"next: edit the body, then run: python publish.py check {path}")
    return EXIT_OK


def _london() -> ZoneInfo:
    return ZoneInfo("Europe/London")


def _config_of(args: argparse.Namespace) -> Path:
    config: Path = args.settings or ROOT / (
        "publishconf.py" if args.production else "pelicanconf.py"
    )
    return config


def _overrides_of(args: argparse.Namespace) -> dict[str, object]:
    overrides: dict[str, object] = {
        "CASCADE_PRODUCTION": bool(args.production),
        "CASCADE_FULL_REBUILD": bool(args.full),
        "CASCADE_NO_CACHE": bool(args.no_cache),
    }
    if args.now:
        overrides["CASCADE_NOW"] = args.now.isoformat()
    if args.output:
        overrides["OUTPUT_PATH"] = str(args.output.resolve())
    if args.content:
        overrides["PATH"] = str(args.content.resolve())
    if getattr(args, "accept_rewrite", None) is not None:
        if not args.production:
            raise SettingsError("--accept-rewrite", "only a production build records a rewrite")
        overrides["CASCADE_ACCEPT_REWRITE"] = args.accept_rewrite
    return overrides


def _settings_for(args: argparse.Namespace) -> dict[str, object]:
    from alerts.build import load_settings

    return load_settings(_config_of(args), _overrides_of(args))


def cmd_build(args: argparse.Namespace) -> int:
    # A build is short-lived and nearly everything it makes lives until it ends (the
    # modules it imports, the archive's records, keys, the manifest): the collector's
    # passes would walk those hundreds of thousands of objects again and again to free
    # almost nothing (importing Pelican alone takes a tenth longer with it). Forked
    # workers, which render thousands of pages in a cold build, collect as usual.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _stamped_build(args)
    finally:
        if collecting:
            gc.enable()


def _stamped_build(args: argparse.Namespace) -> int:
    from alerts import stamp

    inputs = _stamp_inputs(args)
    now = args.now or datetime.now(UTC)
    if inputs is not None:
        done = stamp.unchanged(inputs, now)
        if done is not None:
            print(f"{done.summary} (nothing changed since the last build)")
            for notice in done.notices:
                print(notice)
            return EXIT_OK
    return _build(args, inputs)


def _stamp_inputs(args: argparse.Namespace) -> stamp.Inputs | None:
    """The inputs to compare with the last build's stamp, or None when this build must run
    whatever they are (a forced rebuild, a recorded rewrite, unreadable settings)."""
    from alerts import stamp

    if args.full or args.no_cache or getattr(args, "accept_rewrite", None) is not None:
        return None
    config = _config_of(args)
    if not config.is_file():
        return None  # the real build reports it
    try:
        return stamp.read_inputs(
            config, _overrides_of(args), args.content, args.output, while_waiting=_preload
        )
    except Exception:  # a settings file that fails here fails the real build, clearly
        return None


# What a build imports, in the order it needs it: Pelican, then our plugins' modules and
# the libraries they bring (Markdown, YAML, nh3, the audit's, feedgen and lxml).
_PRELOAD = (
    "pelican.generators",
    "alerts.generator",
    "audit.site",
    "alert_feeds.outputs",
    "alert_feeds.atom_rss",
)


def _preload(go_on: Callable[[], bool]) -> None:
    """Import what the build will need while git stats a large archive on the other core
    (about 0.3 s each at 100,000 alerts), one module at a time while `go_on()` says so. A
    build that then finds nothing changed imported its first modules for nothing, and ends
    at worst one module's import after git's answer."""
    import importlib

    for name in _PRELOAD:
        if not go_on():
            return
        importlib.import_module(name)


def _build(args: argparse.Namespace, inputs: stamp.Inputs | None) -> int:
    from alerts import stamp
    from alerts.build import run_pelican
    from alerts.settings import CascadeSettings

    settings = _settings_for(args)
    cascade = CascadeSettings.from_pelican(settings)
    stamp.forget(cascade.state_path(Path(str(settings["PATH"]))))
    if inputs is not None and _same_folder(settings, inputs):
        # content/ was walked (or found to be a tree of HEAD) for the stamp a moment ago:
        # the build need not walk it again.
        seen = inputs.walk if inputs.walk is not None else inputs.git
        if seen is not None:
            settings["CASCADE_CONTENT_STAMPS"] = seen
    generator = run_pelican(settings)
    stats = generator.stats
    alerts = generator.loaded.collection.alerts
    summary = (
        f"built {len(alerts)} alerts into {settings['OUTPUT_PATH']}: "
        f"{stats.rendered} rendered, {stats.kept} unchanged, {stats.deleted} removed"
    )
    print(f"{summary}{' (full build)' if stats.full else ''}")
    notices = [
        f"note: {notice['title']} {notice['text']}"
        for notice in generator.page_context.get("site_notices", [])
    ]
    for notice in notices:
        print(notice)
    if inputs is not None and _same_folder(settings, inputs):
        valid_until = stamp.next_change(
            stamp.alert_boundaries(
                generator.loaded.collection,
                cascade.current_window_days,
                cascade.feed_retention_days,
                generator.now,
            ),
            generator.now,
        )
        kept = stats.rendered + stats.kept
        stamp.record(
            inputs,
            generator.now,
            valid_until,
            f"built {len(alerts)} alerts into {settings['OUTPUT_PATH']}: 0 rendered, {kept} unchanged, 0 removed",
            notices,
        )
    return EXIT_OK


def _same_folder(settings: dict[str, object], inputs: stamp.Inputs) -> bool:
    """Whether the build reads and writes the folders whose inputs were stamped."""
    return (
        Path(str(settings["OUTPUT_PATH"])).resolve() == inputs.output
        and Path(str(settings["PATH"])).resolve() == inputs.content
    )


def cmd_audit(args: argparse.Namespace) -> int:
    import json

    from alerts.build import load_settings
    from alerts.settings import CascadeSettings
    from audit.audit import audit_repository
    from audit.ledger import Ledger
    from audit.policy import AuditPolicy

    repo: Path = args.repo
    content = repo if (repo / "alerts").is_dir() or repo.name == "content" else repo / "content"
    settings = CascadeSettings.from_pelican(
        load_settings(args.settings, {"PATH": str(content.resolve())})
    )
    policy = AuditPolicy(
        since=args.since or settings.audit_since, trusted_signers=settings.audit_trusted_signers
    )
    state = settings.state_path(content)
    ledger = Ledger.load(state / "ledger.json")
    report = audit_repository(repo, policy, args.now or datetime.now(UTC), ledger)
    if args.json:
        print(json.dumps(report.to_json(), indent=1, sort_keys=True))
    else:
        for violation in report.violations:
            print(violation)
        for line in report.summary_lines():
            print(line)
        print("ok: history verified" if report.ok else f"{len(report.violations)} violation(s)")
    return EXIT_OK if report.ok else EXIT_PROBLEMS


def cmd_serve(args: argparse.Namespace) -> int:
    from alerts.serve import serve

    cmd_build(args)
    settings = _settings_for(args)
    return serve(
        settings,
        rebuild=lambda: _rebuild_quietly(args),
        bind=args.bind,
        port=args.port,
    )


def _rebuild_quietly(args: argparse.Namespace) -> None:
    try:
        cmd_build(args)
    except ContentError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(
            "not rebuilt: fix the problems above (the last good build is still served)",
            file=sys.stderr,
        )
    except CascadeError as exc:
        print(f"not rebuilt: {exc}", file=sys.stderr)


if __name__ == "__main__":
    code = main()
    # Everything a command made dies with the process: the collection Python runs at exit
    # would only walk it once more (about 0.07 s after a build of 10,000 alerts).
    gc.freeze()
    sys.exit(code)
