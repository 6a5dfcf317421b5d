"""Typed SQLAlchemy 2 models. Rules live in ``reservations.domain``; these hold data."""

from .audit import AuditEvent
from .booking import Booking, BookingSeries, OccupiedUnit
from .facility import Closure, Facility, Room, room_parts
from .group import Group, GroupInvitation, Membership
from .ops import ApiToken, FeedToken, JobLease, OutboxMessage, SentReminder
from .user import PasswordResetToken, User, staff_facilities

__all__ = [
    "ApiToken", "AuditEvent", "Booking", "BookingSeries", "Closure", "Facility", "FeedToken", "Group",
    "GroupInvitation",
    "JobLease", "Membership", "OccupiedUnit", "OutboxMessage", "PasswordResetToken", "Room",
    "SentReminder", "User", "room_parts", "staff_facilities",
]
