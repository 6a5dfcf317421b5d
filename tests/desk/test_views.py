"""Desk pages: each renders, each action goes through the services, and the authorization matrix."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from reservations.extensions import db
from reservations.models import Closure, OutboxMessage
from tests.factories import NOW

from .conftest import TODAY, Desk, login

LATER = TODAY + timedelta(days=10)


@pytest.fixture
def staff_client(client: FlaskClient, desk: Desk) -> FlaskClient:
    login(client, desk.staff)
    return client


def text(r) -> str:  # type: ignore[no-untyped-def]
    return r.data.decode()


def test_today_shows_rooms_and_bookings_and_navigates_days(staff_client: FlaskClient, desk: Desk) -> None:
    desk.book(desk.large, slot="evening")
    desk.book(desk.large, slot="evening", day=TODAY + timedelta(days=1), attendees=33)
    r = staff_client.get("/desk/")
    assert r.status_code == 200
    page = text(r)
    assert "大会議室" in page and "ホール" in page and "まちづくりの会" in page and "17:30" in page
    assert "33人" not in page
    r = staff_client.get(f"/desk/?day={(TODAY + timedelta(days=1)).isoformat()}")
    assert "33人" in text(r)
    sheet = staff_client.get(f"/desk/sheet?day={TODAY.isoformat()}")
    assert sheet.status_code == 200 and "鍵の貸出表" in text(sheet) and "未払い" in text(sheet)


def test_check_in_from_today_records_lateness(staff_client: FlaskClient, desk: Desk, app) -> None:  # type: ignore[no-untyped-def]
    b = desk.book(desk.free, slot="morning", day=TODAY + timedelta(days=1))
    app.config["FIXED_NOW"] = (b.start_at + timedelta(minutes=12)).isoformat()
    r = staff_client.post(f"/desk/bookings/{b.id}/check-in", data={"next": "/desk/"})
    assert r.status_code == 302 and r.headers["Location"] == "/desk/"
    db.session.refresh(b)
    assert (b.status, b.late_minutes) == ("checked_in", 12)
    r = staff_client.post(f"/desk/bookings/{b.id}/check-in", data={"next": "https://evil.example/"})
    assert r.headers["Location"] == f"/desk/bookings/{b.id}"  # illegal transition flashed; no open redirect


def test_no_show_from_the_desk(staff_client: FlaskClient, desk: Desk, app) -> None:  # type: ignore[no-untyped-def]
    b = desk.book(desk.free, slot="morning", day=TODAY + timedelta(days=1))
    staff_client.post(f"/desk/bookings/{b.id}/no-show")
    db.session.refresh(b)
    assert b.status == "confirmed"  # not started yet
    app.config["FIXED_NOW"] = (b.start_at + timedelta(minutes=45)).isoformat()
    staff_client.post(f"/desk/bookings/{b.id}/no-show")
    db.session.refresh(b)
    assert b.status == "no_show"


def test_approve_reject_and_bulk(staff_client: FlaskClient, desk: Desk) -> None:
    a = desk.book(desk.hall, day=LATER, slot="morning")
    b = desk.book(desk.hall, day=LATER, slot="afternoon")
    c = desk.book(desk.hall, day=LATER, slot="evening")
    page = text(staff_client.get("/desk/approvals"))
    assert page.index(f"/desk/bookings/{a.id}") < page.index(f"/desk/bookings/{c.id}")
    assert "問題なし" in page
    r = staff_client.post(f"/desk/bookings/{a.id}/reject", data={"reason": ""})
    db.session.refresh(a)
    assert r.status_code == 302 and a.status == "pending"
    staff_client.post(f"/desk/bookings/{a.id}/reject", data={"reason": "催事のため"})
    db.session.refresh(a)
    assert (a.status, a.cancel_reason) == ("rejected", "催事のため")
    staff_client.post(f"/desk/bookings/{b.id}/approve")
    db.session.refresh(b)
    assert b.status == "provisional"
    r = staff_client.post("/desk/approvals/bulk", data={"booking_id": [str(c.id), str(b.id)]})
    db.session.refresh(c)
    assert r.status_code == 302 and c.status == "provisional"
    page = text(staff_client.get("/desk/approvals"))
    assert "承認待ちの予約はありません" in page


def test_payment_form_defaults_to_fee_refuses_short_and_confirms(staff_client: FlaskClient, desk: Desk) -> None:
    b = desk.book(desk.large, day=LATER, slot="morning")
    claims = text(staff_client.get("/desk/claims"))
    assert f"/desk/bookings/{b.id}/payment" in claims
    form = text(staff_client.get(f"/desk/bookings/{b.id}/payment"))
    assert 'value="440"' in form and "減免" in form and "880" in form
    r = staff_client.post(f"/desk/bookings/{b.id}/payment", data={"amount": "100", "method": "cash", "receipt": ""})
    assert r.status_code == 422 and "440" in text(r)
    db.session.refresh(b)
    assert b.status == "provisional"
    r = staff_client.post(f"/desk/bookings/{b.id}/payment", data={"amount": "440", "method": "cash", "receipt": "R-77"})
    assert r.status_code == 302
    db.session.refresh(b)
    assert (b.status, b.paid_amount, b.receipt_number) == ("confirmed", 440, "R-77")
    permit = staff_client.get(f"/desk/bookings/{b.id}/permit")
    assert permit.status_code == 200 and "施設利用許可書" in text(permit) and "R-77" in text(permit)
    page = text(staff_client.get(f"/desk/bookings/{b.id}"))
    assert "booking.confirm" in page and "booking.created" in page


def test_permit_only_for_confirmed(staff_client: FlaskClient, desk: Desk) -> None:
    b = desk.book(desk.large, day=LATER, slot="morning")
    r = staff_client.get(f"/desk/bookings/{b.id}/permit")
    assert r.status_code == 302


def test_book_on_behalf_form(staff_client: FlaskClient, desk: Desk) -> None:
    assert staff_client.get("/desk/book").status_code == 200
    data = {"room_id": str(desk.hall.id), "day": LATER.isoformat(), "slot_code": "morning", "group_id": "0",
            "contact_name": "", "contact_phone": "", "purpose": "説明会", "attendees": "5", "extras": "",
            "overrides": ["approval"]}
    r = staff_client.post("/desk/book", data=data)
    assert r.status_code == 422 and "連絡先の氏名を入力してください" in text(r)
    data.update(contact_name="田中", contact_phone="059-000-1111")
    r = staff_client.post("/desk/book", data=data)
    assert r.status_code == 302, text(r)
    booking_id = int(r.headers["Location"].rsplit("/", 1)[1])
    page = text(staff_client.get(f"/desk/bookings/{booking_id}"))
    assert "田中" in page and "override: approval" in page and "仮予約" in page
    data.update(group_id=str(desk.group.id), slot_code="morning")
    r = staff_client.post("/desk/book", data=data)
    assert r.status_code == 422 and "既に予約があります" in text(r)
    # the booking in the way is a link, and other times are offered as links that open this form on them
    html = r.get_data(as_text=True)
    assert f'href="/desk/bookings/{booking_id}"' in html
    later = html.split("この部屋の次の空き")[1]
    link = re.search(r'href="(/desk/book\?[^"]+)"', later)
    assert link is not None and f"room={data['room_id']}" in link.group(1)
    prefilled = staff_client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    day = re.search(r"day=([0-9-]+)", link.group(1)).group(1)  # type: ignore[union-attr]
    slot = re.search(r"slot=(\w+)", link.group(1)).group(1)  # type: ignore[union-attr]
    assert f'value="{day}"' in prefilled
    assert re.search(f'<option selected value="{slot}">|value="{slot}" selected', prefilled)


def test_emergency_closure_confirm_page_then_cancel(staff_client: FlaskClient, desk: Desk) -> None:
    b1 = desk.book(desk.large, slot="evening")
    b2 = desk.book(desk.hall, slot="afternoon")
    r = staff_client.get(f"/desk/closures/emergency?day={TODAY.isoformat()}")
    assert r.status_code == 200 and "取り消す予約: 2件" in text(r)
    assert db.session.scalar(select(Closure.id)) is None  # the GET changes nothing
    r = staff_client.post("/desk/closures/emergency", data={
        "day": TODAY.isoformat(), "reason_ja": "暴風警報", "reason_en": "Storm", "expected": "2", "confirm": "1"})
    assert r.status_code == 302
    flashed = text(staff_client.get(r.headers["Location"]))
    assert f"{TODAY.month}月{TODAY.day}日" in flashed and f"{TODAY.isoformat()}を休館" not in flashed  # the day as people write it
    for b in (b1, b2):
        db.session.refresh(b)
        assert (b.status, b.cancellation_fee) == ("cancelled", 0)
    assert db.session.scalar(select(Closure.kind)) == "emergency"
    assert len(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "cancelled_closure")).all()) >= 2


def test_emergency_closure_without_a_reason_keeps_what_was_typed(staff_client: FlaskClient, desk: Desk) -> None:
    b = desk.book(desk.large, slot="evening")
    r = staff_client.post("/desk/closures/emergency", data={
        "day": TODAY.isoformat(), "reason_ja": "", "reason_en": "Closed: no water", "expected": "1", "confirm": "1"})
    assert r.status_code == 422 and 'value="Closed: no water"' in r.get_data(as_text=True)
    assert "取り消す予約: 1件" in text(r)
    db.session.refresh(b)
    assert b.status != "cancelled" and db.session.scalar(select(Closure.id)) is None
    # a date the page itself never sends: back to choosing the date, saying so
    r = staff_client.post("/desk/closures/emergency", data={"day": "2100-01-01", "reason_ja": "断水", "confirm": "1"})
    assert r.status_code == 302
    assert "日付が正しくありません" in text(staff_client.get(r.headers["Location"]))


def test_planned_closure_form(staff_client: FlaskClient, desk: Desk) -> None:
    r = staff_client.post("/desk/closures", data={"room_id": str(desk.hall.id), "start_date": LATER.isoformat(),
                                                  "end_date": TODAY.isoformat(), "reason_ja": "工事"})
    assert r.status_code == 422 and "終了日は開始日以降" in text(r)
    r = staff_client.post("/desk/closures", data={"room_id": str(desk.hall.id), "start_date": LATER.isoformat(),
                                                  "end_date": LATER.isoformat(), "reason_ja": "工事"})
    assert r.status_code == 302
    assert "工事" in text(staff_client.get("/desk/closures"))


def test_group_pages_register_and_history(staff_client: FlaskClient, desk: Desk) -> None:
    page = text(staff_client.get("/desk/groups?status=applied"))
    assert "準備会" in page and "まちづくりの会" not in page
    g = desk.applied
    # a date out of range: the page again with the exemption chosen and the date's own error
    r = staff_client.post(f"/desk/groups/{g.id}/register", data={"renewal_date": "2100-03-31",
                                                                  "exemption_code": "civic_50"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and 'value="2100-03-31"' in html
    assert re.search(r'<option selected value="civic_50">|<option value="civic_50" selected', html)
    db.session.refresh(g)
    assert g.status == "applied"
    r = staff_client.post(f"/desk/groups/{g.id}/register", data={"renewal_date": "2027-03-31",
                                                                  "exemption_code": "civic_50"})
    assert r.status_code == 302
    db.session.refresh(g)
    assert (g.status, g.exemption_code) == ("registered", "civic_50")
    staff_client.post(f"/desk/groups/{g.id}/suspend", data={"reason": "会費未納"})
    db.session.refresh(g)
    assert g.status == "suspended"
    page = text(staff_client.get(f"/desk/groups/{g.id}"))
    assert "group.suspended" in page and "会費未納" in page


def test_staff_rename_a_group_and_the_change_shows_in_its_record(staff_client: FlaskClient, desk: Desk) -> None:
    g = desk.group
    old = g.name
    page = text(staff_client.get(f"/desk/groups/{g.id}"))
    assert "団体名・種類の変更" in page
    r = staff_client.post(f"/desk/groups/{g.id}/rename", data={"rename-name": "  ", "rename-kind": "circle"})
    assert r.status_code == 302
    assert "団体名を入力し" in text(staff_client.get(r.headers["Location"]))
    r = staff_client.post(f"/desk/groups/{g.id}/rename", data={"rename-name": old, "rename-kind": "pirates"})
    assert "団体名を入力し" in text(staff_client.get(r.headers["Location"]))  # not a kind: refused
    db.session.refresh(g)
    assert g.name == old and g.updated_at is None
    r = staff_client.post(f"/desk/groups/{g.id}/rename", data={"rename-name": " 新まちづくりの会 ", "rename-kind": "npo"})
    page = text(staff_client.get(r.headers["Location"]))
    assert "団体名・種類を変更しました" in page
    db.session.refresh(g)
    assert (g.name, g.kind, g.updated_at) == ("新まちづくりの会", "npo", NOW)
    assert "group.renamed" in page and f"団体名: {old} → 新まちづくりの会" in page
    assert "種類:" in page  # the kind changed too (circle → npo)
    staff_client.post(f"/desk/groups/{g.id}/rename", data={"rename-name": "新まちづくりの会２", "rename-kind": "npo"})
    page = text(staff_client.get(f"/desk/groups/{g.id}"))
    assert "団体名: 新まちづくりの会 → 新まちづくりの会２" in page and "種類: npo → npo" not in page
    log = text(staff_client.get("/desk/log?action=group.renamed"))  # the desk log shows group events too
    assert "新まちづくりの会２" in log and "0件中" not in log


def test_no_check_in_button_before_the_day_and_a_clear_refusal(staff_client: FlaskClient, desk: Desk) -> None:
    b = desk.book(desk.free, slot="morning", day=TODAY + timedelta(days=2))
    page = staff_client.get(f"/desk/?day={(TODAY + timedelta(days=2)).isoformat()}").get_data(as_text=True)
    assert f"/desk/bookings/{b.id}" in page and f"/desk/bookings/{b.id}/check-in" not in page
    r = staff_client.post(f"/desk/bookings/{b.id}/check-in", data={})
    assert "利用日より前には受付できません" in text(staff_client.get(r.headers["Location"]))
    db.session.refresh(b)
    assert b.status == "confirmed"
    today = desk.book(desk.free, slot="evening", day=TODAY)
    assert f"/desk/bookings/{today.id}/check-in" in staff_client.get("/desk/").get_data(as_text=True)


def test_log_page_filters(staff_client: FlaskClient, desk: Desk) -> None:
    desk.book(desk.large, day=LATER, slot="morning")
    r = staff_client.get("/desk/log?action=booking.created")
    assert r.status_code == 200 and "booking.created" in text(r)
    r = staff_client.get(f"/desk/log?action=booking.created&first={(TODAY + timedelta(days=1)).isoformat()}")
    assert "0件中" in text(r)


def test_english_desk_page(staff_client: FlaskClient, desk: Desk) -> None:
    staff_client.post("/language", data={"language": "en"})
    desk.staff.language = "en"
    db.session.commit()
    r = staff_client.get("/desk/")
    assert r.status_code == 200 and "Large Room" in text(r) and "Today" in text(r)


# --- authorization matrix ----------------------------------------------------------------------

def _pages(desk: Desk, booking_id: int) -> list[str]:
    return ["/desk/", "/desk/sheet", "/desk/approvals", "/desk/claims", "/desk/book", "/desk/groups",
            f"/desk/groups/{desk.group.id}", "/desk/closures", "/desk/closures/emergency", "/desk/log",
            f"/desk/bookings/{booking_id}", f"/desk/bookings/{booking_id}/payment",
            f"/desk/bookings/{booking_id}/permit"]


def _actions(desk: Desk, booking_id: int) -> list[str]:
    return [f"/desk/bookings/{booking_id}/{a}" for a in ("check-in", "no-show", "approve", "reject", "payment")] + [
        "/desk/approvals/bulk", "/desk/book", f"/desk/groups/{desk.applied.id}/register",
        f"/desk/groups/{desk.group.id}/renew", f"/desk/groups/{desk.group.id}/suspend",
        f"/desk/groups/{desk.group.id}/rename", "/desk/closures",
        "/desk/closures/emergency"]


def test_member_gets_403_on_every_desk_page_and_action(client: FlaskClient, desk: Desk) -> None:
    b = desk.book(desk.hall, day=LATER, slot="morning")
    login(client, desk.member)
    for url in _pages(desk, b.id):
        assert client.get(url).status_code == 403, url
    for url in _actions(desk, b.id):
        assert client.post(url, data={"booking_id": str(b.id), "reason": "x", "renewal_date": "2027-03-31",
                                      "confirm": "1", "day": TODAY.isoformat(), "rename-name": "乗っ取り",
                                      "rename-kind": "circle"}).status_code == 403, url
    db.session.refresh(b)
    assert b.status == "pending"
    db.session.refresh(desk.group)
    assert desk.group.name != "乗っ取り"


def test_anonymous_is_sent_to_login(client: FlaskClient, desk: Desk) -> None:
    r = client.get("/desk/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_staff_of_another_facility_gets_403(client: FlaskClient, desk: Desk) -> None:
    b = desk.book(desk.hall, day=LATER, slot="morning")
    login(client, desk.other_staff)
    for url in (f"/desk/bookings/{b.id}", f"/desk/bookings/{b.id}/payment", f"/desk/bookings/{b.id}/permit",
                f"/desk/?facility={desk.facility.id}", f"/desk/closures?facility={desk.facility.id}",
                f"/desk/log?facility={desk.facility.id}"):
        assert client.get(url).status_code == 403, url
    for url in (f"/desk/bookings/{b.id}/approve", f"/desk/bookings/{b.id}/reject", f"/desk/bookings/{b.id}/check-in",
                f"/desk/bookings/{b.id}/no-show", f"/desk/closures/emergency?facility={desk.facility.id}"):
        assert client.post(url, data={"reason": "x", "confirm": "1", "day": TODAY.isoformat()}).status_code == 403, url
    assert client.post("/desk/approvals/bulk", data={"booking_id": str(b.id)}).status_code == 403
    assert client.post(f"/desk/book?facility={desk.facility.id}", data={}).status_code == 403
    db.session.refresh(b)
    assert b.status == "pending"
    # their own facility works
    assert client.get("/desk/").status_code == 200
    assert "常磐" in text(client.get("/desk/"))


def test_state_changes_need_a_csrf_token(csrf_app) -> None:  # type: ignore[no-untyped-def]
    from reservations.services import bookings as bsvc
    from tests.factories import NOW, make_facility, make_group, make_room, make_user

    f = make_facility()
    room = make_room(f, requires_approval=True)
    staff = make_user("staff", facilities=[f])
    member = make_user()
    g = make_group(member)
    inp = bsvc.BookingInput(room_id=room.id, group_id=g.id, day=LATER, slot_code="morning", purpose="x", attendees=2)
    b = bsvc.create_booking(db.session, inp, actor=staff, now=NOW, overrides=frozenset({"window"}))[0]
    db.session.commit()
    client = csrf_app.test_client()
    with client.session_transaction() as s:
        s["_user_id"] = staff.get_id()
        s["_fresh"] = True
    r = client.post(f"/desk/bookings/{b.id}/approve")
    assert r.status_code == 400
    db.session.refresh(b)
    assert b.status == "pending"
    page = client.get(f"/desk/bookings/{b.id}").data.decode()
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    r = client.post(f"/desk/bookings/{b.id}/approve", data={"csrf_token": token.group(1)})
    assert r.status_code == 302
    db.session.refresh(b)
    assert b.status == "provisional"


def test_log_names_actions_and_offers_only_those_staff_can_see(staff_client: FlaskClient, desk: Desk) -> None:
    """The log shows what an action is ("予約の申込み"), with its code for searching; its filter
    lists the actions of events the staff member can read, not the members' own or admins' events."""
    from reservations.services import audit

    desk.book(desk.large, day=LATER, slot="morning")
    audit.record(db.session, "feed_token.created", now=NOW, actor=desk.member)
    db.session.commit()
    page = staff_client.get("/desk/log").get_data(as_text=True)
    assert "予約の申込み" in page and "booking.created" in page
    assert 'value="booking.created"' in page and 'value="feed_token.created"' not in page
    staff_client.post("/language", data={"language": "en"})
    assert ">Booking made<" in staff_client.get("/desk/log").get_data(as_text=True)


def test_queues_offer_every_served_facility_again(client: FlaskClient, desk: Desk) -> None:
    """Approvals and claims list every facility one serves, or one: once one is chosen, the menu
    must offer the way back; pages of one facility (today) do not offer "all"."""
    login(client, desk.admin)
    all_option = '<option value="">担当のすべての施設</option>'
    for queue in ("/desk/approvals", "/desk/claims"):
        chosen = client.get(f"{queue}?facility={desk.facility.id}").get_data(as_text=True)
        assert all_option in chosen
        assert '<option value="" selected>担当のすべての施設</option>' in client.get(queue).get_data(as_text=True)
    assert "担当のすべての施設" not in client.get(f"/desk/?facility={desk.facility.id}").get_data(as_text=True)


def test_counts_in_english_are_singular_for_one(staff_client: FlaskClient, desk: Desk) -> None:
    url = f"/desk/sheet?day={LATER.isoformat()}"
    desk.book(desk.large, day=LATER, slot="evening")
    staff_client.post("/language", data={"language": "en"})
    assert ">1 booking<" in staff_client.get(url).get_data(as_text=True)
    desk.book(desk.large, day=LATER, slot="morning")
    assert ">2 bookings<" in staff_client.get(url).get_data(as_text=True)


def test_desk_shows_names_not_codes(staff_client: FlaskClient, desk: Desk) -> None:
    """Staff read the exemption category by its name and a payment note in words, not
    ``civic_50`` or ``cash 880``."""
    page = staff_client.get(f"/desk/groups/{desk.group.id}").get_data(as_text=True)
    assert "civic_50" not in text(staff_client.get("/desk/groups"))
    assert "<dd>civic_50</dd>" not in page and "<dd>登録団体</dd>" in page
    b = desk.book(desk.large, day=LATER, slot="evening")
    r = staff_client.post(f"/desk/bookings/{b.id}/payment", data={"method": "cash", "amount": str(b.fee_total)})
    assert r.status_code in (302, 303)
    booking_page = text(staff_client.get(f"/desk/bookings/{b.id}"))
    assert f"cash {b.fee_total}" not in booking_page and f"窓口で現金 {b.fee_total:,}円" in booking_page


def test_system_notes_in_words() -> None:
    from reservations.web.audit_labels import note_text

    assert note_text("booking.release", "scheduler", "ja") == "自動処理"
    assert note_text("booking.check_in", "late 12 min", "en") == "12 min late"
    assert note_text("booking.cancel", "late 12 min", "en") == "late 12 min"  # a reason someone typed
    assert note_text("booking.reject", "定員超過", "ja") == "定員超過"
