"""The set-based release (INSERT … SELECT of audit events and outbox rows) against the Python path.

``bulk_transition`` writes the audit trail from ``audit.booking_snapshot_sql`` and the mail from
``notify.recipient_rows``; the one-booking path (``services.bookings.release``) uses
``audit.booking_snapshot`` and ``notify.recipients``. Here both run over the same varied bookings
(several representatives, an inactive one, member languages, a contact address that is also a
member's, an upper-case contact address, none, a booking made by staff on behalf, instants with
and without microseconds) and must write the same rows, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text, update

from reservations.domain.lifecycle import Action, Status
from reservations.jobs.runner import run_job
from reservations.jobs.transitions import NOTE, bulk_transition, id_in
from reservations.models import AuditEvent, Booking, Membership, OccupiedUnit, OutboxMessage
from reservations.services import audit, notify
from reservations.services import bookings as svc
from tests.factories import NOW, make_group, make_user

from .conftest import DAY, book

pytestmark = pytest.mark.both_databases

LATER = NOW + timedelta(days=20, microseconds=250)  # a "now" with a fraction of a second


def _varied(session, w: dict[str, Any]) -> list[Booking]:  # type: ignore[no-untyped-def]
    """Twelve provisional bookings, then re-pointed at varied groups and bookers."""
    made = [book(session, w, day=DAY + timedelta(days=d), slot=s)
            for d in range(4) for s in ("morning", "afternoon", "evening")]
    rep_en = make_user(language="en")
    rep_ja = make_user(language="ja")
    plain = make_user(language="en")
    gone = make_user(language="en", active=False)
    # several representatives, one inactive; the contact address is a representative's own (in
    # another language: queue_selected must keep the representative's row, inserted first)
    big = make_group(rep_en, plain, contact_email=rep_en.email)
    session.add_all([Membership(user=rep_ja, group=big, role="representative"),
                     Membership(user=gone, group=big, role="representative")])
    no_contact = make_group(rep_ja, contact_email="")
    shouting = make_group(plain, contact_email="Club.Office@Example.JP")  # not lower-cased on the way in
    admin = make_user("admin", language="en")
    session.flush()
    plan = [  # (group, booker)
        (big, rep_en), (big, plain), (big, w["staff"]), (no_contact, rep_ja), (shouting, admin),
        (shouting, plain), (w["group"], w["member_en"]), (w["group"], None), (big, gone),
        # bookers no longer in the group (left or removed): not told, the group still is
        (no_contact, plain), (shouting, rep_en), (big, rep_ja),
    ]
    for b, (group, booker) in zip(made, plan, strict=True):
        session.execute(update(Booking).where(Booking.id == b.id).values(
            group_id=group.id, booked_by_id=booker.id if booker else None))
    # instants with and without a fraction of a second, and no deadline at all
    session.execute(update(Booking).where(Booking.id == made[0].id).values(
        claim_deadline=datetime(2026, 12, 5, 1, 2, 3, 456789, tzinfo=UTC)))
    session.execute(update(Booking).where(Booking.id == made[1].id).values(
        start_at=made[1].start_at + timedelta(microseconds=7), fee_total=0))
    session.execute(update(Booking).where(Booking.id == made[2].id).values(claim_deadline=None))
    session.commit()
    session.expire_all()
    return [session.get(Booking, b.id) for b in made]


def _rows(session, since_audit: int, since_outbox: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """Audit events and outbox rows written after the given ids, as stored (JSON parsed)."""
    def load(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    events = [
        {**r._asdict(), "before": load(r.before), "after": load(r.after)}
        for r in session.execute(text(
            "SELECT at, actor_id, action, booking_id, group_id, facility_id, before, after, note "
            "FROM audit_events WHERE id > :n ORDER BY id"), {"n": since_audit})
    ]
    mails = [
        {**r._asdict(), "context": load(r.context)}
        for r in session.execute(text(
            "SELECT dedupe_key, kind, booking_id, group_id, recipient, language, context, status, attempts, "
            "next_attempt_at, lease_until, created_at FROM outbox WHERE id > :n ORDER BY id"), {"n": since_outbox})
    ]
    return events, mails


def _high_water(session) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    return (session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0))),
            session.scalar(select(func.coalesce(func.max(OutboxMessage.id), 0))))


def _restore(session, state: list[tuple[int, str, int, datetime]], marks: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    """Undo a release: status, SEQUENCE, updated_at, units; the rows it wrote."""
    for bid, status, sequence, updated_at in state:
        session.execute(update(Booking).where(Booking.id == bid).values(
            status=status, sequence=sequence, updated_at=updated_at))
        session.execute(update(OccupiedUnit).where(OccupiedUnit.booking_id == bid).values(active=True))
    session.execute(AuditEvent.__table__.delete().where(AuditEvent.id > marks[0]))
    session.execute(OutboxMessage.__table__.delete().where(OutboxMessage.id > marks[1]))
    session.commit()
    session.expire_all()


def test_snapshot_sql_is_booking_snapshot(session, world) -> None:  # type: ignore[no-untyped-def]
    bookings = _varied(session, world)
    before = {"status": "provisional", "sequence": Booking.sequence - 1}
    for b in bookings:
        got = session.execute(select(audit.booking_snapshot_sql(), audit.booking_snapshot_sql(before))
                              .where(Booking.id == b.id)).one()
        expected = audit.booking_snapshot(b)
        assert got[0] == expected
        assert list(got[0]) == list(expected)  # same keys in the same order
        assert got[1] == dict(expected, status="provisional", sequence=b.sequence - 1)
    assert audit.booking_snapshot(bookings[0])["claim_deadline"] == "2026-12-05T01:02:03.456789+00:00"
    assert audit.booking_snapshot(bookings[2])["claim_deadline"] is None


def test_recipient_rows_are_recipients(session, world) -> None:  # type: ignore[no-untyped-def]
    """Per booking and address, the row of the lowest rank (what ``queue_selected`` keeps) is
    ``recipients``' pair, SEQUENCE and group included."""
    bookings = _varied(session, world)
    rows = session.execute(notify.recipient_rows(id_in(Booking.id, [b.id for b in bookings]))).all()
    by_id = {b.id: b for b in bookings}
    best: dict[tuple[int, str], tuple[int, str]] = {}
    for booking_id, sequence, group_id, email, language, rank in rows:
        assert (sequence, group_id) == (by_id[booking_id].sequence, by_id[booking_id].group_id)
        if (booking_id, email) not in best or rank < best[booking_id, email][0]:
            best[booking_id, email] = (rank, language)
    got: dict[int, list[tuple[str, str]]] = {b.id: [] for b in bookings}
    for (booking_id, email), (_rank, language) in best.items():
        got[booking_id].append((email, language))
    expected = {b.id: notify.recipients(b) for b in bookings}
    assert {k: sorted(v) for k, v in got.items()} == expected
    # the data is as varied as it claims
    assert expected[bookings[2].id] == sorted(  # staff on behalf: not told; inactive representative: not told
        [(e, lang) for e, lang in expected[bookings[0].id]])
    assert ("club.office@example.jp", "ja") in expected[bookings[4].id]
    assert expected[bookings[8].id] == expected[bookings[0].id]  # an inactive booker: not told
    for b in bookings[9:11]:  # bookers out of the group
        assert b.booked_by.email not in dict(expected[b.id]) and expected[b.id]
    assert bookings[11].booked_by.email in dict(expected[bookings[11].id])
    assert not any(e == world["staff"].email for v in expected.values() for e, _ in v)


