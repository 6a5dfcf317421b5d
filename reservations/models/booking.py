"""Bookings, series, and the occupied units the database uses to forbid overlaps."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.lifecycle import ACTIVE, Status
from ..extensions import db
from .types import UTCDateTime

if TYPE_CHECKING:
    from .facility import Room
    from .group import Group
    from .user import User


class BookingSeries(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "booking_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    rrule: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # dates not booked, with the failure code: [{"date": "2027-01-12", "code": "closed"}]
    exceptions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    bookings: Mapped[list[Booking]] = relationship(back_populates="series", order_by="Booking.start_at")


class Booking(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "bookings"
    __table_args__ = (
        Index("ix_bookings_room_start", "room_id", "start_at"),
        Index("ix_bookings_status_deadline", "status", "claim_deadline"),
        Index("ix_bookings_group_start", "group_id", "start_at"),
        # a feed's validators: the newest change of a room's or group's bookings in one index probe
        Index("ix_bookings_room_updated", "room_id", "updated_at", "id"),
        Index("ix_bookings_group_updated", "group_id", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)  # iCalendar UID, never changes
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"), default=None)
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    contact_name: Mapped[str] = mapped_column(String(100), default="")  # one-off bookings by staff
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    slot_code: Mapped[str | None] = mapped_column(String(40), default=None)
    purpose: Mapped[str] = mapped_column(Text, default="")
    attendees: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(20))
    group_class: Mapped[str] = mapped_column(String(20), default="general")
    claim_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    extras: Mapped[list[str]] = mapped_column(JSON, default=list)
    exemption_code: Mapped[str | None] = mapped_column(String(40), default=None)
    fee_total: Mapped[int] = mapped_column(default=0)
    fee_breakdown: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    paid_amount: Mapped[int | None] = mapped_column(default=None)
    payment_method: Mapped[str | None] = mapped_column(String(20), default=None)
    receipt_number: Mapped[str | None] = mapped_column(String(40), default=None)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    late_minutes: Mapped[int | None] = mapped_column(default=None)
    cancel_reason: Mapped[str | None] = mapped_column(Text, default=None)
    cancellation_fee: Mapped[int | None] = mapped_column(default=None)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("booking_series.id"), default=None, index=True)
    sequence: Mapped[int] = mapped_column(default=0)  # iCalendar SEQUENCE
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    is_sample: Mapped[bool] = mapped_column(default=False)

    room: Mapped[Room] = relationship()
    group: Mapped[Group | None] = relationship()
    booked_by: Mapped[User | None] = relationship()
    series: Mapped[BookingSeries | None] = relationship(back_populates="bookings")
    units: Mapped[list[OccupiedUnit]] = relationship(back_populates="booking", cascade="all, delete-orphan")

    @property
    def status_enum(self) -> Status:
        return Status(self.status)

    @property
    def is_active(self) -> bool:
        return Status(self.status) in ACTIVE


class OccupiedUnit(db.Model):  # type: ignore[name-defined,misc]
    """One row per room part a booking holds. The database forbids two active rows of one
    unit to overlap: an exclusion constraint on PostgreSQL, a trigger on SQLite (migrations)."""

    __tablename__ = "occupied_units"
    __table_args__ = (
        Index("ix_occupied_units_unit_start", "unit_id", "start_at", "end_at",
              sqlite_where=text("active"), postgresql_where=text("active")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)  # includes the cleanup buffer
    active: Mapped[bool] = mapped_column(default=True)

    booking: Mapped[Booking] = relationship(back_populates="units")
