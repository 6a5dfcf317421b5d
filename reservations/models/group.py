"""Groups (団体) that book rooms, and their members."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime

if TYPE_CHECKING:
    from .user import User

GROUP_KINDS = {
    "npo": ("NPO法人", "NPO"),
    "volunteer": ("ボランティア団体", "Volunteer group"),
    "circle": ("サークル", "Circle"),
    "neighbourhood": ("自治会", "Neighbourhood association"),
    "business": ("事業者", "Business"),
    "individual": ("個人", "Individual"),
}
GROUP_STATUSES = {
    "applied": ("登録申請中", "Applied"),
    "registered": ("登録済み", "Registered"),
    "suspended": ("登録停止", "Suspended"),
    "expired": ("登録期限切れ", "Expired"),
}


def kind_options(language: str) -> list[tuple[str, str]]:
    """(code, label) of every group kind in ``language``, for the forms that choose one."""
    return [(code, en if language == "en" else ja) for code, (ja, en) in GROUP_KINDS.items()]


class Group(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="applied")
    renewal_date: Mapped[date | None] = mapped_column(default=None)
    exemption_code: Mapped[str | None] = mapped_column(String(40), default=None)
    representative_name: Mapped[str] = mapped_column(String(100), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    member_count: Mapped[int] = mapped_column(default=1)
    activity_field: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # what the group allows public calendars and grids to show
    public_name: Mapped[bool] = mapped_column(default=False)
    public_purpose: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    is_sample: Mapped[bool] = mapped_column(default=False)
    # the last time its representative changed its details: public feeds show the name and purpose
    # only as the group allows, so their validators read this (None: unchanged since applying)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)

    memberships: Mapped[list[Membership]] = relationship(back_populates="group", cascade="all, delete-orphan")

    def group_class(self, today: date) -> str:
        """'registered' unlocks early booking and exemptions; anything else books as the public."""
        if self.status == "registered" and (self.renewal_date is None or self.renewal_date >= today):
            return "registered"
        return "general"

    def kind_label(self, language: str) -> str:
        ja, en = GROUP_KINDS.get(self.kind, (self.kind, self.kind))
        return en if language == "en" else ja

    def status_label(self, language: str) -> str:
        ja, en = GROUP_STATUSES.get(self.status, (self.status, self.status))
        return en if language == "en" else ja


class Membership(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "group_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20), default="member")  # representative | member

    user: Mapped[User] = relationship(back_populates="memberships")
    group: Mapped[Group] = relationship(back_populates="memberships")


class GroupInvitation(db.Model):  # type: ignore[name-defined,misc]
    """An emailed invitation to join a group, for an address without an account.

    The link carries a secret; only its SHA-256 is stored. Whoever opens it while
    logged in (after signing up, typically) joins, which proves they read that mailbox.
    """

    __tablename__ = "group_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)

    group: Mapped[Group] = relationship()
