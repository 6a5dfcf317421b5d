"""Group registration by staff (市民活動団体の登録): register, suspend, renew, rename, and a group's history.

A group applies from its own side (``services.groups.apply_for_group``); staff review the
application here. Registration is shared by every facility, so any staff member may act; each
change writes an audit event with the group's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..database import write_transaction
from ..domain.errors import DomainError, RuleFailure
from ..domain.lifecycle import Status
from ..models import AuditEvent, Booking, Group, Room, User
from ..models.group import GROUP_STATUSES
from . import audit
from .desk import require_staff
from .groups import check_identity


def _fail(code: str, ja: str, en: str, fld: str | None = None) -> RuleFailure:
    return RuleFailure(code, ja, en, field=fld)


def exemption_categories(session: Session) -> dict[str, tuple[str, str]]:
    """Every exemption category any room offers: code → (name_ja, name_en)."""
    out: dict[str, tuple[str, str]] = {}
    for table in session.scalars(select(Room.fee_table)):
        for e in (table or {}).get("exemptions", []):
            out.setdefault(e["code"], (e.get("name_ja", e["code"]), e.get("name_en", e["code"])))
    return dict(sorted(out.items()))


def list_groups(session: Session, actor: User, *, status: str | None = None) -> list[Group]:
    """Groups for review: applications first, then by name."""
    require_staff(actor)
    q = select(Group)
    if status:
        q = q.where(Group.status == status)
    rows = list(session.scalars(q.order_by(Group.name, Group.id)))
    return sorted(rows, key=lambda g: (g.status != "applied", g.name))


def _snapshot(g: Group) -> dict[str, str | None]:
    return {"status": g.status, "renewal_date": g.renewal_date.isoformat() if g.renewal_date else None,
            "exemption_code": g.exemption_code}


def _check_terms(session: Session, renewal_date: date | None, exemption_code: str | None, today: date) -> None:
    failures = []
    if renewal_date is None:
        failures.append(_fail("renewal_required", "更新日を入力してください。", "Enter the renewal date.",
                              "renewal_date"))
    elif renewal_date <= today:
        failures.append(_fail("renewal_past", "更新日は今日より後にしてください。",
                              "The renewal date must be after today.", "renewal_date"))
    if exemption_code and exemption_code not in exemption_categories(session):
        failures.append(_fail("exemption_unknown", "その減免区分はありません。", "There is no such exemption category.",
                              "exemption_code"))
    if failures:
        raise DomainError(failures)


# the statuses each change may not start from, and what the desk is told then
_REFUSED_FROM: dict[str, tuple[frozenset[str], RuleFailure]] = {
    "group.registered": (frozenset({"registered"}),
                         _fail("already_registered", "既に登録済みです。", "Already registered.")),
    "group.renewed": (frozenset(GROUP_STATUSES) - {"registered", "expired"},
                      _fail("not_registered", "登録済みの団体だけ更新できます。", "Only registered groups can be renewed.")),
    "group.suspended": (frozenset({"suspended"}),
                        _fail("already_suspended", "既に登録停止中です。", "Already suspended.")),
}


def _refuse_from_status(action: str, group: Group) -> None:
    statuses, failure = _REFUSED_FROM[action]
    if group.status in statuses:
        raise DomainError(failure)


def _change(session: Session, group: Group, action: str, *, actor: User, now: datetime, note: str = "",
            **values: object) -> Group:
    """The status is checked again on the group as it is under its lock, so two staff registering
    the same application at once record one registration, and a suspension committed a moment
    ago is not overwritten unseen."""
    with write_transaction(session, group):
        _refuse_from_status(action, group)
        before = _snapshot(group)
        for k, v in values.items():
            setattr(group, k, v)
        session.flush()
        audit.record(session, action, now=now, actor=actor, group_id=group.id, before=before,
                     after=_snapshot(group), note=note)
        session.flush()
    return group


def register(session: Session, group: Group, *, actor: User, now: datetime, today: date,
             renewal_date: date | None, exemption_code: str | None = None) -> Group:
    """Applied, expired or suspended → registered (unlocks early booking and the exemption)."""
    require_staff(actor)
    _refuse_from_status("group.registered", group)
    _check_terms(session, renewal_date, exemption_code, today)
    return _change(session, group, "group.registered", actor=actor, now=now, status="registered",
                   renewal_date=renewal_date, exemption_code=exemption_code or None)


def renew(session: Session, group: Group, *, actor: User, now: datetime, today: date,
          renewal_date: date | None, exemption_code: str | None = None) -> Group:
    """A registered (or expired) group's next renewal date, and its exemption category."""
    require_staff(actor)
    _refuse_from_status("group.renewed", group)
    _check_terms(session, renewal_date, exemption_code, today)
    return _change(session, group, "group.renewed", actor=actor, now=now, status="registered",
                   renewal_date=renewal_date, exemption_code=exemption_code or None)


def suspend(session: Session, group: Group, *, actor: User, now: datetime, reason: str) -> Group:
    """Suspended groups cannot book (the booking service refuses them); existing bookings stay."""
    require_staff(actor)
    _refuse_from_status("group.suspended", group)
    if not reason.strip():
        raise DomainError(_fail("reason_required", "理由を入力してください。", "Give a reason.", "reason"))
    return _change(session, group, "group.suspended", actor=actor, now=now, note=reason.strip(),
                   status="suspended")


def rename(session: Session, group: Group, *, actor: User, now: datetime, name: str, kind: str) -> Group:
    """A change of the name or kind a group is registered as (名称・種別の変更届), by staff: the
    representative changes the other details (``services.groups.update_details``)."""
    require_staff(actor)
    name = name.strip()
    failures = check_identity(name, kind)
    if failures:
        raise DomainError(failures)
    with write_transaction(session, group):
        before = {"name": group.name, "kind": group.kind}
        if before == {"name": name, "kind": kind}:
            return group
        group.name, group.kind = name, kind
        group.updated_at = now  # every feed that shows the group's name
        session.flush()
        after = {"name": name, "kind": kind}
        changed = [k for k in after if after[k] != before[k]]
        audit.record(session, "group.renamed", now=now, actor=actor, group_id=group.id,
                     before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
        session.flush()
    return group


@dataclass
class GroupHistory:
    group: Group
    bookings: list[Booking]
    no_shows: int
    events: list[AuditEvent]


def history(session: Session, group: Group, *, actor: User, facility_ids: list[int] | None = None) -> GroupHistory:
    """A group's bookings (newest first), no-show count and audit events. Staff who are not admins
    see the group's bookings and events at the facilities they serve, plus events about the group
    itself (registration)."""
    require_staff(actor)
    q = select(Booking).where(Booking.group_id == group.id)
    ev = select(AuditEvent).where(AuditEvent.group_id == group.id)
    if facility_ids is not None:
        q = q.join(Room).where(Room.facility_id.in_(facility_ids))
        ev = ev.where(AuditEvent.facility_id.in_(facility_ids) | AuditEvent.facility_id.is_(None))
    bookings = list(session.scalars(q.order_by(Booking.start_at.desc())))
    no_shows = session.scalar(select(func.count()).select_from(Booking).where(
        Booking.group_id == group.id, Booking.status == Status.NO_SHOW.value)) or 0
    events = list(session.scalars(ev.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())))
    return GroupHistory(group, bookings, int(no_shows), events)


STATUSES = tuple(GROUP_STATUSES)
