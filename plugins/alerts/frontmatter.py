"""Split an alert file into YAML front-matter and Markdown body, parsing the YAML strictly."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, Event, MappingStartEvent, ScalarEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode

MAX_FILE_BYTES = 256 * 1024
_BOM = b"\xef\xbb\xbf"
# Longest first: a UTF-32 little-endian mark starts with the UTF-16 one.
_OTHER_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
# YAML counts these as line breaks and Python's split("\n") does not, so every line number
# after one would be wrong; they are invisible, so no author means to type them.
_YAML_ONLY_LINE_BREAKS = re.compile("[\x85\u2028\u2029]")


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
    for bom, encoding in _OTHER_BOMS:
        if raw.startswith(bom):
            raise FrontMatterError(1, "file", f"is {encoding}, not UTF-8 (save the file as UTF-8)")
    if b"\x00" in raw:
        # UTF-16 without a byte-order mark is full of NUL bytes, which UTF-8 decodes happily.
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise FrontMatterError(
            line, "file", "contains NUL bytes (is it UTF-16? save the file as UTF-8)"
        )
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
    for number, line in enumerate(lines[1:end], start=2):
        found = _YAML_ONLY_LINE_BREAKS.search(line)
        if found:
            raise FrontMatterError(
                number,
                "front-matter",
                f"contains the invisible line break U+{ord(found.group()):04X} (remove it)",
            )
    node, value = _load(yaml_text, 2, "front-matter")
    metadata, key_lines = _as_mapping(node, value, first_line=2)
    spellings = {
        str(key.value): str(item.value)
        for key, item in (node.value if isinstance(node, MappingNode) else [])
        if isinstance(item, ScalarNode)
    }
    body_lines = lines[end + 1 :]
    # An empty body is reported on the line after the front-matter, not past the file's end.
    skipped = next((i for i, line in enumerate(body_lines) if line.strip()), 0)
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
        event: Event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            raise _YamlRefused(_line(event.start_mark), "aliases (*name) are not allowed")
        if isinstance(event, (ScalarEvent, SequenceStartEvent, MappingStartEvent)):
            if event.anchor is not None:
                raise _YamlRefused(_line(event.start_mark), "anchors (&name) are not allowed")
            # Only a tag the author wrote is set on the event; even "!" and "!!str" are
            # refused, so every value means what the plain YAML 1.1 rules say it means.
            if event.tag is not None:
                raise _YamlRefused(
                    _line(event.start_mark), f"tags like {event.tag!r} are not allowed"
                )
        return Composer.compose_node(self, parent, index)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise _YamlRefused(
                    _line(key_node.start_mark),
                    f"key {key_node.value!r} must be text, but YAML reads it as {key!r}",
                )
            if key in seen:
                raise _YamlRefused(_line(key_node.start_mark), f"duplicate key {key!r}")
            seen.add(key)
        return SafeConstructor.construct_mapping(self, node, deep=deep)


class _Mark(Protocol):
    @property
    def line(self) -> int: ...


def _line(mark: _Mark | None) -> int:
    """The 0-based line of a YAML mark (PyYAML types every mark as optional)."""
    return mark.line if mark is not None else 0


# Dates stay text: we parse them ourselves so a missing offset is an error, not a guess.
# "=" (value) and "<<" (merge) have no safe constructor: as text they get a clear message.
_TEXT_TAGS = frozenset(
    {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value", "tag:yaml.org,2002:merge"}
)
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _TEXT_TAGS]
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


_FAST = bool(getattr(yaml, "__with_libyaml__", False))
# libyaml's parser with our constructor rules; only for text `_plainly_safe` passed.
_FastStrictLoader: Any = (
    type(
        "_FastStrictLoader",
        (yaml.CSafeLoader,),
        {
            "construct_mapping": _StrictLoader.construct_mapping,
            "yaml_implicit_resolvers": _StrictLoader.yaml_implicit_resolvers,
        },
    )
    if _FAST
    else None
)
# What PyYAML's reader refuses; such text goes the slow way, for its exact message.
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def _plainly_safe(text: str) -> bool:
    """True if the C parser sees no anchor, alias or tag: then composing in C is as strict
    as our Python composer, about ten times faster. Anything else takes the slow path."""
    if _NON_PRINTABLE.search(text):
        return False
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, AliasEvent):
                return False
            if isinstance(event, (ScalarEvent, SequenceStartEvent, MappingStartEvent)) and (
                event.anchor is not None or event.tag is not None
            ):
                return False
    except yaml.YAMLError:
        return False
    return True


_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_surrogates(node: Node | None, first_line: int, what: str) -> None:
    """YAML's "\\ud83d\\ude00" escapes give two lone surrogates, not one character: text
    that cannot be written as UTF-8, nor even printed in an error message."""
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, ScalarNode):
            if _SURROGATE.search(current.value):
                raise FrontMatterError(
                    current.start_mark.line + first_line,
                    what,
                    "contains a \\uD800 to \\uDFFF escape (a lone surrogate); write the "
                    "character itself, or one \\U0001XXXX escape",
                )
        elif isinstance(current.value, list):
            for item in current.value:
                stack.extend(item if isinstance(item, tuple) else (item,))


def _load(text: str, first_line: int, what: str) -> tuple[Node | None, Any]:
    node, value = _load_unchecked(text, first_line, what)
    _refuse_surrogates(node, first_line, what)
    return node, value


def _load_unchecked(text: str, first_line: int, what: str) -> tuple[Node | None, Any]:
    if _FAST and _plainly_safe(text):
        fast = _FastStrictLoader(text)
        try:
            node = fast.get_single_node()
            return node, fast.construct_document(node) if node is not None else None
        except _YamlRefused as exc:
            raise FrontMatterError(exc.line + first_line, what, exc.message) from None
        except yaml.YAMLError:
            pass  # let the strict loader find and word the problem
        finally:
            fast.dispose()
    try:
        loader = _StrictLoader(text)
    except yaml.reader.ReaderError as exc:
        # The reader vets every character before parsing; `position` indexes `text`.
        line = text[: exc.position].count("\n") + first_line
        raise FrontMatterError(
            line,
            what,
            f"contains the character U+{exc.character:04X}, which YAML does not allow (remove it)",
        ) from None
    try:
        node = loader.get_single_node()
        value = loader.construct_document(node) if node is not None else None
    except _YamlRefused as exc:
        raise FrontMatterError(exc.line + first_line, what, exc.message) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = _line(mark) + first_line
        message = f"is not valid YAML: {exc.problem or exc}"
        if exc.context and exc.context_mark and _line(exc.context_mark) + first_line != line:
            # An unclosed quote or bracket is noticed lines later; say where it opened.
            message += f" ({exc.context} on line {_line(exc.context_mark) + first_line})"
        raise FrontMatterError(line, what, message) from None
    except yaml.YAMLError as exc:
        raise FrontMatterError(first_line, what, f"is not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    return node, value
