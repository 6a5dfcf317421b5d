"""Desk services: today's board, approvals (re-check, bulk), payment, on behalf, emergency closure,
registrations and the audit log."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from reservations.domain.errors import DomainError
from reservations.extensions import db
from reservations.models import AuditEvent, Booking, Closure, OutboxMessage
from reservations.services import bookings as bsvc
from reservations.services import closures as csvc
from reservations.services import desk as dsvc
from reservations.services import registrations as rsvc
from reservations.services.permissions import Forbidden
from tests.factories import NOW

from .conftest import TODAY, Desk

LATER = TODAY + timedelta(days=10)


def test_day_board_lists_each_room_with_its_bookings_and_hides_cancelled(desk: Desk) -> None:
    a = desk.book(desk.large, slot="evening")
    b = desk.book(desk.large, slot="afternoon")
    c = desk.book(desk.free, slot="morning", day=TODAY + timedelta(days=1))
    bsvc.cancel(db.session, b, actor=desk.admin, now=NOW, reason="x")
    db.session.commit()
    board = dsvc.day_board(db.session, desk.staff, desk.facility, TODAY)
    rooms = {rd.room.id: rd.bookings for rd in board.rooms}
    assert set(rooms) == {desk.large.id, desk.hall.id, desk.free.id}
    assert rooms[desk.large.id] == [a]
    assert rooms[desk.free.id] == []
    assert board.hidden_count == 1
    assert c not in board.sheet and board.sheet == [a]


def test_staff_of_another_facility_cannot_see_or_act(desk: Desk) -> None:
    b = desk.book(desk.large)
    with pytest.raises(Forbidden):
        dsvc.day_board(db.session, desk.other_staff, desk.facility, TODAY)
    with pytest.raises(Forbidden):
        dsvc.choose_facility(db.session, desk.other_staff, desk.facility.id)
    with pytest.raises(Forbidden):
        dsvc.staff_booking(db.session, desk.other_staff, b.id)
    with pytest.raises(Forbidden):
        dsvc.served_facilities(db.session, desk.member)
    assert dsvc.choose_facility(db.session, desk.other_staff, None) == desk.other
    assert [f.id for f in dsvc.served_facilities(db.session, desk.admin)] == [desk.facility.id, desk.other.id]


def test_check_in_records_lateness_and_no_show_waits_for_the_start(desk: Desk) -> None:
    b = desk.book(desk.free, slot="morning", day=TODAY + timedelta(days=1))
    assert b.status == "confirmed"
    with pytest.raises(DomainError) as exc:
        dsvc.mark_no_show(db.session, b, actor=desk.staff, now=NOW)
    assert exc.value.codes == ["not_started"]
    db.session.rollback()
    late = b.start_at + timedelta(minutes=17)
    dsvc.check_in(db.session, b, actor=desk.staff, now=late)
    db.session.commit()
    assert (b.status, b.late_minutes, b.checked_in_at) == ("checked_in", 17, late)
    other = desk.book(desk.free, slot="afternoon", day=TODAY + timedelta(days=1))
    dsvc.mark_no_show(db.session, other, actor=desk.staff, now=other.start_at + timedelta(minutes=31))
    db.session.commit()
    assert other.status == "no_show"
    assert dsvc.no_show_counts(db.session, [desk.group.id]) == {desk.group.id: 1}


def test_check_in_only_on_the_day_of_use(desk: Desk) -> None:
    """Checking a group in days early would show a future booking as in use and end the group's
    chance to cancel it (the desk page offers no button either: test_views)."""
    b = desk.book(desk.free, slot="morning", day=TODAY + timedelta(days=2))
    with pytest.raises(DomainError) as exc:
        dsvc.check_in(db.session, b, actor=desk.staff, now=NOW)
    assert exc.value.codes == ["checkin_not_today"]
    db.session.rollback()
    dsvc.check_in(db.session, b, actor=desk.staff, now=b.start_at - timedelta(hours=1))  # the day itself: fine
    db.session.commit()
    assert b.status == "checked_in"


def test_approval_queue_oldest_first_with_no_shows_and_recheck(desk: Desk) -> None:
    first = desk.book(desk.hall, day=LATER, slot="morning", at=NOW - timedelta(days=2))
    second = desk.book(desk.hall, day=LATER + timedelta(days=1), slot="morning", at=NOW - timedelta(days=1))
    assert first.status == second.status == "pending"
    csvc.add_closure(db.session, desk.facility, actor=desk.staff, now=NOW, start=LATER + timedelta(days=1),
                     end=LATER + timedelta(days=1), reason_ja="点検")
    db.session.commit()
    items = dsvc.approval_queue(db.session, desk.staff, now=NOW)
    assert [i.booking for i in items] == [first, second]
    assert items[0].clear and [p.code for p in items[1].problems] == ["closed"]
    assert dsvc.approval_queue(db.session, desk.other_staff, now=NOW) == []


def test_approve_refuses_a_request_that_now_breaks_a_rule(desk: Desk) -> None:
    b = desk.book(desk.hall, day=LATER, slot="morning")
    with pytest.raises(DomainError) as exc:
        dsvc.approve(db.session, b, actor=desk.staff, now=b.start_at + timedelta(minutes=1))
    assert "in_past" in exc.value.codes
    db.session.rollback()
    dsvc.approve(db.session, b, actor=desk.staff, now=NOW)
    db.session.commit()
    assert b.status == "provisional" and b.claim_deadline is not None
    with pytest.raises(Forbidden):
        dsvc.approve(db.session, desk.book(desk.hall, day=LATER, slot="evening"), actor=desk.other_staff, now=NOW)


def test_bulk_approve_skips_the_conflicting_ones(desk: Desk) -> None:
    ok = desk.book(desk.hall, day=LATER, slot="morning")
    closed = desk.book(desk.hall, day=LATER + timedelta(days=2), slot="morning")
    csvc.add_closure(db.session, desk.facility, actor=desk.staff, now=NOW, start=LATER + timedelta(days=2),
                     end=LATER + timedelta(days=2), reason_ja="工事", room_id=desk.hall.id)
    db.session.commit()
    result = dsvc.bulk_approve(db.session, [ok, closed], actor=desk.staff, now=NOW)
    db.session.commit()
    assert result.approved == [ok]
    assert [(b, [p.code for p in ps]) for b, ps in result.skipped] == [(closed, ["closed"])]
    assert (ok.status, closed.status) == ("provisional", "pending")
    kinds = set(db.session.scalars(select(OutboxMessage.kind).where(OutboxMessage.booking_id == ok.id)))
    assert "approved" in kinds
    # how it was approved is for the trail; the group's mail carries no "bulk" note
    approved = db.session.scalars(select(OutboxMessage).where(OutboxMessage.booking_id == ok.id,
                                                              OutboxMessage.kind == "approved")).all()
    assert approved and all("note" not in m.context for m in approved)
    assert db.session.scalar(select(AuditEvent.note).where(AuditEvent.booking_id == ok.id,
                                                          AuditEvent.action == "booking.approve")) == "bulk"


def test_bulk_approve_refuses_everything_when_one_is_elsewhere(desk: Desk) -> None:
    mine = desk.book(desk.hall, day=LATER, slot="morning")
    theirs = desk.book(desk.elsewhere, day=LATER, slot="morning")
    with pytest.raises(Forbidden):
        dsvc.bulk_approve(db.session, [mine, theirs], actor=desk.staff, now=NOW)
    assert mine.status == "pending"


def test_claims_soonest_deadline_first_and_payment(desk: Desk) -> None:
    late = desk.book(desk.large, day=LATER + timedelta(days=10), slot="morning")
    soon = desk.book(desk.large, day=LATER, slot="morning")
    assert [b.id for b in dsvc.claims_queue(db.session, desk.staff)] == [soon.id, late.id]
    assert soon.fee_total == 440  # 880 with the civic_50 exemption
    with pytest.raises(DomainError) as exc:
        dsvc.record_payment(db.session, soon, actor=desk.staff, now=NOW, amount=400, method="cash", receipt="R1")
    assert exc.value.codes == ["payment_short"]
    db.session.rollback()
    dsvc.record_payment(db.session, soon, actor=desk.staff, now=NOW, amount=None, method="cash", receipt="R-9")
    db.session.commit()
    assert (soon.status, soon.paid_amount, soon.receipt_number) == ("confirmed", 440, "R-9")
    assert dsvc.claims_queue(db.session, desk.staff) == [late]


def test_book_on_behalf_for_a_contact_with_overrides_recorded(desk: Desk) -> None:
    far = TODAY + timedelta(days=70)  # beyond the general one-month window
    inp = bsvc.BookingInput(room_id=desk.hall.id, group_id=None, day=far, slot_code="morning",
                            purpose="説明会", attendees=5)
    with pytest.raises(DomainError) as exc:
        dsvc.book_on_behalf(db.session, inp, actor=desk.staff, now=NOW, overrides={"window", "approval"})
    assert set(exc.value.codes) == {"contact_name_required", "contact_phone_required"}
    inp.contact_name, inp.contact_phone = "田中", "059-000-1111"
    with pytest.raises(DomainError) as exc:
        dsvc.book_on_behalf(db.session, inp, actor=desk.staff, now=NOW, overrides={"approval"})
    assert exc.value.codes == ["window_not_open"]
    db.session.rollback()
    made = dsvc.book_on_behalf(db.session, inp, actor=desk.staff, now=NOW, overrides={"window", "approval"})
    db.session.commit()
    b = made[0]
    assert (b.group_id, b.contact_name, b.status) == (None, "田中", "provisional")  # approval skipped
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.booking_id == b.id))
    assert event is not None and event.note == "override: approval,window" and event.actor_id == desk.staff.id
    with pytest.raises(DomainError) as exc:
        dsvc.book_on_behalf(db.session, inp, actor=desk.staff, now=NOW, overrides={"window", "overlap"})
    assert exc.value.codes == ["override_invalid"]
    # never an overlap, whatever is overridden
    with pytest.raises(DomainError) as exc:
        dsvc.book_on_behalf(db.session, inp, actor=desk.staff, now=NOW, overrides={"window", "approval", "lead_time"})
    assert "conflict" in exc.value.codes
    db.session.rollback()
    with pytest.raises(Forbidden):
        inp2 = bsvc.BookingInput(room_id=desk.elsewhere.id, group_id=desk.group.id, day=LATER, slot_code="morning",
                                 purpose="x", attendees=2)
        dsvc.book_on_behalf(db.session, inp2, actor=desk.staff, now=NOW)


def test_emergency_closure_cancels_the_day_without_fee_and_queues_notices(desk: Desk) -> None:
    paid = desk.book(desk.large, slot="evening")
    dsvc.record_payment(db.session, paid, actor=desk.staff, now=NOW, amount=None, method="cash", receipt="R1")
    pending = desk.book(desk.hall, slot="evening")
    in_use = desk.book(desk.free, slot="afternoon")
    bsvc.check_in(db.session, in_use, actor=desk.staff, now=NOW)
    tomorrow = desk.book(desk.large, slot="evening", day=TODAY + timedelta(days=1))
    elsewhere = desk.book(desk.elsewhere, slot="evening")
    db.session.commit()

    preview = csvc.emergency_preview(db.session, desk.facility, TODAY, actor=desk.staff)
    assert {b.id for b in preview.cancellable} == {paid.id, pending.id}
    assert preview.in_use == [in_use]
    with pytest.raises(DomainError) as exc:
        csvc.emergency_close(db.session, desk.facility, TODAY, actor=desk.staff, now=NOW, expected=5)
    assert exc.value.codes == ["count_changed"]
    db.session.rollback()

    result = csvc.emergency_close(db.session, desk.facility, TODAY, actor=desk.staff, now=NOW, expected=2,
                                  reason_ja="断水のため臨時休館", reason_en="Closed: no water supply")
    db.session.commit()
    assert {b.id for b in result.cancelled} == {paid.id, pending.id}
    for b in (paid, pending):
        db.session.refresh(b)
        assert b.status == "cancelled" and b.cancellation_fee == 0
        assert b.cancel_reason == "断水のため臨時休館 / Closed: no water supply"
        assert all(not u.active for u in b.units)
    assert (in_use.status, tomorrow.status, elsewhere.status) == ("checked_in", "provisional", "provisional")
    notices = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "cancelled_closure")).all()
    assert {n.booking_id for n in notices} == {paid.id, pending.id}
    # the groups are told the reason staff gave, in their language
    assert all(n.context == {"note": "断水のため臨時休館", "note_en": "Closed: no water supply"} for n in notices)
    closure = db.session.scalar(select(Closure))
    assert closure is not None and (closure.kind, closure.start_date, closure.room_id) == ("emergency", TODAY, None)
    # the day is closed to new bookings now
    inp = bsvc.BookingInput(room_id=desk.large.id, group_id=desk.group.id, day=TODAY, slot_code="evening",
                            purpose="x", attendees=2)
    with pytest.raises(DomainError) as exc:
        bsvc.create_booking(db.session, inp, actor=desk.staff, now=NOW)
    assert "closed" in exc.value.codes
    with pytest.raises(Forbidden):
        csvc.emergency_close(db.session, desk.facility, TODAY, actor=desk.other_staff, now=NOW)


def test_planned_closure_validation(desk: Desk) -> None:
    with pytest.raises(DomainError) as exc:
        csvc.add_closure(db.session, desk.facility, actor=desk.staff, now=NOW, start=LATER, end=TODAY,
                         reason_ja="", room_id=desk.elsewhere.id)
    assert set(exc.value.codes) == {"end_before_start", "reason_required", "room_not_in_facility"}


def test_registrations_register_suspend_renew_with_audit(desk: Desk) -> None:
    g = desk.applied
    assert rsvc.list_groups(db.session, desk.staff)[0] == g  # applications first
    with pytest.raises(DomainError) as exc:
        rsvc.register(db.session, g, actor=desk.staff, now=NOW, today=TODAY, renewal_date=TODAY,
                      exemption_code="nope")
    assert set(exc.value.codes) == {"renewal_past", "exemption_unknown"}
    rsvc.register(db.session, g, actor=desk.staff, now=NOW, today=TODAY, renewal_date=date(2027, 3, 31),
                  exemption_code="civic_50")
    db.session.commit()
    assert (g.status, g.exemption_code, g.group_class(TODAY)) == ("registered", "civic_50", "registered")
    rsvc.suspend(db.session, g, actor=desk.staff, now=NOW, reason="規約違反")
    db.session.commit()
    assert g.status == "suspended"
    inp = bsvc.BookingInput(room_id=desk.large.id, group_id=g.id, day=LATER, slot_code="morning", purpose="x",
                            attendees=2)
    with pytest.raises(DomainError) as exc:
        bsvc.create_booking(db.session, inp, actor=desk.member, now=NOW)
    assert "group_suspended" in exc.value.codes
    db.session.rollback()
    with pytest.raises(DomainError):
        rsvc.renew(db.session, g, actor=desk.staff, now=NOW, today=TODAY, renewal_date=date(2028, 3, 31))
    rsvc.register(db.session, g, actor=desk.staff, now=NOW, today=TODAY, renewal_date=date(2027, 3, 31))
    rsvc.renew(db.session, g, actor=desk.staff, now=NOW, today=TODAY, renewal_date=date(2028, 3, 31))
    db.session.commit()
    actions = [e.action for e in rsvc.history(db.session, g, actor=desk.staff).events]
    assert actions[:4] == ["group.renewed", "group.registered", "group.suspended", "group.registered"]
    with pytest.raises(Forbidden):
        rsvc.suspend(db.session, g, actor=desk.member, now=NOW, reason="x")


def test_audit_log_filters_and_paginates(desk: Desk) -> None:
    for n in range(3):
        desk.book(desk.large, day=LATER + timedelta(days=n), slot="morning")
    desk.book(desk.elsewhere, day=LATER, slot="morning")
    page = dsvc.audit_log(db.session, desk.staff, action="booking.created", per_page=2)
    assert (page.total, page.pages, len(page.events)) == (3, 2, 2)
    assert len(dsvc.audit_log(db.session, desk.staff, action="booking.created", per_page=2, page=2).events) == 1
    assert dsvc.audit_log(db.session, desk.admin, action="booking.created").total == 4
    rsvc.suspend(db.session, desk.group, actor=desk.other_staff, now=NOW, reason="会費未納")
    db.session.commit()
    assert dsvc.audit_log(db.session, desk.staff, action="group.suspended").total == 1  # any staff's group event
    assert dsvc.audit_log(db.session, desk.staff, action="group.", facility_id=desk.facility.id).total == 0
    assert dsvc.audit_log(db.session, desk.staff, action="booking.created", first=TODAY + timedelta(days=1)).total == 0
    assert dsvc.audit_log(db.session, desk.staff, action="booking.created", first=TODAY, last=TODAY).total == 3
    with pytest.raises(Forbidden):
        dsvc.audit_log(db.session, desk.staff, facility_id=desk.other.id)
    b = db.session.scalars(select(Booking).order_by(Booking.id)).first()
    assert b is not None and [e.action for e in dsvc.booking_events(db.session, b)] == ["booking.created"]


def test_action_names_are_those_of_visible_events(desk: Desk) -> None:
    from reservations.services import audit

    desk.book(desk.elsewhere, day=TODAY + timedelta(days=10), slot="morning")  # the other facility
    audit.record(db.session, "feed_token.created", now=NOW, actor=desk.member)
    rsvc.suspend(db.session, desk.group, actor=desk.other_staff, now=NOW, reason="会費未納")
    db.session.commit()
    assert dsvc.action_names(db.session, desk.staff) == ["group.suspended"]
    assert dsvc.action_names(db.session, desk.other_staff) == ["booking.created", "group.suspended"]
    assert dsvc.action_names(db.session, desk.admin) == ["booking.created", "feed_token.created", "group.suspended"]
