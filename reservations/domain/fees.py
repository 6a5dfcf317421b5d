"""Fees (使用料): room fee by slot or by the hour, extras, exemptions (減免), cancellation fees.

Amounts are whole yen. Reductions round down to the yen, in the user's favour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from math import ceil


@dataclass(frozen=True)
class Extra:
    code: str
    name_ja: str
    name_en: str
    price: int
    per: str = "booking"  # booking | hour | slot
    exemptible: bool = True

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_ja


@dataclass(frozen=True)
class Exemption:
    code: str
    name_ja: str
    name_en: str
    percent: int  # 0–100 off

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_ja


@dataclass(frozen=True)
class FeeTable:
    per_slot: dict[str, int] = field(default_factory=dict)  # slot or joined-slot code -> yen
    per_hour: int | None = None  # for free-time rooms; charged per started half hour
    extras: tuple[Extra, ...] = ()

    def extra(self, code: str) -> Extra | None:
        return next((e for e in self.extras if e.code == code), None)


@dataclass(frozen=True)
class FeeLine:
    code: str
    label_ja: str
    label_en: str
    amount: int

    def label(self, language: str) -> str:
        return self.label_en if language == "en" else self.label_ja


@dataclass(frozen=True)
class FeeQuote:
    lines: tuple[FeeLine, ...]

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "lines": [
                {"code": x.code, "label_ja": x.label_ja, "label_en": x.label_en, "amount": x.amount}
                for x in self.lines
            ],
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> FeeQuote:
        lines = (data or {}).get("lines", [])
        return cls(tuple(FeeLine(x["code"], x["label_ja"], x["label_en"], x["amount"]) for x in lines))


class UnknownExtra(ValueError):
    pass


def quote_fee(
    table: FeeTable,
    *,
    start: datetime,
    end: datetime,
    slot_code: str | None,
    slot_label: tuple[str, str] | None = None,
    slot_count: int = 1,
    extras: tuple[str, ...] | list[str] = (),
    exemption: Exemption | None = None,
) -> FeeQuote:
    """Price one booking. Raises UnknownExtra for an extra the room does not offer."""
    hours = (end - start).total_seconds() / 3600
    lines: list[FeeLine] = []
    exemptible = 0
    if slot_code is not None:
        amount = table.per_slot.get(slot_code, 0)
        ja, en = slot_label or (slot_code, slot_code)
        lines.append(FeeLine("room", f"使用料（{ja}）", f"Room fee ({en})", amount))
    else:
        half_hours = ceil(round(hours * 2, 6))
        amount = ceil((table.per_hour or 0) * half_hours / 2)
        lines.append(FeeLine("room", f"使用料（{hours:g}時間）", f"Room fee ({hours:g} h)", amount))
    exemptible += amount
    for code in extras:
        extra = table.extra(code)
        if extra is None:
            raise UnknownExtra(code)
        if extra.per == "hour":
            price = ceil(extra.price * hours)
        elif extra.per == "slot":
            price = extra.price * max(slot_count, 1)
        else:
            price = extra.price
        lines.append(FeeLine(f"extra:{code}", extra.name_ja, extra.name_en, price))
        if extra.exemptible:
            exemptible += price
    if exemption and exemption.percent > 0 and exemptible > 0:
        off = exemptible * exemption.percent // 100
        lines.append(
            FeeLine(
                f"exemption:{exemption.code}",
                f"減免（{exemption.name_ja} {exemption.percent}%）",
                f"Exemption ({exemption.name_en} {exemption.percent}%)",
                -off,
            )
        )
    return FeeQuote(tuple(lines))


@dataclass(frozen=True)
class CancellationTier:
    days_before: int  # applies when cancelling this many days or fewer before the day of use
    percent: int


DEFAULT_CANCELLATION_TIERS: tuple[CancellationTier, ...] = (
    CancellationTier(14, 20),
    CancellationTier(7, 50),
    CancellationTier(0, 100),
)


def cancellation_fee(
    total: int,
    use_day: date,
    today: date,
    tiers: tuple[CancellationTier, ...] = DEFAULT_CANCELLATION_TIERS,
    *,
    waived: bool = False,
) -> int:
    """The share of ``total`` kept when cancelling on ``today`` (local dates).

    Waived when the facility is at fault (closure, disaster). Callers pass the
    fee already paid: unpaid provisional bookings cost nothing to cancel.
    """
    if waived or total <= 0:
        return 0
    days_left = (use_day - today).days
    percent = 0
    for tier in sorted(tiers, key=lambda t: t.days_before, reverse=True):
        if days_left <= tier.days_before:
            percent = tier.percent
    return total * percent // 100
