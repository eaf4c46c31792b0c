"""Domain errors. Library code raises these; publish.py turns them into messages and exit codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one alert file, printed as `path:line: field: message`."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.message}"


class CascadeError(Exception):
    """Base of every error publish.py reports without a traceback."""


class SettingsError(CascadeError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"setting {key}: {message}")
        self.key = key


class ContentError(CascadeError):
    """Content failed validation; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__(f"{len(self.problems)} problem(s) in content")


class BuildError(CascadeError):
    """The build could not complete; the previously published output is untouched."""
