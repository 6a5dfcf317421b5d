"""Repeating bookings (毎週火曜・第2火曜…) expanded with dateutil's rrule.

Expansion yields local dates; each date then goes through the same rules as a
single booking, so a holiday closure or a taken slot is reported per date
instead of being dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from dateutil.rrule import MONTHLY, WEEKLY, rrule, weekday

from .errors import RuleFailure

MAX_OCCURRENCES = 60
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class RecurrenceSpec:
    freq: str  # weekly | monthly
    interval: int = 1
    weekdays: tuple[int, ...] = ()  # Mon=0; weekly: defaults to the first date's weekday
    nth: int | None = None  # monthly: 1..4 or -1 (last); None: same day of month
    until: date | None = None
    count: int | None = None

    def validate(self, first: date) -> list[RuleFailure]:
        problems: list[RuleFailure] = []
        if self.freq not in ("weekly", "monthly"):
            problems.append(_fail("recurrence_freq", "繰り返しの種類が正しくありません。", "Unknown repeat frequency."))
        if not 1 <= self.interval <= 12:
            problems.append(_fail("recurrence_interval", "繰り返しの間隔は1〜12で指定してください。", "Repeat interval must be 1–12."))
        if self.until is None and self.count is None:
            problems.append(_fail("recurrence_end", "繰り返しの終了日か回数を指定してください。", "Give an end date or a number of times."))
        if self.until is not None and self.until < first:
            problems.append(_fail("recurrence_end", "終了日は初回より後にしてください。", "The end date must be after the first date."))
        if self.count is not None and not 1 <= self.count <= MAX_OCCURRENCES:
            problems.append(_fail("recurrence_count", f"回数は1〜{MAX_OCCURRENCES}回です。", f"Up to {MAX_OCCURRENCES} times."))
        if self.nth is not None and self.nth not in (1, 2, 3, 4, -1):
            problems.append(_fail("recurrence_nth", "第何週かの指定が正しくありません。", "Invalid week of month."))
        if any(not 0 <= d <= 6 for d in self.weekdays):
            problems.append(_fail("recurrence_weekday", "曜日の指定が正しくありません。", "Invalid weekday."))
        return problems

    def _rule(self, first: date) -> rrule:
        dtstart = datetime.combine(first, datetime.min.time())
        until = datetime.combine(self.until, datetime.min.time()) if self.until else None
        count = min(self.count, MAX_OCCURRENCES) if self.count else None
        if self.freq == "weekly":
            days = self.weekdays or (first.weekday(),)
            return rrule(WEEKLY, dtstart=dtstart, interval=self.interval, byweekday=days,
                         until=until, count=count if until is None else None)
        if self.nth is not None:
            wd = weekday(self.weekdays[0] if self.weekdays else first.weekday())
            return rrule(MONTHLY, dtstart=dtstart, interval=self.interval, byweekday=wd(self.nth),
                         until=until, count=count if until is None else None)
        return rrule(MONTHLY, dtstart=dtstart, interval=self.interval, bymonthday=first.day,
                     until=until, count=count if until is None else None)

    def expand(self, first: date) -> list[date]:
        """Occurrence dates from ``first`` on (``first`` included when it matches), capped."""
        out: list[date] = []
        for dt in self._rule(first):
            out.append(dt.date())
            if len(out) >= MAX_OCCURRENCES:
                break
        return out

    def rrule_text(self, first: date) -> str:
        """The RRULE value for iCalendar and for storage, e.g. ``FREQ=WEEKLY;BYDAY=TU``."""
        parts = [f"FREQ={self.freq.upper()}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.freq == "weekly":
            parts.append("BYDAY=" + ",".join(_WEEKDAYS[d] for d in (self.weekdays or (first.weekday(),))))
        elif self.nth is not None:
            wd = self.weekdays[0] if self.weekdays else first.weekday()
            parts.append(f"BYDAY={self.nth}{_WEEKDAYS[wd]}")
        else:
            parts.append(f"BYMONTHDAY={first.day}")
        if self.until:
            parts.append(f"UNTIL={self.until:%Y%m%d}")
        elif self.count:
            parts.append(f"COUNT={self.count}")
        return ";".join(parts)

    def to_dict(self) -> dict:
        return {
            "freq": self.freq, "interval": self.interval, "weekdays": list(self.weekdays),
            "nth": self.nth, "until": self.until.isoformat() if self.until else None, "count": self.count,
        }

    @classmethod
    def from_dict(cls, d: dict) -> RecurrenceSpec:
        return cls(
            freq=d["freq"], interval=int(d.get("interval") or 1),
            weekdays=tuple(int(x) for x in d.get("weekdays") or ()),
            nth=int(d["nth"]) if d.get("nth") not in (None, "") else None,
            until=date.fromisoformat(d["until"]) if d.get("until") else None,
            count=int(d["count"]) if d.get("count") else None,
        )


def _fail(code: str, ja: str, en: str) -> RuleFailure:
    return RuleFailure(code, ja, en, field="recurrence")