def test_bulk_release_writes_what_releasing_one_by_one_writes(session, world) -> None:  # type: ignore[no-untyped-def]
    bookings = _varied(session, world)
    ids = [b.id for b in bookings]
    # a key a crashed earlier run already wrote: left alone by both paths
    taken = f"released:{ids[3]}:1:{notify.recipients(bookings[3])[0][0]}"
    session.execute(insert(OutboxMessage).values(
        dedupe_key=taken, kind="released", booking_id=ids[3], group_id=bookings[3].group_id,
        recipient="someone@example.jp", language="ja", context={}, status="sent", attempts=1,
        next_attempt_at=NOW, created_at=NOW))
    session.commit()
    state = [(b.id, b.status, b.sequence, b.updated_at) for b in bookings]
    marks = _high_water(session)

    for bid in ids:  # the reference: the service, one booking at a time
        svc.release(session, session.get(Booking, bid), now=LATER)
    session.commit()
    ref_events, ref_mails = _rows(session, *marks)
    ref_bookings = sorted(session.execute(select(Booking.id, Booking.status, Booking.sequence, Booking.updated_at)
                                          .where(Booking.id.in_(ids))).all())
    ref_units = sorted(session.execute(select(OccupiedUnit.id, OccupiedUnit.active)).all())
    _restore(session, state, marks)

    changed = bulk_transition(session, ids, frm=Status.PROVISIONAL, action=Action.RELEASE, now=LATER,
                              notice="released")
    session.commit()
    events, mails = _rows(session, *marks)

    assert changed == sorted(ids)
    assert sorted(session.execute(select(Booking.id, Booking.status, Booking.sequence, Booking.updated_at)
                                  .where(Booking.id.in_(ids))).all()) == ref_bookings
    assert sorted(session.execute(select(OccupiedUnit.id, OccupiedUnit.active)).all()) == ref_units
    assert [dict(e, note="") for e in events] == ref_events  # the job signs its events "scheduler"
    assert {e["note"] for e in events} == {NOTE}
    assert mails == ref_mails
    assert len(ref_mails) > len(ids)
    assert taken not in {m["dedupe_key"] for m in mails}


