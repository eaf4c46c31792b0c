"""validate.parse_alert_file: every field rule, with the exact problem an author sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from alerts.errors import Problem
from alerts.model import Level, Status
from alerts.validate import FIELDS, ParsedAlert, alert_id_problems

P = "alerts/2017/2017-04-20-oxford-street.md"
ALLOWED_FIELDS = (
    "title, level, issued, sectors, source, summary, updates, expires, status, "
    "corrections, attachments, topics"
)
UNKNOWN = f"unknown field (allowed: {ALLOWED_FIELDS})"
LIKE = "like 2017-04-20T21:30:00+01:00"
NO_OFFSET = f"has no UTC offset (add one, {LIKE}, or Z for UTC)"
NOT_ISO = f"is not an ISO 8601 date-time ({LIKE})"
NOT_DATETIME = f"must be a date-time with a UTC offset, {LIKE}"
NOT_SLUG = "is not a slug (lower-case a-z, 0-9 and single hyphens)"
NOT_ID = "is not an alert id (the file name without .md, like 2017-04-20-paris-incident)"
NOT_LEVEL = "is not allowed (allowed: red, amber, green)"
NOT_STATUS = "is not allowed (allowed: active, withdrawn)"
SECTOR_LIST = "must be a non-empty list (a list of sector slugs from sectors.yml, or [all])"
SOURCE_LIST = "must be a slug or a non-empty list of slugs"
SLUG_LIST = "must be a non-empty list of slugs"
CORRECTION_LIST = "must be a non-empty list of {at: date-time, note: text}"
CORRECTION_ITEM = "must be a mapping with exactly the keys at and note"
ATTACHMENT_LIST = "must be a non-empty list of file names in content/attachments/"
SECTORS = "allowed: retail, banking, night-time"
ATTACHMENT = "(a file name inside content/attachments/, like bulletin.pdf)"
OUTSIDE = f"points outside content/attachments/ {ATTACHMENT}"
BAD_CHARS = f"contains characters not allowed in a file name {ATTACHMENT}"
ID_RULE = "YYYY-MM-DD-slug.md, lower-case letters, digits and single hyphens"
LIVE_AT = (
    "alert files live at alerts/YYYY/MM/YYYY-MM-DD-slug.md "
    "(or alerts/YYYY/YYYY-MM-DD-slug.md if written there before)"
)
CONTROL = "contains control or bidirectional character U+{:04X} (remove it)"
NOT_EARLIER = "corrections must be listed oldest first, each later than the one before"
BST = timezone(timedelta(hours=1))
WITHDRAWN = {
    "status": "withdrawn",
    "corrections": '[{at: "2017-04-20T22:00:00+01:00", note: "Stood down: false alarm."}]',
}


def quote_it(field: str, shown: str, read_as: str) -> str:
    return (
        f'must be text, but YAML reads {shown} as {read_as} (put it in quotes: {field}: "{shown}")'
    )


def problems(result: ParsedAlert | list[Problem]) -> list[Problem]:
    assert isinstance(result, list), f"expected problems, got {result!r}"
    return result


def parsed(result: ParsedAlert | list[Problem]) -> ParsedAlert:
    assert isinstance(result, ParsedAlert), "\n".join(map(str, result))  # type: ignore[arg-type]
    return result


# Good files


GOOD = {
    "minimal": {},
    "all-sectors-list": {"sectors": "[all]"},
    "all-sectors-scalar": {"sectors": "all"},
    "source-list": {"source": "[met, tfl]"},
    "unquoted-datetime": {"issued": "2017-04-20T21:30:00+01:00"},
    "utc-z": {"issued": '"2017-04-20T20:30:00Z"'},
    "negative-offset": {"issued": '"2017-04-20T16:30:00-04:00"'},
    "fractional-seconds": {"issued": '"2017-04-20T21:30:00.250+01:00"'},
    "no-seconds": {"issued": '"2017-04-20T21:30+01:00"'},
    "just-after-midnight-in-bst": {"issued": '"2017-04-20T00:30:00+01:00"'},
    "quoted-no": {"title": '"NO"'},
    "single-quoted-yes": {"title": "'yes'"},
    "title-150": {"title": '"' + "x" * 150 + '"'},
    "unicode-title": {"title": '"Café ☕ — שלום, مرحبا 😀 AT&T <valve> 5 < 6"'},
    "plain-colon-free-title": {"title": "Road closed at Bank junction"},
    "summary-300": {"summary": '"' + "y" * 300 + '"'},
    "updates": {"updates": "2017-04-19-earlier-alert"},
    "expires": {"expires": '"2017-04-21T06:00:00+01:00"'},
    "status-active": {"status": "active"},
    "corrections": {
        "corrections": (
            '\n  - at: "2017-04-20T22:00:00+01:00"\n    note: "Cordon widened."'
            '\n  - at: "2017-04-20T23:00:00+01:00"\n    note: "Line one.\\nLine two."'
        )
    },
    "attachments": {"attachments": "[bulletin.pdf, maps/cordon.png]"},
    "topics": {"topics": "[terrorism, evacuation, cyber-2]"},
    "level-amber": {"level": "amber"},
    "level-green": {"level": "green"},
    "comments": {"title": '"Cordon" # the headline'},
    "withdrawn-with-body": WITHDRAWN,
}


@pytest.mark.parametrize("fields", GOOD.values(), ids=GOOD.keys())
def test_good_files_parse(parse, make_alert, fields: dict[str, str]) -> None:
    result = parsed(parse(make_alert(**fields)))
    assert result.alert.id == "2017-04-20-oxford-street"
    assert result.alert.path == P


def test_good_file_fields(parse, make_alert) -> None:
    alert = parsed(
        parse(
            make_alert(
                source="[met, tfl]",
                summary='"Shops are being evacuated."',
                updates="2017-04-19-earlier-alert",
                expires='"2017-04-21T06:00:00+01:00"',
                attachments="[bulletin.pdf]",
                topics="[terrorism]",
            )
        )
    ).alert
    assert alert.title == "Suspect package on Oxford Street"
    assert alert.level is Level.RED
    assert alert.issued == datetime(2017, 4, 20, 21, 30, tzinfo=BST)
    assert alert.issued.utcoffset() == timedelta(hours=1)  # kept in the author's offset
    assert alert.sectors == ("retail", "banking")
    assert alert.sources == ("met", "tfl")
    assert alert.summary == "Shops are being evacuated."
    assert alert.updates == "2017-04-19-earlier-alert"
    assert alert.expires == datetime(2017, 4, 21, 6, tzinfo=BST)
    assert alert.status is Status.ACTIVE
    assert alert.corrections == ()
    assert [(a.name, a.size, a.media_type) for a in alert.attachments] == [
        ("bulletin.pdf", 0, "application/pdf")
    ]
    assert alert.topics == ("terrorism",)
    assert "<h2>What to do</h2>" in alert.body_html


def test_lines_of_every_key_are_kept(parse, make_alert) -> None:
    result = parsed(parse(make_alert(topics="[fraud]")))
    assert dict(result.lines) == {
        "title": 2, "level": 3, "issued": 4, "sectors": 5, "source": 6, "topics": 7,
    }  # fmt: skip
    assert result.line("updates") == 1


def test_bom_crlf_file_parses_like_the_plain_file(parse, make_alert) -> None:
    plain = parsed(parse(make_alert()))
    crlf = parsed(parse(b"\xef\xbb\xbf" + make_alert().replace(b"\n", b"\r\n")))
    assert crlf == plain


def test_cr_only_file_parses_like_the_plain_file(parse, make_alert) -> None:
    assert parsed(parse(make_alert().replace(b"\n", b"\r"))) == parsed(parse(make_alert()))


def test_quoted_no_is_the_text_no(parse, make_alert) -> None:
    assert parsed(parse(make_alert(title='"NO"'))).alert.title == "NO"


def test_title_and_summary_are_stripped(parse, make_alert) -> None:
    alert = parsed(parse(make_alert(title='"  Cordon  "', summary='" Short. "'))).alert
    assert (alert.title, alert.summary) == ("Cordon", "Short.")


def test_corrections_are_kept_oldest_first(parse, make_alert) -> None:
    alert = parsed(parse(make_alert(**GOOD["corrections"]))).alert
    assert [c.note for c in alert.corrections] == ["Cordon widened.", "Line one.\nLine two."]
    assert alert.updated == datetime(2017, 4, 20, 23, tzinfo=BST)


def test_withdrawn_alert_may_have_an_empty_body(parse, make_alert) -> None:
    alert = parsed(parse(make_alert(body="", **WITHDRAWN))).alert
    assert alert.withdrawn
    assert (alert.body_html, alert.summary) == ("", "")


# Required fields, unknown fields


@pytest.mark.parametrize(
    ("field", "allowed"),
    [
        ("title", "plain text, 1 to 150 characters"),
        ("level", "red, amber or green"),
        ("issued", f"an ISO 8601 date-time with a UTC offset, {LIKE}"),
        ("sectors", "a list of sector slugs from sectors.yml, or [all]"),
        ("source", "a source slug from sources.yml, or a list of them"),
    ],
)
def test_each_required_field_is_required(parse, make_alert, field: str, allowed: str) -> None:
    assert problems(parse(make_alert(**{field: None}))) == [
        Problem(P, 1, field, f"is required ({allowed})")
    ]


def test_unknown_field_is_an_error_with_a_suggestion(parse, make_alert) -> None:
    raw = make_alert(sectors=None, sector="[retail]")
    assert problems(parse(raw)) == [
        Problem(P, 6, "sector", f"{UNKNOWN}; did you mean 'sectors'?"),
        Problem(P, 1, "sectors", "is required (a list of sector slugs from sectors.yml, or [all])"),
    ]


def test_unknown_field_without_a_near_match(parse, make_alert) -> None:
    assert problems(parse(make_alert(author="Duty inspector"))) == [
        Problem(P, 7, "author", UNKNOWN)
    ]


def test_field_names_are_case_sensitive(parse, make_alert) -> None:
    result = problems(parse(make_alert(title=None, Title='"Cordon"')))
    assert result[0] == Problem(P, 6, "Title", f"{UNKNOWN}; did you mean 'title'?")


# Title


@pytest.mark.parametrize(
    ("yaml_value", "message"),
    [
        ("NO", quote_it("title", "NO", "a true/false value")),
        ("yes", quote_it("title", "yes", "a true/false value")),
        ("off", quote_it("title", "off", "a true/false value")),
        ("1984", quote_it("title", "1984", "a number")),
        ("0755", quote_it("title", "0755", "a number")),
        ("3.5", quote_it("title", "3.5", "a number")),
        ("~", quote_it("title", "~", "nothing (null)")),
        ("null", quote_it("title", "null", "nothing (null)")),
        ("[a, b]", "must be text, not a list"),
        ("{a: b}", "must be text, not a mapping"),
        ("", "is empty (plain text, 1 to 150 characters)"),
        ('""', "is empty (plain text, 1 to 150 characters)"),
        ('"   "', "is empty (plain text, 1 to 150 characters)"),
        ('"' + "x" * 151 + '"', "is 151 characters long (at most 150)"),
    ],
    ids=[
        *("NO", "yes", "off", "int", "octal", "float", "tilde", "null", "list", "mapping"),
        *("nothing", "empty-quotes", "blank", "too-long"),
    ],
)
def test_title_rules(parse, make_alert, yaml_value: str, message: str) -> None:
    assert problems(parse(make_alert(title=yaml_value))) == [Problem(P, 2, "title", message)]


CONTROL_AND_BIDI = [
    ("\\t", 0x09), ("\\n", 0x0A), ("\\x01", 0x01), ("\\e", 0x1B), ("\\x7f", 0x7F),
    ("\\x9b", 0x9B), ("\\u2028", 0x2028), ("\\u202a", 0x202A), ("\\u202e", 0x202E),
    ("\\u2066", 0x2066), ("\\u2069", 0x2069),
]  # fmt: skip


@pytest.mark.parametrize(("escape", "code"), CONTROL_AND_BIDI)
def test_title_refuses_control_and_bidi_characters(
    parse, make_alert, escape: str, code: int
) -> None:
    raw = make_alert(title=f'"Pay{escape}lacsnart"')
    assert problems(parse(raw)) == [Problem(P, 2, "title", CONTROL.format(code))]


@pytest.mark.parametrize(("escape", "code"), CONTROL_AND_BIDI)
def test_summary_refuses_control_and_bidi_characters(
    parse, make_alert, escape: str, code: int
) -> None:
    raw = make_alert(summary=f'"Pay{escape}lacsnart"')
    assert problems(parse(raw)) == [Problem(P, 7, "summary", CONTROL.format(code))]


def test_right_to_left_text_itself_is_fine(parse, make_alert) -> None:
    alert = parsed(parse(make_alert(title='"إغلاق الطريق עברית"'))).alert
    assert alert.title == "إغلاق الطريق עברית"


# Level and status


@pytest.mark.parametrize(
    ("yaml_value", "shown"),
    [("RED", "'RED'"), ("Red", "'Red'"), ("orange", "'orange'"), ("1", "'1'"),
     ("NO", "'NO'"), ("[red]", "\"['red']\""), ('""', "''")],
)  # fmt: skip
def test_level_must_be_one_of_three_lower_case_words(
    parse, make_alert, yaml_value: str, shown: str
) -> None:
    assert problems(parse(make_alert(level=yaml_value))) == [
        Problem(P, 3, "level", f"{shown} is not allowed (allowed: red, amber, green)")
    ]


def test_status_must_be_active_or_withdrawn(parse, make_alert) -> None:
    assert problems(parse(make_alert(status="deleted"))) == [
        Problem(P, 7, "status", "'deleted' is not allowed (allowed: active, withdrawn)")
    ]


def test_withdrawn_needs_a_correction(parse, make_alert) -> None:
    assert problems(parse(make_alert(status="withdrawn"))) == [
        Problem(
            P,
            7,
            "status",
            "withdrawn needs at least one corrections entry saying why "
            "(corrections: [{at: ..., note: ...}])",
        )
    ]


def test_withdrawn_with_a_broken_correction_reports_only_the_correction(parse, make_alert) -> None:
    raw = make_alert(status="withdrawn", corrections="[{at: x}]")
    assert problems(parse(raw)) == [
        Problem(P, 8, "corrections[0]", "must be a mapping with exactly the keys at and note")
    ]


# Dates


@pytest.mark.parametrize(
    ("yaml_value", "message"),
    [
        ('"2017-04-20T21:30:00"', f"'2017-04-20T21:30:00' {NO_OFFSET}"),
        ("2017-04-20T21:30:00", f"'2017-04-20T21:30:00' {NO_OFFSET}"),
        ('"2017-04-20"', f"'2017-04-20' {NOT_ISO}"),
        ("2017-04-20", f"'2017-04-20' {NOT_ISO}"),
        ('"2017-04-20 21:30:00+01:00"', f"'2017-04-20 21:30:00+01:00' {NOT_ISO}"),
        ('"20 April 2017 21:30"', f"'20 April 2017 21:30' {NOT_ISO}"),
        ('"2017-02-30T21:30:00+01:00"', f"'2017-02-30T21:30:00+01:00' {NOT_ISO}"),
        ('"2017-04-20T25:00:00+01:00"', f"'2017-04-20T25:00:00+01:00' {NOT_ISO}"),
        ('"20170420T213000+0100"', f"'20170420T213000+0100' {NOT_ISO}"),
        ("1492720200", NOT_DATETIME),
        ("true", NOT_DATETIME),
        ("[2017-04-20T21:30:00Z]", NOT_DATETIME),
        ("~", NOT_DATETIME),
    ],
    ids=[
        *("quoted-naive", "plain-naive", "date-only-quoted", "date-only-plain"),
        *("space-separator", "prose", "no-such-day", "hour-25", "basic-format"),
        *("epoch", "bool", "list", "null"),
    ],
)
def test_issued_must_be_a_date_time_with_an_offset(
    parse, make_alert, yaml_value: str, message: str
) -> None:
    assert problems(parse(make_alert(issued=yaml_value))) == [Problem(P, 4, "issued", message)]


def test_id_date_is_the_date_in_the_authors_own_offset(parse, make_alert) -> None:
    # 00:30 BST on the 20th is 23:30 UTC on the 19th: the file name follows the author.
    alert = parsed(parse(make_alert(issued='"2017-04-20T00:30:00+01:00"'))).alert
    assert alert.issued.astimezone(UTC).day == 19


def test_id_date_must_match_issued_across_midnight(parse, make_alert) -> None:
    assert problems(parse(make_alert(issued='"2017-04-19T23:30:00Z"'))) == [
        Problem(
            P,
            4,
            "issued",
            "is dated 2017-04-19 in its own offset but the file name says 2017-04-20 "
            "(the id's date must equal the date issued)",
        )
    ]


def test_id_date_mismatch_the_other_way(parse, make_alert) -> None:
    result = problems(parse(make_alert(issued='"2017-04-21T00:10:00+01:00"')))
    assert [(p.line, p.field) for p in result] == [(4, "issued")]


def test_expires_must_be_later_than_issued(parse, make_alert) -> None:
    for value in (
        '"2017-04-20T21:30:00+01:00"',
        '"2017-04-20T20:30:00Z"',
        '"2017-04-20T09:00:00+01:00"',
    ):
        assert problems(parse(make_alert(expires=value))) == [
            Problem(P, 7, "expires", "must be later than issued")
        ]  # fmt: skip


def test_expires_needs_an_offset(parse, make_alert) -> None:
    assert problems(parse(make_alert(expires='"2017-04-21T06:00:00"'))) == [
        Problem(P, 7, "expires", f"'2017-04-21T06:00:00' {NO_OFFSET}")
    ]


# Sectors, sources, topics


@pytest.mark.parametrize(
    ("yaml_value", "field", "message"),
    [
        ("[]", "sectors", SECTOR_LIST),
        ("retail", "sectors", SECTOR_LIST),
        ("[all, retail]", "sectors", "[all] already includes every sector; write it alone"),
        (
            "[retial]",
            "sectors[0]",
            f"'retial' is not in sectors.yml ({SECTORS}); did you mean retail?",
        ),
        ("[retail, pharmacy]", "sectors[1]", f"'pharmacy' is not in sectors.yml ({SECTORS})"),
        ("[Retail]", "sectors[0]", f"'Retail' {NOT_SLUG}"),
        ("[night_time]", "sectors[0]", f"'night_time' {NOT_SLUG}"),
        ("[retail, retail]", "sectors[1]", "'retail' is listed twice"),
        ("[ALL]", "sectors[0]", f"'ALL' {NOT_SLUG}"),
    ],
)
def test_sector_rules(parse, make_alert, yaml_value: str, field: str, message: str) -> None:
    assert problems(parse(make_alert(sectors=yaml_value))) == [Problem(P, 5, field, message)]


@pytest.mark.parametrize(
    ("yaml_value", "field", "message"),
    [
        ("[]", "source", SOURCE_LIST),
        ("bbc", "source[0]", "'bbc' is not in sources.yml (allowed: met, tfl)"),
        (
            "[met, tfll]",
            "source[1]",
            "'tfll' is not in sources.yml (allowed: met, tfl); did you mean tfl?",
        ),
        ("Met", "source[0]", f"'Met' {NOT_SLUG}"),
        ("[met, met]", "source[1]", "'met' is listed twice"),
    ],
)
def test_source_rules(parse, make_alert, yaml_value: str, field: str, message: str) -> None:
    assert problems(parse(make_alert(source=yaml_value))) == [Problem(P, 6, field, message)]


@pytest.mark.parametrize(
    ("yaml_value", "field", "message"),
    [
        ("fraud", "topics", SLUG_LIST),
        ("[]", "topics", SLUG_LIST),
        ("[Fraud]", "topics[0]", f"'Fraud' {NOT_SLUG}"),
        ("[cyber_crime]", "topics[0]", f"'cyber_crime' {NOT_SLUG}"),
        ("[-fraud]", "topics[0]", f"'-fraud' {NOT_SLUG}"),
        ("[a--b]", "topics[0]", f"'a--b' {NOT_SLUG}"),
        ('["fraud\\u202e"]', "topics[0]", f"'fraud\\u202e' {NOT_SLUG}"),
        ("[fraud, fraud]", "topics[1]", "'fraud' is listed twice"),
    ],
)
def test_topic_rules(parse, make_alert, yaml_value: str, field: str, message: str) -> None:
    assert problems(parse(make_alert(topics=yaml_value))) == [Problem(P, 7, field, message)]


# Summary


def test_summary_is_optional_and_capped_at_300(parse, make_alert) -> None:
    assert problems(parse(make_alert(summary='"' + "y" * 301 + '"'))) == [
        Problem(P, 7, "summary", "is 301 characters long (at most 300)")
    ]


def test_empty_summary_is_an_error_not_an_empty_summary(parse, make_alert) -> None:
    message = "is empty (up to 300 characters, or leave summary out to use the default)"
    for value in ('""', "", '"  "'):
        assert problems(parse(make_alert(summary=value))) == [Problem(P, 7, "summary", message)]


def test_summary_no_unquoted(parse, make_alert) -> None:
    assert problems(parse(make_alert(summary="NO"))) == [
        Problem(
            P,
            7,
            "summary",
            quote_it("summary", "NO", "a true/false value"),
        )
    ]


def test_default_summary_is_the_first_paragraph(parse, make_alert, default_body: str) -> None:
    alert = parsed(parse(make_alert())).alert
    assert alert.summary == default_body.split("\n")[0]


def test_default_summary_skips_a_leading_heading(parse, make_alert) -> None:
    alert = parsed(parse(make_alert(body="# Headline\n\nThe *first* paragraph.\n\nMore."))).alert
    assert alert.summary == "The first paragraph."


def test_default_summary_is_cut_at_a_word_boundary(parse, make_alert) -> None:
    words = " ".join(f"word{i:03d}" for i in range(80))  # 639 characters
    alert = parsed(parse(make_alert(body=words))).alert
    assert len(alert.summary) <= 300
    assert alert.summary.endswith("…")
    kept = alert.summary[:-1]
    assert words.startswith(kept + " ")
    assert kept.split(" ")[-1] in words.split(" ")


def test_default_summary_refuses_bidi_characters_from_the_body(parse, make_alert) -> None:
    assert problems(parse(make_alert(body="Pay \u202eeulav\u202c now.\n\nMore."))) == [
        Problem(
            P,
            8,
            "body",
            "the first paragraph, used as the summary, contains control or bidirectional "
            "character U+202E (remove it, or write a summary)",
        )
    ]


def test_bidi_characters_later_in_the_body_are_allowed(parse, make_alert) -> None:
    assert parsed(parse(make_alert(body="First.\n\nLater \u202eeulav\u202c.")))


# Updates


@pytest.mark.parametrize(
    "yaml_value",
    ["paris-incident", "2017-04-19-Paris", "2017-04-19_x", "5", "[a]", "2017-04-19-x.md"],
)
def test_updates_must_be_an_alert_id(parse, make_alert, yaml_value: str) -> None:
    result = problems(parse(make_alert(updates=yaml_value)))
    assert len(result) == 1
    assert (result[0].line, result[0].field) == (7, "updates")
    assert result[0].message.endswith(
        "is not an alert id (the file name without .md, like 2017-04-20-paris-incident)"
    )


def test_updates_message_exactly(parse, make_alert) -> None:
    assert problems(parse(make_alert(updates="paris-incident"))) == [
        Problem(
            P,
            7,
            "updates",
            "'paris-incident' is not an alert id "
            "(the file name without .md, like 2017-04-20-paris-incident)",
        )
    ]


def test_an_alert_cannot_update_itself(parse, make_alert) -> None:
    assert problems(parse(make_alert(updates="2017-04-20-oxford-street"))) == [
        Problem(P, 7, "updates", "an alert cannot update itself")
    ]


# Corrections


LATER = '"2017-04-20T22:00:00+01:00"'
LATEST = '"2017-04-20T23:00:00+01:00"'
NOTE = "must be text saying what changed and why"


def corrections(*items: str) -> str:
    return "".join(f"\n  - {item}" for item in items)


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [
        ("[]", [("corrections", CORRECTION_LIST)]),
        ('"fixed"', [("corrections", CORRECTION_LIST)]),
        (corrections(f"{{at: {LATER}}}"), [("corrections[0]", CORRECTION_ITEM)]),
        (corrections(f"{{at: {LATER}, note: x, by: me}}"), [("corrections[0]", CORRECTION_ITEM)]),
        (corrections("just text"), [("corrections[0]", CORRECTION_ITEM)]),
        (corrections(f'{{at: {LATER}, note: ""}}'), [("corrections[0].note", NOTE)]),
        (corrections(f"{{at: {LATER}, note: NO}}"), [("corrections[0].note", NOTE)]),
        (
            corrections(f'{{at: {LATER}, note: "a\\tb"}}'),
            [("corrections[0].note", CONTROL.format(0x09))],
        ),
        (
            corrections(f'{{at: {LATER}, note: "a\\u202eb"}}'),
            [("corrections[0].note", CONTROL.format(0x202E))],
        ),
        (
            corrections('{at: "2017-04-20T22:00:00", note: x}'),
            [("corrections[0].at", f"'2017-04-20T22:00:00' {NO_OFFSET}")],
        ),
        (
            corrections('{at: "2017-04-20T21:30:00+01:00", note: x}'),
            [("corrections[0].at", "must be later than issued")],
        ),
        (
            corrections('{at: "2017-04-20T20:00:00Z", note: x}'),
            [("corrections[0].at", "must be later than issued")],
        ),
        (
            corrections(f"{{at: {LATEST}, note: b}}", f"{{at: {LATER}, note: a}}"),
            [("corrections[1].at", NOT_EARLIER)],
        ),
        (
            corrections(f"{{at: {LATEST}, note: b}}", '{at: "2017-04-20T22:00:00Z", note: a}'),
            [("corrections[1].at", NOT_EARLIER)],
        ),
    ],
    ids=[
        *("empty", "text", "no-note", "extra-key", "item-text", "empty-note", "note-NO"),
        *("note-tab", "note-bidi", "at-naive", "at-equals-issued", "at-before-issued"),
        *("out-of-order", "same-instant"),
    ],
)
def test_correction_rules(
    parse, make_alert, yaml_value: str, expected: list[tuple[str, str]]
) -> None:
    result = problems(parse(make_alert(corrections=yaml_value)))
    assert result == [Problem(P, 7, field, message) for field, message in expected]


# Attachments


@pytest.mark.parametrize(
    ("yaml_value", "field", "message"),
    [
        ("[]", "attachments", ATTACHMENT_LIST),
        ("bulletin.pdf", "attachments", ATTACHMENT_LIST),
        ("[../secrets.txt]", "attachments[0]", f"'../secrets.txt' {OUTSIDE}"),
        ("[maps/../../x]", "attachments[0]", f"'maps/../../x' {OUTSIDE}"),
        ("[/etc/passwd]", "attachments[0]", f"'/etc/passwd' {OUTSIDE}"),
        ("[~/notes.txt]", "attachments[0]", f"'~/notes.txt' {OUTSIDE}"),
        ("[.htaccess]", "attachments[0]", f"'.htaccess' is a hidden file {ATTACHMENT}"),
        ("['maps\\evil.png']", "attachments[0]", f"'maps\\\\evil.png' {BAD_CHARS}"),
        ('["a\\u202egpj.exe"]', "attachments[0]", f"'a\\u202egpj.exe' {BAD_CHARS}"),
        ("[5]", "attachments[0]", f"must be text {ATTACHMENT}"),
        ('[""]', "attachments[0]", f"must be text {ATTACHMENT}"),
        ("[a.pdf, a.pdf]", "attachments[1]", "'a.pdf' is listed twice"),
    ],
)
def test_attachment_name_rules(
    parse, make_alert, yaml_value: str, field: str, message: str
) -> None:
    assert problems(parse(make_alert(attachments=yaml_value))) == [Problem(P, 7, field, message)]


# Wrong types, field by field


WRONG_TYPES = {"bool": "true", "int": "42", "list": "[x, y]", "null": "~", "mapping": "{a: b}"}
KINDS = tuple(WRONG_TYPES)
LINES = {"title": 2, "level": 3, "issued": 4, "sectors": 5, "source": 6}
# For the fields that take a list, the wrong list is one holding a list.
LIST_FIELDS = ("sectors", "source", "topics", "attachments", "corrections")
WRONG_TYPE_PROBLEMS = {
    **{("title", kind): ("title", message) for kind, message in (
        ("bool", quote_it("title", "true", "a true/false value")),
        ("int", quote_it("title", "42", "a number")),
        ("list", "must be text, not a list"),
        ("null", quote_it("title", "~", "nothing (null)")),
        ("mapping", "must be text, not a mapping"),
    )},
    **{("summary", kind): ("summary", message) for kind, message in (
        ("bool", quote_it("summary", "true", "a true/false value")),
        ("int", quote_it("summary", "42", "a number")),
        ("list", "must be text, not a list"),
        ("null", quote_it("summary", "~", "nothing (null)")),
        ("mapping", "must be text, not a mapping"),
    )},
    **{(field, kind): (field, f"{shown} {message}") for field, message in (
        ("level", NOT_LEVEL), ("status", NOT_STATUS),
    ) for kind, shown in (
        ("bool", "'true'"), ("int", "'42'"), ("list", "\"['x', 'y']\""), ("null", "'~'"),
        ("mapping", "\"{'a': 'b'}\""),
    )},
    **{("updates", kind): ("updates", f"{shown} {NOT_ID}") for kind, shown in (
        ("bool", "'true'"), ("int", "'42'"), ("list", "\"['x', 'y']\""), ("null", "'null'"),
        ("mapping", "\"{'a': 'b'}\""),
    )},
    **{(field, kind): (field, NOT_DATETIME) for field in ("issued", "expires") for kind in KINDS},
    **{(field, kind): (field, message) for field, message in (
        ("sectors", SECTOR_LIST), ("source", SOURCE_LIST), ("topics", SLUG_LIST),
        ("corrections", CORRECTION_LIST), ("attachments", ATTACHMENT_LIST),
    ) for kind in KINDS if kind != "list"},
    ("sectors", "list"): ("sectors[0]", f"\"['met']\" {NOT_SLUG}"),
    ("source", "list"): ("source[0]", f"\"['met']\" {NOT_SLUG}"),
    ("topics", "list"): ("topics[0]", f"\"['met']\" {NOT_SLUG}"),
    ("corrections", "list"): ("corrections[0]", CORRECTION_ITEM),
    ("attachments", "list"): ("attachments[0]", f"must be text {ATTACHMENT}"),
}  # fmt: skip


@pytest.mark.parametrize("kind", WRONG_TYPES)
@pytest.mark.parametrize("field", FIELDS)
def test_every_field_refuses_every_wrong_type(parse, make_alert, field: str, kind: str) -> None:
    value = "[[met]]" if kind == "list" and field in LIST_FIELDS else WRONG_TYPES[kind]
    reported_as, message = WRONG_TYPE_PROBLEMS[field, kind]
    assert problems(parse(make_alert(**{field: value}))) == [
        Problem(P, LINES.get(field, 7), reported_as, message)
    ]


# Body


def test_active_alert_with_empty_body_is_an_error(parse, make_alert) -> None:
    assert problems(parse(make_alert(body=""))) == [
        Problem(P, 8, "body", "is empty (only a withdrawn alert may have no body)")
    ]


def test_body_of_only_whitespace_or_markup_is_empty(parse, make_alert) -> None:
    for body in ("\n\n   \n", "---\n", "****"):
        assert problems(parse(make_alert(body=body))) == [
            Problem(P, 8, "body", "is empty (only a withdrawn alert may have no body)")
        ]


def test_images_are_reported(parse, make_alert) -> None:
    message = (
        "contains an image (images are not allowed in alert bodies; add the file to "
        "attachments instead)"
    )
    raw = make_alert(body="Look:\n\n![suspect](/attachments/cctv.jpg)\n")
    assert problems(parse(raw)) == [Problem(P, 8, "body", message)]


def test_reference_style_image_is_reported(parse, make_alert) -> None:
    raw = make_alert(body="See ![cctv][1].\n\n[1]: https://example.com/x.png\n")
    assert [p.field for p in problems(parse(raw))] == ["body"]


def test_control_character_in_body_is_reported_on_its_line(parse, make_alert) -> None:
    raw = make_alert(body="Line one.\n\nLine \x0b three.\n")
    assert problems(parse(raw)) == [
        Problem(P, 10, "body", "contains control character U+000B (remove it)")
    ]


def test_tab_in_body_is_fine(parse, make_alert) -> None:
    assert parsed(parse(make_alert(body="Col\tumn\n\n    code block\n")))


# File names and folders


def not_id_rule(name: str) -> str:
    return f"file name {name!r} is not {ID_RULE}"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("alerts/2017/2017-04-20-Oxford-Street.md", not_id_rule("2017-04-20-Oxford-Street.md")),
        ("alerts/2017/2017-04-20-oxford_street.md", not_id_rule("2017-04-20-oxford_street.md")),
        ("alerts/2017/2017-04-20-oxford--street.md", not_id_rule("2017-04-20-oxford--street.md")),
        ("alerts/2017/04/2017-04-20.md", not_id_rule("2017-04-20.md")),
        ("alerts/2017/17-04-20-oxford.md", not_id_rule("17-04-20-oxford.md")),
        ("alerts/2017/04/2017-04-20-café.md", not_id_rule("2017-04-20-café.md")),
        ("alerts/٢٠١٧/٢٠١٧-٠٤-٢٠-oxford.md", not_id_rule("٢٠١٧-٠٤-٢٠-oxford.md")),
        (
            "alerts/2017/02/2017-02-30-oxford.md",
            f"file name date 2017-02-30 is not a real date ({ID_RULE})",
        ),
        (
            "alerts/2016/2017-04-20-oxford-street.md",
            "is in folder '2016' but dated 2017-04-20 (move it to alerts/2017/04/)",
        ),
        (
            "alerts/2017/05/2017-04-20-oxford-street.md",
            "is in folder '2017/05' but dated 2017-04-20 (move it to alerts/2017/04/)",
        ),
        (
            "alerts/2017/4/2017-04-20-oxford-street.md",
            "is in folder '2017/4' but dated 2017-04-20 (move it to alerts/2017/04/)",
        ),
        (
            "alerts/2016/04/2017-04-20-oxford-street.md",
            "is in folder '2016/04' but dated 2017-04-20 (move it to alerts/2017/04/)",
        ),
        ("alerts/2017-04-20-oxford-street.md", LIVE_AT),
        ("alerts/2017/04/20/2017-04-20-oxford-street.md", LIVE_AT),
        ("news/2017/04/2017-04-20-oxford-street.md", LIVE_AT),
        ("alerts/2017/04/2017-04-20-oxford-street.MD", LIVE_AT),
        ("alerts/2017/2017-04-20-oxford-street.markdown", LIVE_AT),
    ],
    ids=[
        *("upper-case", "underscore", "double-hyphen", "no-slug", "short-year", "accent"),
        *("arabic-digits", "no-such-day", "wrong-year-folder", "wrong-month-folder"),
        *("one-digit-month-folder", "wrong-year-above-month", "no-year-folder"),
        *("day-folder", "not-alerts", "upper-extension", "other-extension"),
    ],
)
def test_id_and_folder_rules(path: str, message: str) -> None:
    assert alert_id_problems(path) == [Problem(path, 1, "id", message)]


def test_file_name_problems_come_with_the_field_problems(parse, make_alert) -> None:
    path = "alerts/2016/2017-04-20-oxford-street.md"
    assert problems(parse(make_alert(level="RED"), path)) == [
        Problem(
            path, 1, "id", "is in folder '2016' but dated 2017-04-20 (move it to alerts/2017/04/)"
        ),
        Problem(path, 3, "level", "'RED' is not allowed (allowed: red, amber, green)"),
    ]


def test_file_name_problem_comes_with_a_front_matter_problem(parse) -> None:
    path = "alerts/2017/2017-04-20-Bad.md"
    result = problems(parse(b"no front-matter", path))
    assert [(p.line, p.field) for p in result] == [(1, "id"), (1, "front-matter")]


@pytest.mark.parametrize(
    "path",
    ["alerts/2017/04/2017-04-20-oxford-street.md", "alerts/2017/2017-04-20-oxford-street.md"],
    ids=["month-folder", "year-folder-as-before"],
)
def test_month_and_year_folders_both_hold_alerts(path: str, parse, make_alert) -> None:
    assert alert_id_problems(path) == []
    alert = parsed(parse(make_alert(), path)).alert
    assert (alert.id, alert.path) == ("2017-04-20-oxford-street", path)


def test_a_good_file_in_the_wrong_place_is_not_an_alert(parse, make_alert) -> None:
    assert problems(parse(make_alert(), "alerts/2018/2017-04-20-oxford-street.md"))


# Every problem at once


def test_six_problems_are_reported_together(parse, make_alert) -> None:
    raw = make_alert(
        title="NO",
        level="RED",
        issued='"2017-04-20T21:30:00"',
        sectors="[retial]",
        source="[]",
        sector="[retail]",
    )
    assert problems(parse(raw)) == [
        Problem(P, 7, "sector", f"{UNKNOWN}; did you mean 'sectors'?"),
        Problem(P, 2, "title", quote_it("title", "NO", "a true/false value")),
        Problem(P, 3, "level", f"'RED' {NOT_LEVEL}"),
        Problem(P, 4, "issued", f"'2017-04-20T21:30:00' {NO_OFFSET}"),
        Problem(
            P, 5, "sectors[0]", f"'retial' is not in sectors.yml ({SECTORS}); did you mean retail?"
        ),
        Problem(P, 6, "source", SOURCE_LIST),
    ]


def test_problems_print_as_path_line_field_message(parse, make_alert) -> None:
    (problem,) = problems(parse(make_alert(level="RED")))
    assert str(problem) == f"{P}:3: level: 'RED' is not allowed (allowed: red, amber, green)"


def test_a_bad_summary_is_not_replaced_by_the_default(parse, make_alert) -> None:
    raw = make_alert(summary='"' + "y" * 301 + '"', body="Pay \u202eeulav\u202c now.")
    assert problems(parse(raw)) == [
        Problem(P, 7, "summary", "is 301 characters long (at most 300)")
    ]


def alert_bytes_with_extra_line(raw: bytes, line: str) -> bytes:
    head, _, body = raw.partition(b"\n---\n")
    return head + b"\n" + line.encode() + b"\n---\n" + body


@pytest.mark.parametrize(
    ("yaml_key", "shown"),
    [
        ('""', "''"),
        ('"a\\nb"', "'a\\nb'"),
        ('" sectors"', "' sectors'"),
        ('"x\\u202e"', "'x\\u202e'"),
    ],
)
def test_odd_unknown_field_names_are_quoted_to_stay_on_one_line(
    parse, make_alert, yaml_key: str, shown: str
) -> None:
    raw = alert_bytes_with_extra_line(make_alert(), f"{yaml_key}: 1")
    (problem,) = problems(parse(raw))
    assert (problem.line, problem.field) == (7, shown)
    assert str(problem).count("\n") == 0


def test_oversized_file_is_one_clear_problem(parse, make_alert) -> None:
    raw = make_alert(body="x" * (256 * 1024))
    assert problems(parse(raw)) == [
        Problem(P, 1, "file", f"is {len(raw):,} bytes (an alert file may be at most 256 KiB)")
    ]


def test_undecodable_file_is_one_clear_problem_naming_the_file(parse, make_alert) -> None:
    raw = make_alert(title='"Caf\xe9"').replace("é".encode(), b"\xe9")
    (problem,) = problems(parse(raw))
    assert str(problem) == f"{P}:2: file: is not valid UTF-8 at byte 15 (save the file as UTF-8)"
