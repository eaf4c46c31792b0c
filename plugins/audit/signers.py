"""OpenSSH allowed-signers and revoked-keys files: parsing and the questions asked of them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final

from .errors import KeyFormatError, PolicyFileError
from .sshkeys import SUPPORTED_TEXT, PublicKey

LINE_FORM: Final = "principals [options] keytype base64-key [comment]"
OPTIONS_FORM: Final = 'namespaces="...", valid-after="...", valid-before="..." separated by commas'
TIME_FORM: Final = "YYYYMMDDZ, YYYYMMDDHHMMZ or YYYYMMDDHHMMSSZ"
KEY_FORM: Final = f"one {SUPPORTED_TEXT} public key"

# What a key type looks like, so that we know whether the field after the principals is the
# key or the options (OpenSSH tries to read a key there first, as we do).
_KEY_TYPE = re.compile(r"(ssh-|ecdsa-|sk-)[\w.@-]+|[\w.-]+@openssh\.com")
_TIME_LENGTHS: Final = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}


@dataclass(frozen=True)
class AllowedSigner:
    """One line of an allowed-signers file (ssh-keygen(1), ALLOWED SIGNERS)."""

    principals: tuple[str, ...]
    key: PublicKey
    namespaces: tuple[str, ...] | None
    valid_after: datetime | None
    valid_before: datetime | None
    line: int


def parse_allowed_signers(text: str, path: str) -> tuple[AllowedSigner, ...]:
    """Every signer in an allowed-signers file; PolicyFileError at the first line that is wrong.

    Stricter than OpenSSH, which only parses the lines whose principals match the signer it is
    checking: a typo on any line is an error here, whoever it concerns. Principals and
    namespaces are OpenSSH pattern-lists (`*`, `?`, and `!` to exclude).
    """
    signers = []
    for number, line in enumerate(_lines(text), start=1):
        if line is not None:
            signers.append(_parse_signer(line, path, number))
    return tuple(signers)


def parse_revoked_keys(text: str, path: str) -> frozenset[str]:
    """The fingerprints of the keys in a revoked-keys file: one OpenSSH public key per line."""
    if text.startswith("SSHKRL\n"):
        raise PolicyFileError(
            path, 1, "binary key revocation lists are not supported", "one public key per line"
        )
    fingerprints = set()
    for number, line in enumerate(_lines(text), start=1):
        if line is not None:
            fingerprints.add(_parse_key(line, _Where(path, number)).fingerprint)
    return frozenset(fingerprints)


def signers_for(
    signers: Iterable[AllowedSigner], key: PublicKey, principal: str, namespace: str
) -> list[AllowedSigner]:
    """The lines that let `key` sign as `principal` in `namespace`, time not yet considered.

    The same question `ssh-keygen -Y verify -I principal -n namespace` asks of the file.
    """
    return [
        signer
        for signer in signers
        if signer.key == key
        and _matches_any(principal, signer.principals)
        and (signer.namespaces is None or _matches_any(namespace, signer.namespaces))
    ]


def lines_for_key(
    signers: Iterable[AllowedSigner], key: PublicKey, namespace: str
) -> list[AllowedSigner]:
    """The lines that hold `key` for `namespace`, whatever principals they name."""
    return [
        signer
        for signer in signers
        if signer.key == key
        and (signer.namespaces is None or _matches_any(namespace, signer.namespaces))
    ]


def valid_at(signer: AllowedSigner, when: datetime) -> bool:
    """Whether `when` lies within the signer's valid-after/valid-before, both ends included."""
    if when.tzinfo is None:
        raise ValueError("valid_at needs a timezone-aware datetime")
    if signer.valid_after is not None and when < signer.valid_after:
        return False
    return signer.valid_before is None or when <= signer.valid_before


def _lines(text: str) -> Iterable[str | None]:
    """Each line with indentation and a CR removed, or None for a blank or comment line.

    Split on "\\n" only, as getline() does: str.splitlines() would also split on form feeds
    and Unicode separators and so shift the line numbers we report.
    """
    for raw in text.split("\n"):
        line = raw.removesuffix("\r").lstrip(" \t")
        yield None if not line.strip() or line.startswith("#") else line


@dataclass(frozen=True)
class _Where:
    """The file and line being parsed, to name them in every error."""

    path: str
    number: int

    def error(self, problem: str, allowed: str) -> PolicyFileError:
        return PolicyFileError(self.path, self.number, problem, allowed)


def _parse_signer(line: str, path: str, number: int) -> AllowedSigner:
    where = _Where(path, number)
    principals_field = _field(line, quotes=False)
    rest = line[len(principals_field) :].lstrip(" \t")
    if not rest:
        raise where.error("missing key after the principals", LINE_FORM)
    principals = _principals(principals_field, where)
    options_field = _field(rest, quotes=True)
    options = _Options()
    if not _KEY_TYPE.fullmatch(options_field):
        options = _parse_options(options_field, where)
        rest = rest[len(options_field) :].lstrip(" \t")
        if not rest:
            raise where.error("missing key after the options", LINE_FORM)
    return AllowedSigner(
        principals=principals,
        key=_parse_key(rest, where),
        namespaces=options.namespaces,
        valid_after=options.valid_after,
        valid_before=options.valid_before,
        line=number,
    )