def test_a_booking_changed_meanwhile_is_left_alone(session, world) -> None:  # type: ignore[no-untyped-def]
    paid, late, expired = (book(session, world, slot=s) for s in ("morning", "afternoon", "evening"))
    svc.confirm(session, paid, actor=world["staff"], now=NOW + timedelta(hours=1))  # paid after the batch was picked
    session.commit()
    marks = _high_water(session)
    now = expired.claim_deadline
    session.execute(update(Booking).where(Booking.id == late.id).values(claim_deadline=now + timedelta(seconds=1)))
    session.commit()
    changed = bulk_transition(session, [paid.id, late.id, expired.id], frm=Status.PROVISIONAL,
                              action=Action.RELEASE, now=now, notice="released",
                              where=(Booking.claim_deadline <= now,))
    session.commit()
    events, mails = _rows(session, *marks)
    assert changed == [expired.id]
    assert {e["booking_id"] for e in events} == {expired.id}
    assert {m["booking_id"] for m in mails} == {expired.id}
    assert session.get(Booking, paid.id).status == "confirmed"
    assert session.get(Booking, late.id).status == "provisional"


def test_bookings_already_loaded_see_the_change(session, world) -> None:  # type: ignore[no-untyped-def]
    b = book(session, world)
    assert b.status == "provisional" and all(u.active for u in b.units)
    bulk_transition(session, [b.id], frm=Status.PROVISIONAL, action=Action.RELEASE, now=b.claim_deadline,
                    notice="released")
    assert b.status == "released" and b.sequence == 1  # no commit needed
    assert not any(u.active for u in b.units)
    session.rollback()


def test_job_in_small_batches_with_auto_confirm(session, world, settings) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    released = _varied(session, world)
    confirm = [book(session, world, room="confirm_room", slot=s) for s in ("morning", "evening")]
    now = max(b.claim_deadline for b in [*released, *confirm] if b.claim_deadline)
    session.execute(update(Booking).where(Booking.id == released[2].id).values(claim_deadline=now))
    session.commit()
    marks = _high_water(session)
    result = run_job(session, "release-unclaimed", now=now, settings=replace(settings, batch_size=4), lease_now=NOW)
    assert sorted(result.booking_ids["released"]) == sorted(b.id for b in released)
    assert result.booking_ids["auto_confirmed"] == [b.id for b in confirm]
    events, mails = _rows(session, *marks)
    assert sorted((e["booking_id"], e["action"]) for e in events) == sorted(
        [(b.id, "booking.release") for b in released] + [(b.id, "booking.confirm") for b in confirm])
    session.expire_all()
    expected_keys = sorted(f"{kind}:{b.id}:1:{email}"
                           for kind, group in (("released", released), ("confirmed", confirm))
                           for b in group for email, _ in notify.recipients(session.get(Booking, b.id)))
    assert sorted(m["dedupe_key"] for m in mails) == expected_keys


@pytest.mark.parametrize(("config", "expected"), [({}, 500), ({"JOB_BATCH_SIZE": 50}, 50),
                                                  ({"JOB_BATCH_SIZE": 50, "JOB_SET_BATCH_SIZE": 10000}, 10000)])
def test_set_based_jobs_batch_size(config, expected, db_kind) -> None:  # type: ignore[no-untyped-def]
    from reservations.jobs.settings import JobSettings

    settings = JobSettings.from_config(config)
    assert settings.set_batch == expected
    assert settings.batch_size == config.get("JOB_BATCH_SIZE", 500)  # the loading jobs keep theirs
