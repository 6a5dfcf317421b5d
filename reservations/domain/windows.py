"""Booking windows (受付開始): how far ahead each class of group may book.

The common Japanese rule counts from the first day of the month of use: with a
one-month window, any day in March opens for booking on February 1st.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta

REGISTERED = "registered"  # registered civic groups (登録団体)
GENERAL = "general"  # the general public and unregistered groups
GROUP_CLASSES = (REGISTERED, GENERAL)


@dataclass(frozen=True)
class BookingWindow:
    months_ahead: int
    from_first_of_month: bool = True

    def opens_on(self, use_day: date) -> date:
        """The first day on which ``use_day`` may be booked."""
        anchor = use_day.replace(day=1) if self.from_first_of_month else use_day
        return anchor - relativedelta(months=self.months_ahead)

    def is_open(self, use_day: date, today: date) -> bool:
        return today >= self.opens_on(use_day)


DEFAULT_WINDOWS: dict[str, BookingWindow] = {
    REGISTERED: BookingWindow(3),
    GENERAL: BookingWindow(1),
}


def window_for(windows: dict[str, BookingWindow], group_class: str) -> BookingWindow:
    return windows.get(group_class) or windows.get(GENERAL) or DEFAULT_WINDOWS[GENERAL]
