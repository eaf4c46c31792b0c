"""Split an alert file into YAML front-matter and Markdown body, parsing the YAML strictly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode

MAX_FILE_BYTES = 256 * 1024
_BOM = b"\xef\xbb\xbf"


class FrontMatterError(Exception):
    """The file cannot be read as front-matter plus body; `line` is 1-based in the file."""

    def __init__(self, line: int, field: str, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.field = field
        self.message = message


@dataclass(frozen=True)
class SourceFile:
    """A decoded alert file: its metadata, the 1-based line of each key, and the body."""

    metadata: dict[str, Any]
    lines: dict[str, int]
    body: str
    body_line: int
    # How each scalar value was written, so an error can quote the author's own spelling
    # ("NO", not the False that YAML 1.1 made of it).
    spellings: dict[str, str]


def decode(raw: bytes) -> str:
    """UTF-8 with an optional byte-order mark; CRLF and CR become LF."""
    if len(raw) > MAX_FILE_BYTES:
        raise FrontMatterError(
            1, "file", f"is {len(raw):,} bytes (an alert file may be at most 256 KiB)"
        )
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise FrontMatterError(
            line, "file", f"is not valid UTF-8 at byte {exc.start} (save the file as UTF-8)"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_source(raw: bytes) -> SourceFile:
    """Parse a whole alert file. Raises FrontMatterError for anything malformed."""
    text = decode(raw)
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        raise FrontMatterError(
            1, "front-matter", "the file must start with a line '---' (YAML front-matter)"
        )
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].rstrip() == "---")
    except StopIteration:
        raise FrontMatterError(
            len(lines), "front-matter", "no closing '---' line after the front-matter"
        ) from None
    yaml_text = "\n".join(lines[1:end])
    node, value = _load(yaml_text, 2, "front-matter")
    metadata, key_lines = _as_mapping(node, value, first_line=2)
    spellings = {
        str(key.value): str(item.value)
        for key, item in (node.value if isinstance(node, MappingNode) else [])
        if isinstance(item, ScalarNode)
    }
    body_lines = lines[end + 1 :]
    skipped = next((i for i, line in enumerate(body_lines) if line.strip()), len(body_lines))
    body = "\n".join(body_lines[skipped:]).rstrip()
    return SourceFile(
        metadata=metadata,
        lines=key_lines,
        body=body,
        body_line=end + 2 + skipped,
        spellings=spellings,
    )


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors, aliases, explicit tags and duplicate keys.

    Refusing at the event level matters: an alias bomb is rejected before anything is
    expanded, in the time it takes to read its first alias.
    """

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise _YamlRefused(event.start_mark.line, "aliases (*name) are not allowed")
        if isinstance(event, (ScalarEvent, SequenceStartEvent, MappingStartEvent)):
            if event.anchor is not None:
                raise _YamlRefused(event.start_mark.line, "anchors (&name) are not allowed")
            explicit = (
                not event.implicit[0] and not event.implicit[1]
                if isinstance(event, ScalarEvent)
                else not event.implicit
            )
            if event.tag is not None and explicit:
                raise _YamlRefused(
                    event.start_mark.line, f"tags like {event.tag!r} are not allowed"
                )
        return Composer.compose_node(self, parent, index)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            if not isinstance(key, str):
                raise _YamlRefused(key_node.start_mark.line, f"key {key!r} must be text")
            if key in seen:
                raise _YamlRefused(key_node.start_mark.line, f"duplicate key {key!r}")
            seen.add(key)
        return SafeConstructor.construct_mapping(self, node, deep=deep)


# Dates stay text: we parse them ourselves so a missing offset is an error, not a guess.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _YamlRefused(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_strict_mapping(text: str, first_line: int = 1) -> tuple[dict[str, Any], dict[str, int]]:
    """Load a YAML mapping strictly; returns the mapping and the file line of each key.

    `first_line` is the file line on which `text` starts, so errors point into the file.
    """
    node, value = _load(text, first_line, "front-matter")
    return _as_mapping(node, value, first_line)


def _as_mapping(
    node: Node | None, value: Any, first_line: int
) -> tuple[dict[str, Any], dict[str, int]]:
    if value is None:
        return {}, {}
    if not isinstance(node, MappingNode) or not isinstance(value, dict):
        raise FrontMatterError(first_line, "front-matter", "must be a mapping of field: value")
    key_lines = {
        str(key_node.value): key_node.start_mark.line + first_line for key_node, _ in node.value
    }
    return value, key_lines


def load_strict(text: str, first_line: int = 1, what: str = "file") -> Any:
    """Load any YAML document strictly (used for sectors.yml and sources.yml)."""
    return _load(text, first_line, what)[1]


def _load(text: str, first_line: int, what: str) -> tuple[Node | None, Any]:
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        value = loader.construct_document(node) if node is not None else None  # type: ignore[no-untyped-call]
    except _YamlRefused as exc:
        raise FrontMatterError(exc.line + first_line, what, exc.message) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line if mark else 0) + first_line
        raise FrontMatterError(line, what, f"is not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise FrontMatterError(first_line, what, f"is not valid YAML: {exc}") from None
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]
    return node, value
