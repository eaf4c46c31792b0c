"""frontmatter: splitting an alert file and reading its YAML strictly."""

from __future__ import annotations

import time

import pytest

from alerts.frontmatter import (
    MAX_FILE_BYTES,
    FrontMatterError,
    decode,
    load_strict,
    load_strict_mapping,
    read_source,
)

MUST_START = "the file must start with a line '---' (YAML front-matter)"
UNCLOSED = "no closing '---' line after the front-matter"
INVALID = "is not valid YAML:"
SIMPLE = b'---\ntitle: "Cordon"\nlevel: red\n---\nBody text.\n'


def refused(raw: bytes) -> tuple[int, str, str]:
    with pytest.raises(FrontMatterError) as caught:
        read_source(raw)
    return caught.value.line, caught.value.field, caught.value.message


# Splitting


def test_split_gives_metadata_key_lines_and_body() -> None:
    source = read_source(SIMPLE)
    assert source.metadata == {"title": "Cordon", "level": "red"}
    assert source.lines == {"title": 2, "level": 3}
    assert source.body == "Body text."
    assert source.body_line == 5


def test_blank_lines_before_the_body_are_skipped_and_counted() -> None:
    source = read_source(b"---\nlevel: red\n---\n\n\n  \nFirst line.\n\n")
    assert source.body == "First line."
    assert source.body_line == 7


def test_body_keeps_its_inner_blank_lines_and_loses_trailing_space() -> None:
    source = read_source(b"---\nlevel: red\n---\nOne.\n\n\nTwo.  \n\n")
    assert source.body == "One.\n\n\nTwo."


def test_spellings_keep_what_the_author_wrote() -> None:
    source = read_source(b"---\ntitle: NO\ncode: 0755\nquoted: 'yes'\nlist: [a]\n---\nx")
    assert source.metadata == {"title": False, "code": 493, "quoted": "yes", "list": ["a"]}
    assert source.spellings == {"title": "NO", "code": "0755", "quoted": "yes"}


def test_empty_front_matter_is_an_empty_mapping() -> None:
    source = read_source(b"---\n---\nBody")
    assert source.metadata == {}
    assert source.lines == {}
    assert source.body_line == 3


def test_comment_only_front_matter_is_an_empty_mapping() -> None:
    assert read_source(b"---\n# nothing yet\n---\nBody").metadata == {}


def test_delimiters_may_carry_trailing_spaces() -> None:
    assert read_source(b"---  \nlevel: red\n--- \t\nBody").metadata == {"level": "red"}


def test_a_second_dash_line_in_the_body_is_body() -> None:
    source = read_source(b"---\nlevel: red\n---\nAbove\n---\nBelow")
    assert source.body == "Above\n---\nBelow"


def test_dates_stay_text_so_validation_sees_a_missing_offset() -> None:
    source = read_source(b"---\nissued: 2017-04-20T21:30:00\nday: 2017-04-20\n---\nx")
    assert source.metadata == {"issued": "2017-04-20T21:30:00", "day": "2017-04-20"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"Body only, no front-matter", (1, "front-matter", MUST_START)),
        (b"", (1, "front-matter", MUST_START)),
        (b"\n---\nlevel: red\n---\nx", (1, "front-matter", MUST_START)),
        (b"----\nlevel: red\n---\nx", (1, "front-matter", MUST_START)),
        (b"---\nlevel: red\nBody", (3, "front-matter", UNCLOSED)),
        (b"---\nlevel: red\n", (3, "front-matter", UNCLOSED)),
        (b"---", (1, "front-matter", UNCLOSED)),
    ],
    ids=[
        *("no-front-matter", "empty-file", "blank-first-line", "four-dashes"),
        *("unclosed", "unclosed-eof", "only-opening"),
    ],
)
def test_missing_or_unclosed_delimiters(raw: bytes, expected: tuple[int, str, str]) -> None:
    assert refused(raw) == expected


# Encodings and line endings


def test_utf8_bom_is_accepted() -> None:
    assert read_source(b"\xef\xbb\xbf" + SIMPLE) == read_source(SIMPLE)


def test_crlf_is_accepted_with_the_same_lines() -> None:
    assert read_source(SIMPLE.replace(b"\n", b"\r\n")) == read_source(SIMPLE)


def test_cr_only_is_accepted_with_the_same_lines() -> None:
    assert read_source(SIMPLE.replace(b"\n", b"\r")) == read_source(SIMPLE)


def test_bom_and_crlf_together() -> None:
    assert read_source(b"\xef\xbb\xbf" + SIMPLE.replace(b"\n", b"\r\n")) == read_source(SIMPLE)


def test_utf8_text_survives_decoding() -> None:
    text = '---\ntitle: "Café ☕ שלום 😀"\n---\nx'
    assert read_source(text.encode()).metadata["title"] == "Café ☕ שלום 😀"


