"""Who may see and do what. Services call these; views only decide what to show."""

from __future__ import annotations

from ..domain.errors import DomainError, RuleFailure
from ..models import Booking, Group, User


class Forbidden(DomainError):
    def __init__(self) -> None:
        super().__init__(RuleFailure("forbidden", "この操作の権限がありません。", "You are not allowed to do that."))


class NotFound(DomainError):
    """Also raised for things that exist but are not the user's, so ids reveal nothing."""

    def __init__(self) -> None:
        super().__init__(RuleFailure("not_found", "見つかりません。", "Not found."))


def is_member(user: User | None, group: Group | None) -> bool:
    if user is None or group is None or not user.is_authenticated:
        return False
    return any(m.group_id == group.id for m in user.memberships)


def is_representative(user: User | None, group: Group) -> bool:
    return user is not None and any(
        m.group_id == group.id and m.role == "representative" for m in user.memberships
    )


def can_view_booking(user: User | None, booking: Booking) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if user.serves(booking.room.facility_id):
        return True
    return is_member(user, booking.group)


def require_view(user: User | None, booking: Booking) -> None:
    if not can_view_booking(user, booking):
        raise NotFound()


def require_staff_for(user: User | None, facility_id: int) -> None:
    if user is None or not user.is_authenticated or not user.serves(facility_id):
        raise Forbidden()


def require_admin(user: User | None) -> None:
    if user is None or not user.is_authenticated or not user.is_admin:
        raise Forbidden()
