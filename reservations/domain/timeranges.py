"""Half-open time ranges ``[start, end)`` and the arithmetic availability is built on.

Half-open because a booking that ends at 12:00 and one that starts at 12:00 do
not conflict; the database constraint uses the same rule (``'[)'``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, order=True)
class TimeRange:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"empty or inverted range {self.start} – {self.end}")

    def overlaps(self, other: TimeRange) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: TimeRange) -> bool:
        return self.start <= other.start and other.end <= self.end

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


def merge(ranges: Iterable[TimeRange]) -> list[TimeRange]:
    """Union of ranges, sorted; touching ranges are joined."""
    result: list[TimeRange] = []
    for r in sorted(ranges):
        if result and r.start <= result[-1].end:
            last = result[-1]
            if r.end > last.end:
                result[-1] = TimeRange(last.start, r.end)
        else:
            result.append(r)
    return result


def subtract(base: TimeRange, taken: Iterable[TimeRange]) -> list[TimeRange]:
    """The parts of ``base`` not covered by any of ``taken``."""
    free: list[TimeRange] = []
    cursor = base.start
    for r in merge(taken):
        if r.end <= cursor or r.start >= base.end:
            continue
        if r.start > cursor:
            free.append(TimeRange(cursor, min(r.start, base.end)))
        cursor = max(cursor, r.end)
        if cursor >= base.end:
            break
    if cursor < base.end:
        free.append(TimeRange(cursor, base.end))
    return free
