"""Rule failures carry a stable code, the form field they concern and a message in both languages.

They are mapped once: onto form fields and flashes in the web UI, onto
``application/problem+json`` in the API.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RuleFailure:
    code: str
    message_ja: str
    message_en: str
    field: str | None = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, hash=False)

    def message(self, language: str) -> str:
        return self.message_en if language == "en" else self.message_ja


class DomainError(Exception):
    """Raised by the core and the services when a request breaks one or more rules."""

    def __init__(self, failures: list[RuleFailure] | RuleFailure) -> None:
        self.failures = [failures] if isinstance(failures, RuleFailure) else list(failures)
        super().__init__("; ".join(f.code for f in self.failures))

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.failures]

    def message(self, language: str) -> str:
        return " ".join(f.message(language) for f in self.failures)


class IllegalTransition(DomainError):
    """A lifecycle action that the transition table does not allow from the current status."""
