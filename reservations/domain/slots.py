"""Slot schemes (時間区分): fixed named slots with joined slots, or free time by the hour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .calendar import local, local_day


@dataclass(frozen=True)
class Slot:
    code: str
    name_ja: str
    name_en: str
    start: time
    end: time

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_ja


@dataclass(frozen=True)
class JoinedSlot:
    """Consecutive slots sold together (午前・午後, 全日), usually at their own price."""

    code: str
    name_ja: str
    name_en: str
    parts: tuple[str, ...]

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_ja


@dataclass(frozen=True)
class FixedSlots:
    slots: tuple[Slot, ...]
    joined: tuple[JoinedSlot, ...] = ()

    kind = "slots"

    def __hash__(self) -> int:
        # worked out once: a scheme is part of the cache key of every day's cells of every room
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.slots, self.joined))
            object.__setattr__(self, "_hash", cached)
        return cached

    def find(self, code: str) -> Slot | JoinedSlot | None:
        for s in self.slots:
            if s.code == code:
                return s
        for j in self.joined:
            if j.code == code:
                return j
        return None

    def times(self, code: str) -> tuple[time, time] | None:
        """Wall-clock start and end of a slot or joined slot; None for an unknown code."""
        found = self.find(code)
        if found is None:
            return None
        if isinstance(found, Slot):
            return found.start, found.end
        parts = [self.find(p) for p in found.parts]
        if not parts or any(not isinstance(p, Slot) for p in parts):
            return None
        starts = [p.start for p in parts if isinstance(p, Slot)]
        ends = [p.end for p in parts if isinstance(p, Slot)]
        return min(starts), max(ends)

    def span(self, day: date, code: str, tz: str) -> tuple[datetime, datetime] | None:
        t = self.times(code)
        if t is None:
            return None
        return local(day, t[0], tz), local(day, t[1], tz)

    def match(self, start: datetime, end: datetime, tz: str) -> str | None:
        """The code of the slot or joined slot that spans exactly ``[start, end)``."""
        day = local_day(start, tz)
        for code in [s.code for s in self.slots] + [j.code for j in self.joined]:
            span = self.span(day, code, tz)
            if span and span[0] == start and span[1] == end:
                return code
        return None

    def validate(self) -> list[str]:
        """Contradictions in the scheme itself, as messages for the admin form."""
        problems = []
        codes = [s.code for s in self.slots] + [j.code for j in self.joined]
        if len(codes) != len(set(codes)):
            problems.append("duplicate slot code")
        ordered = sorted(self.slots, key=lambda s: s.start)
        for s in self.slots:
            if s.end <= s.start:
                problems.append(f"slot {s.code} ends before it starts")
        for a, b in zip(ordered, ordered[1:], strict=False):
            if b.start < a.end:
                problems.append(f"slots {a.code} and {b.code} overlap")
        order = [s.code for s in ordered]
        for j in self.joined:
            if any(p not in order for p in j.parts) or len(j.parts) < 2:
                problems.append(f"joined slot {j.code} names unknown slots")
                continue
            idx = [order.index(p) for p in j.parts]
            if idx != list(range(idx[0], idx[0] + len(idx))):
                problems.append(f"joined slot {j.code} is not consecutive")
        return problems


@dataclass(frozen=True)
class FreeTime:
    """Rooms lent by the hour or half-hour between opening and closing."""

    granularity_minutes: int = 30
    min_minutes: int = 60
    max_minutes: int = 480

    kind = "free"

    def steps(self, opening: datetime, closing: datetime) -> list[tuple[datetime, datetime]]:
        g = timedelta(minutes=self.granularity_minutes)
        cells = []
        t = opening
        while t + g <= closing:
            cells.append((t, t + g))
            t += g
        return cells

    def validate(self) -> list[str]:
        problems = []
        if self.granularity_minutes <= 0 or 60 * 24 % self.granularity_minutes:
            problems.append("granularity must divide a day")
        if self.min_minutes < self.granularity_minutes or self.max_minutes < self.min_minutes:
            problems.append("length limits are inconsistent")
        return problems


SlotScheme = FixedSlots | FreeTime