@pytest.mark.parametrize(
    ("bom", "encoding", "name"),
    [
        (b"\xff\xfe", "utf-16-le", "UTF-16"),
        (b"\xfe\xff", "utf-16-be", "UTF-16"),
        (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32"),
        (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32"),
    ],
)
def test_utf16_and_utf32_with_a_byte_order_mark_are_named(
    bom: bytes, encoding: str, name: str
) -> None:
    raw = bom + SIMPLE.decode().encode(encoding)
    assert refused(raw) == (1, "file", f"is {name}, not UTF-8 (save the file as UTF-8)")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_caught_by_its_nul_bytes(encoding: str) -> None:
    raw = SIMPLE.decode().encode(encoding)
    assert refused(raw) == (1, "file", "contains NUL bytes (is it UTF-16? save the file as UTF-8)")


def test_a_nul_byte_is_reported_on_its_line() -> None:
    assert refused(b"---\nlevel: red\n---\nBody\x00")[0] == 4


def test_latin1_bytes_are_reported_with_line_and_byte() -> None:
    raw = '---\ntitle: "Café"\n---\nx'.encode("latin-1")
    assert refused(raw) == (
        2,
        "file",
        "is not valid UTF-8 at byte 15 (save the file as UTF-8)",
    )


def test_decode_is_the_same_check_for_any_yaml_file() -> None:
    assert decode(b"\xef\xbb\xbfa\r\nb\rc\n") == "a\nb\nc\n"
    with pytest.raises(FrontMatterError):
        decode(b"\xe9")


# Size


def _file_of_size(size: int) -> bytes:
    head = b'---\ntitle: "Big"\n---\n'
    return head + b"x" * (size - len(head))


def test_a_file_of_exactly_256_kib_is_accepted() -> None:
    raw = _file_of_size(MAX_FILE_BYTES)
    assert len(raw) == 256 * 1024
    assert read_source(raw).metadata == {"title": "Big"}


def test_one_byte_over_256_kib_is_refused_clearly() -> None:
    assert refused(_file_of_size(MAX_FILE_BYTES + 1)) == (
        1,
        "file",
        "is 262,145 bytes (an alert file may be at most 256 KiB)",
    )


# Strict YAML


def test_alias_bomb_is_refused_without_expansion() -> None:
    # The billion-laughs shape in under 400 bytes: expanded it would hold 10**9 items.
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for name, previous in zip("bcdefghi", "abcdefgh", strict=True):
        lines.append(f"{name}: &{name} [{','.join(['*' + previous] * 10)}]")
    raw = ("---\n" + "\n".join(lines) + "\n---\nx").encode()
    assert len(raw) < 450
    started = time.perf_counter()
    assert refused(raw) == (2, "front-matter", "anchors (&name) are not allowed")
    assert time.perf_counter() - started < 1


def test_alias_without_anchor_is_refused() -> None:
    assert refused(b"---\ntitle: x\nlevel: *a\n---\nx") == (
        3,
        "front-matter",
        "aliases (*name) are not allowed",
    )


@pytest.mark.parametrize(
    "yaml_text",
    ['title: &t "Cordon"', "sectors: &s [retail]", "corrections: &c {at: x}"],
)
def test_anchors_are_refused_on_scalars_sequences_and_mappings(yaml_text: str) -> None:
    raw = f"---\nlevel: red\n{yaml_text}\n---\nx".encode()
    assert refused(raw) == (3, "front-matter", "anchors (&name) are not allowed")


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!python/object:os.system {}", "tag:yaml.org,2002:python/object:os.system"),
        ("!!python/object/apply:os.system [id]", "tag:yaml.org,2002:python/object/apply:os.system"),
        ("!foo bar", "!foo"),
        ("!!binary aGVsbG8=", "tag:yaml.org,2002:binary"),
        ("!!str NO", "tag:yaml.org,2002:str"),
        ("!!set {a, b}", "tag:yaml.org,2002:set"),
        ("! bare", "!"),
        ("!<tag:example.com,2000:x> y", "tag:example.com,2000:x"),
    ],
)  # fmt: skip
def test_every_explicit_tag_is_refused(value: str, tag: str) -> None:
    raw = f"---\nlevel: red\ntitle: {value}\n---\nx".encode()
    assert refused(raw) == (3, "front-matter", f"tags like {tag!r} are not allowed")


def test_tag_inside_a_list_is_refused_on_its_line() -> None:
    raw = b"---\nsectors:\n  - retail\n  - !!python/name:os.system\n---\nx"
    assert refused(raw)[:2] == (4, "front-matter")


def test_duplicate_key_is_reported_on_the_duplicate_line() -> None:
    raw = b"---\ntitle: One\nlevel: red\ntitle: Two\n---\nx"
    assert refused(raw) == (4, "front-matter", "duplicate key 'title'")


