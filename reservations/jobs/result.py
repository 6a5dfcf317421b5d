"""What one job run did, for the log, the CLI and the lease row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class JobResult:
    name: str
    now: datetime
    counts: dict[str, int] = field(default_factory=dict)
    booking_ids: dict[str, list[int]] = field(default_factory=dict)
    skipped: str | None = None  # why the run did nothing (e.g. another runner holds the lease)

    def add(self, what: str, ids: list[int] | int) -> None:
        if isinstance(ids, int):
            self.counts[what] = self.counts.get(what, 0) + ids
            return
        self.counts[what] = self.counts.get(what, 0) + len(ids)
        self.booking_ids.setdefault(what, []).extend(ids)

    def count(self, what: str) -> int:
        return self.counts.get(what, 0)

    def summary(self) -> str:
        when = self.now.isoformat()
        if self.skipped:
            return f"{self.name} @ {when}: skipped ({self.skipped})"
        parts = [f"{k}={v}" for k, v in sorted(self.counts.items())] or ["nothing to do"]
        return f"{self.name} @ {when}: " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"now": self.now.isoformat(), "counts": dict(self.counts), "skipped": self.skipped,
                "booking_ids": {k: v[:50] for k, v in self.booking_ids.items()}}
