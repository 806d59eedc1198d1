"""What a verification found: each check that holds, each that fails, and whether the input
could be read at all (exit codes 0, 1 and 2 of the command line)."""
from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator


class MalformedInput(ValueError):
    """The input is not the document it claims to be (unreadable JSON, a field missing)."""


@dataclasses.dataclass
class Report:
    lines: list[tuple[bool, str]] = dataclasses.field(default_factory=list)
    malformed: bool = False

    def passed(self, text: str) -> None:
        self.lines.append((True, text))

    def failed(self, text: str) -> None:
        self.lines.append((False, text))

    def expect(self, holds: bool, check: str, failure: str) -> bool:
        """Record `check` when it holds, `failure` when it does not; returns `holds`."""
        if holds:
            self.passed(check)
        else:
            self.failed(failure)
        return holds

    def unreadable(self, text: str) -> None:
        self.malformed = True
        self.failed(text)

    def include(self, other: Report, prefix: str = "") -> None:
        self.lines.extend((held, prefix + text) for held, text in other.lines)
        self.malformed = self.malformed or other.malformed

    @property
    def checks(self) -> list[str]:
        return [text for held, text in self.lines if held]

    @property
    def failures(self) -> list[str]:
        return [text for held, text in self.lines if not held]

    @property
    def ok(self) -> bool:
        return not self.malformed and not self.failures

    @property
    def exit_code(self) -> int:
        return 2 if self.malformed else (0 if self.ok else 1)

    def summary(self) -> dict:
        return {"ok": self.ok, "checks": self.checks, "failures": self.failures}


@contextlib.contextmanager
def reading(report: Report) -> Iterator[None]:
    """Turn MalformedInput raised while checking into an unreadable-input entry."""
    try:
        yield
    except MalformedInput as error:
        report.unreadable(f"unreadable input: {error}")