def _principals(field: str, where: _Where) -> tuple[str, ...]:
    if '"' in field:
        raise where.error(
            "quoted principals are not supported", "comma-separated USER@DOMAIN patterns"
        )
    principals = tuple(field.split(","))
    if any(not principal or principal == "!" for principal in principals):
        raise where.error(f"empty principal in {field!r}", "comma-separated USER@DOMAIN patterns")
    return principals


def _parse_key(text: str, where: _Where) -> PublicKey:
    try:
        return PublicKey.from_openssh(text)
    except KeyFormatError as error:
        raise where.error(str(error), KEY_FORM) from None


def _field(text: str, *, quotes: bool) -> str:
    """The text up to the first blank, outside double quotes if `quotes` (as in options)."""
    quoted = False
    index = 0
    while index < len(text):
        char = text[index]
        if char in " \t" and not quoted:
            break
        if quotes and char == "\\" and quoted and text[index + 1 : index + 2] == '"':
            index += 1
        elif quotes and char == '"':
            quoted = not quoted
        index += 1
    return text[:index]


@dataclass(frozen=True)
class _Options:
    namespaces: tuple[str, ...] | None = None
    valid_after: datetime | None = None
    valid_before: datetime | None = None


def _parse_options(field: str, where: _Where) -> _Options:
    values: dict[str, str] = {}
    rest = field
    while True:
        name, equals, rest = rest.partition("=")
        name_lower = name.lower()
        if name_lower.startswith("cert-authority"):
            raise where.error(
                "cert-authority is not supported",
                "certificates are not accepted; list each signer's own public key",
            )
        if not equals or name_lower not in ("namespaces", "valid-after", "valid-before"):
            raise where.error(f"unknown option {name.split(',')[0]!r}", OPTIONS_FORM)
        if name_lower in values:
            raise where.error(f"{name_lower} is given twice", "each option at most once")
        value, rest = _dequote(rest, name_lower, where)
        values[name_lower] = value
        if not rest:
            break
        if not rest.startswith(","):
            raise where.error(f"unexpected {rest!r} after {name_lower}", OPTIONS_FORM)
        rest = rest[1:]
        if not rest:
            raise where.error("the options end with a comma", OPTIONS_FORM)
    namespaces = None
    if "namespaces" in values:
        namespaces = tuple(values["namespaces"].split(","))
        if any(not namespace for namespace in namespaces):
            raise where.error(
                f'empty namespace in namespaces="{values["namespaces"]}"', OPTIONS_FORM
            )
    after = _time(values["valid-after"], "valid-after", where) if "valid-after" in values else None
    before = (
        _time(values["valid-before"], "valid-before", where) if "valid-before" in values else None
    )
    if after is not None and before is not None and before <= after:
        raise where.error(
            "valid-before is not later than valid-after", "valid-after < valid-before"
        )
    return _Options(namespaces, after, before)


def _dequote(text: str, name: str, where: _Where) -> tuple[str, str]:
    """The quoted value at the start of `text`, and what follows its closing quote."""
    if not text.startswith('"'):
        raise where.error(f"the value of {name} must be in double quotes", f'{name}="..."')
    value = []
    index = 1
    while index < len(text) and text[index] != '"':
        if text[index] == "\\" and text[index + 1 : index + 2] == '"':
            index += 1
        value.append(text[index])
        index += 1
    if index == len(text):
        raise where.error(f"the value of {name} has no closing quote", f'{name}="..."')
    return "".join(value), text[index + 1 :]


def _time(text: str, name: str, where: _Where) -> datetime:
    # Without Z OpenSSH reads the time in the verifier's local zone: the same file would then
    # mean different instants on different machines, so we insist on UTC.
    if not text.endswith("Z"):
        raise where.error(f'{name}="{text}": times must be written with Z (UTC)', TIME_FORM)
    digits = text[:-1]
    form = _TIME_LENGTHS.get(len(digits))
    if form is None or not digits.isascii() or not digits.isdigit():
        raise where.error(f'{name}="{text}" is not a time', TIME_FORM)
    try:
        return datetime.strptime(digits, form).replace(tzinfo=UTC)
    except ValueError:
        raise where.error(f'{name}="{text}" is not a valid date or time', TIME_FORM) from None


def _matches_any(name: str, patterns: tuple[str, ...]) -> bool:
    """OpenSSH's match_pattern_list(): a `!` pattern that matches vetoes; else any match wins."""
    matched = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if _glob(pattern[1:]).fullmatch(name):
                return False
        elif _glob(pattern).fullmatch(name):
            matched = True
    return matched


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    # Only `*` and `?` are special to OpenSSH; `[` is literal, unlike fnmatch.
    parts = (".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile("".join(parts), re.DOTALL)
