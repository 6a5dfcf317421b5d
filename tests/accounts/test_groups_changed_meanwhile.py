"""A group's members changed by another request after this one loaded them.

Each check ("the last representative cannot leave", "only the representative removes members")
must hold against what another request committed meanwhile, on both databases: the services read
the memberships again under a lock on the group before deciding.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reservations.domain.errors import DomainError
from reservations.extensions import db
from reservations.models import AuditEvent, Group, Membership, User
from reservations.services import groups as group_service
from reservations.services import registrations
from reservations.services.permissions import Forbidden
from tests.factories import NOW, make_group, make_user

TODAY = date(2026, 12, 1)

pytestmark = pytest.mark.both_databases


def _representatives(session, group_id: int) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(Membership)
                          .where(Membership.group_id == group_id, Membership.role == "representative"))


def test_a_member_made_representative_meanwhile_cannot_leave_as_the_last_one(session) -> None:  # type: ignore[no-untyped-def]
    rep, member = make_user(), make_user()
    group = make_group(rep, member)
    session.commit()
    mine = session.get(Group, group.id)
    assert group_service.is_representative(mine, member) is False  # what the member's request loaded
    with Session(db.engine) as other:  # the representative hands the role over, in another request
        group_service.hand_over(other, other.get(Group, group.id), other.get(type(rep), rep.id), member.id, now=NOW)
        other.commit()
    with pytest.raises(DomainError) as refused:
        group_service.leave(session, mine, member, now=NOW)
    session.rollback()
    assert refused.value.codes == ["last_representative"]
    assert _representatives(session, group.id) == 1


def test_a_representative_who_handed_over_meanwhile_can_no_longer_remove_members(session) -> None:  # type: ignore[no-untyped-def]
    rep, member, third = make_user(), make_user(), make_user()
    group = make_group(rep, member, third)
    session.commit()
    mine = session.get(Group, group.id)
    assert group_service.is_representative(mine, rep)
    with Session(db.engine) as other:
        group_service.hand_over(other, other.get(Group, group.id), other.get(type(rep), rep.id), member.id, now=NOW)
        other.commit()
    with pytest.raises(Forbidden):
        group_service.remove_member(session, mine, rep, third.id, now=NOW)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Membership).where(Membership.group_id == group.id)) == 3


def test_a_representative_who_handed_over_meanwhile_can_no_longer_change_details_or_invite(session) -> None:  # type: ignore[no-untyped-def]
    rep, member = make_user(), make_user()
    group = make_group(rep, member, representative_name="代表 太郎")
    session.commit()
    mine = session.get(Group, group.id)
    details = group_service.details_of(mine)
    assert group_service.is_representative(mine, rep)
    with Session(db.engine) as other:
        group_service.hand_over(other, other.get(Group, group.id), other.get(User, rep.id), member.id, now=NOW)
        other.commit()
    with pytest.raises(Forbidden):
        group_service.update_details(session, mine, rep, replace(details, contact_email="mine@example.jp"), now=NOW)
    session.rollback()
    with pytest.raises(Forbidden):
        group_service.invite_by_email(session, session.get(Group, group.id), rep, "x@example.jp", now=NOW,
                                      base_url="http://localhost")
    session.rollback()
    assert session.get(Group, group.id).contact_email != "mine@example.jp"


def test_two_staff_registering_one_application_record_one_registration(session) -> None:  # type: ignore[no-untyped-def]
    staff, rep = make_user("staff"), make_user()
    group = make_group(rep, status="applied")
    session.commit()
    mine = session.get(Group, group.id)  # this desk's page shows the application
    with Session(db.engine) as other:  # another desk registers it first
        registrations.register(other, other.get(Group, group.id), actor=other.get(User, staff.id), now=NOW,
                               today=TODAY, renewal_date=date(2027, 3, 31), exemption_code=None)
        other.commit()
    with pytest.raises(DomainError) as refused:
        registrations.register(session, mine, actor=staff, now=NOW, today=TODAY, renewal_date=date(2028, 3, 31))
    session.rollback()
    assert refused.value.codes == ["already_registered"]
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "group.registered", AuditEvent.group_id == group.id)) == 1
    assert session.get(Group, group.id).renewal_date == date(2027, 3, 31)
