"""Facilities, their rooms and closures.

A room's rules (slot scheme, fees, windows, claim policy) are stored as JSON in
the shapes ``services.mapping`` turns into domain dataclasses; the admin forms
validate them through the same domain code before saving.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime

if TYPE_CHECKING:
    from .user import User

room_parts = Table(
    "room_parts",
    db.metadata,
    Column("whole_id", ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("part_id", ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
)


class Facility(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "facilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_ja: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    address_ja: Mapped[str] = mapped_column(String(300), default="")
    address_en: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Tokyo")
    # {"0": ["08:30", "21:00"], ...} Monday = "0"; a missing weekday is closed
    opening_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    closed_weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)
    closed_on_holidays: Mapped[bool] = mapped_column(default=False)
    new_year_break: Mapped[bool] = mapped_column(default=True)
    description_ja: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    sort_order: Mapped[int] = mapped_column(default=0)
    is_sample: Mapped[bool] = mapped_column(default=False)
    # the last time an admin saved it: feeds name facilities and show their addresses, so their
    # validators must change with them (None: never saved from the admin pages)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)

    rooms: Mapped[list[Room]] = relationship(back_populates="facility", order_by="Room.sort_order, Room.id")
    closures: Mapped[list[Closure]] = relationship(back_populates="facility", order_by="Closure.start_date")

    def name(self, language: str) -> str:
        return name_in(language, self.name_ja, self.name_en)

    def address(self, language: str) -> str:
        return address_in(language, self.address_ja, self.address_en)


class Room(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "rooms"
    __table_args__ = (UniqueConstraint("facility_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name_ja: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    capacity: Mapped[int]
    floor_area: Mapped[float | None] = mapped_column(default=None)  # m²
    equipment: Mapped[list[str]] = mapped_column(JSON, default=list)
    # {"kind": "slots", "slots": [...], "joined": [...]} or {"kind": "free", "granularity": 30, ...}
    slot_scheme: Mapped[dict[str, Any]] = mapped_column(JSON)
    # {"per_slot": {"morning": 880}, "per_hour": null, "extras": [...], "exemptions": [...]}
    fee_table: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # {"registered": {"months_ahead": 3, "from_first_of_month": true}, "general": {...}}
    windows: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requires_approval: Mapped[bool] = mapped_column(default=False)
    min_lead_minutes: Mapped[int] = mapped_column(default=0)
    # {"mode": "if_fee", "days_after_booking": 7, "days_before_use": 3, "on_expiry": "release"}
    claim_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cancellation_tiers: Mapped[list[list[int]] | None] = mapped_column(JSON, default=None)
    checkin_required: Mapped[bool] = mapped_column(default=False)
    checkin_grace_minutes: Mapped[int] = mapped_column(default=30)
    buffer_minutes: Mapped[int] = mapped_column(default=0)
    description_ja: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)  # as Facility's

    facility: Mapped[Facility] = relationship(back_populates="rooms")
    parts: Mapped[list[Room]] = relationship(
        secondary=room_parts,
        primaryjoin=lambda: Room.id == room_parts.c.whole_id,
        secondaryjoin=lambda: Room.id == room_parts.c.part_id,
        back_populates="wholes",
        order_by="Room.sort_order",
    )
    wholes: Mapped[list[Room]] = relationship(
        secondary=room_parts,
        primaryjoin=lambda: Room.id == room_parts.c.part_id,
        secondaryjoin=lambda: Room.id == room_parts.c.whole_id,
        back_populates="parts",
    )

    def name(self, language: str) -> str:
        return name_in(language, self.name_ja, self.name_en)


def name_in(language: str, name_ja: str, name_en: str) -> str:
    """A facility's or room's name in ``language``: one rule for the models and for pages that
    read the names as plain columns."""
    return name_en if language == "en" else name_ja


def address_in(language: str, address_ja: str, address_en: str | None) -> str:
    """A facility's address in ``language``; the Japanese one where there is no English one."""
    return (address_en or address_ja) if language == "en" else address_ja


class Closure(db.Model):  # type: ignore[name-defined,misc]
    """A one-off closure of a facility (room_id NULL) or of one room, inclusive dates."""

    __tablename__ = "closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"), default=None)
    start_date: Mapped[date]
    end_date: Mapped[date]
    reason_ja: Mapped[str] = mapped_column(String(300))
    reason_en: Mapped[str] = mapped_column(String(300), default="")
    kind: Mapped[str] = mapped_column(String(20), default="planned")  # planned | emergency
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    facility: Mapped[Facility] = relationship(back_populates="closures")
    room: Mapped[Room | None] = relationship()
    created_by: Mapped[User | None] = relationship()

    def reason(self, language: str) -> str:
        return (self.reason_en or self.reason_ja) if language == "en" else self.reason_ja


__all__ = ["Closure", "Facility", "Room", "room_parts"]