def test_duplicate_key_inside_a_correction_is_refused() -> None:
    raw = b'---\ncorrections:\n  - at: "2017-04-20T22:00:00Z"\n    at: "x"\n    note: n\n---\nx'
    assert refused(raw) == (4, "front-matter", "duplicate key 'at'")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("1", "key '1' must be text, but YAML reads it as 1"),
        ("yes", "key 'yes' must be text, but YAML reads it as True"),
        ("null", "key 'null' must be text, but YAML reads it as None"),
    ],
)
def test_keys_must_be_text(key: str, message: str) -> None:
    assert refused(f"---\nlevel: red\n{key}: x\n---\nb".encode()) == (3, "front-matter", message)


def test_merge_and_value_indicators_are_plain_text() -> None:
    source = read_source(b"---\ntitle: =\n<<: {a: 1}\n---\nx")
    assert source.metadata == {"title": "=", "<<": {"a": 1}}


@pytest.mark.parametrize(
    "yaml_text",
    ["- a\n- b", "just a sentence", "42", "'quoted'"],
    ids=["list", "text", "number", "quoted"],
)
def test_front_matter_must_be_a_mapping(yaml_text: str) -> None:
    raw = f"---\n{yaml_text}\n---\nx".encode()
    assert refused(raw) == (2, "front-matter", "must be a mapping of field: value")


@pytest.mark.parametrize(
    ("yaml_text", "line", "problem"),
    [
        (
            "title: x\nlevel: [red\nissued: y",
            4,
            f"{INVALID} expected ',' or ']', but got ':' (while parsing a flow sequence on line 3)",
        ),
        ("title: x\n  level: red", 3, f"{INVALID} mapping values are not allowed here"),
        (
            "title: x\nlevel red\nissued: y",
            4,
            f"{INVALID} could not find expected ':' (while scanning a simple key on line 3)",
        ),
        (
            "title: 'x\nlevel: red",
            3,
            f"{INVALID} found unexpected end of stream (while scanning a quoted scalar on line 2)",
        ),
        (
            "title: x\n\tlevel: red",
            3,
            f"{INVALID} found character '\\t' that cannot start any token",
        ),
    ],
    ids=["unclosed-list", "bad-indent", "missing-colon", "unclosed-quote", "tab-indent"],
)
def test_yaml_syntax_errors_point_at_the_file_line(yaml_text: str, line: int, problem: str) -> None:
    assert refused(f"---\n{yaml_text}\n---\nx".encode()) == (line, "front-matter", problem)


def test_characters_yaml_cannot_read_are_reported_on_their_line() -> None:
    raw = b'---\ntitle: "a"\nlevel: "x\x1by"\n---\nx'
    assert refused(raw) == (
        3,
        "front-matter",
        "contains the character U+001B, which YAML does not allow (remove it)",
    )


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85"])
def test_yaml_only_line_breaks_are_refused_so_line_numbers_stay_true(char: str) -> None:
    raw = f"---\ntitle: 'a'\nsummary: 'x{char}y'\nlevel: red\n---\nb".encode()
    assert refused(raw) == (
        3,
        "front-matter",
        f"contains the invisible line break U+{ord(char):04X} (remove it)",
    )


def test_key_lines_are_file_lines_for_nested_and_multiline_values() -> None:
    raw = b"---\n# comment\ntitle: >\n  folded\n  text\nsectors:\n  - retail\n\nlevel: red\n---\nx"
    source = read_source(raw)
    assert source.lines == {"title": 3, "sectors": 6, "level": 9}
    assert source.metadata["title"] == "folded text\n"


def test_load_strict_mapping_offsets_lines() -> None:
    mapping, lines = load_strict_mapping("a: 1\nb: 2", first_line=10)
    assert mapping == {"a": 1, "b": 2}
    assert lines == {"a": 10, "b": 11}


def test_load_strict_applies_the_same_rules_to_registry_files() -> None:
    assert load_strict("- slug: a\n- slug: b") == [{"slug": "a"}, {"slug": "b"}]
    with pytest.raises(FrontMatterError) as caught:
        load_strict("- &x slug: a\n- *x", what="file")
    assert (caught.value.line, caught.value.field) == (1, "file")


def test_an_empty_body_is_placed_just_after_the_front_matter() -> None:
    for tail in (b"", b"\n", b"\n\n  \n"):
        source = read_source(b"---\nlevel: red\n---" + tail)
        assert (source.body, source.body_line) == ("", 4)


def test_lone_surrogate_escapes_are_refused() -> None:
    from alerts.frontmatter import FrontMatterError, read_source

    with pytest.raises(FrontMatterError) as caught:
        read_source(b'---\nlevel: "red"\ntitle: "\\ud83d\\ude00"\n---\nBody\n')
    assert (caught.value.line, caught.value.field) == (3, "front-matter")
    assert "lone surrogate" in caught.value.message
    assert read_source(b'---\ntitle: "\\U0001F600"\n---\nBody\n').metadata == {
        "title": "\U0001f600"
    }
