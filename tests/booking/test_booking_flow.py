"""The booking form, booking page, cancel and my bookings, through the test client."""

from __future__ import annotations

import re
from datetime import date, timedelta

import flask_babel

from reservations.domain.recurrence import RecurrenceSpec
from reservations.extensions import db
from reservations.models import Booking
from reservations.services import bookings as svc
from tests.booking.conftest import login
from tests.booking.helpers import book
from tests.booking.test_grid import text
from tests.factories import NOW


def _form(world, **over):  # type: ignore[no-untyped-def]
    data = {"room": world.large.id, "date": "2026-12-08", "slot": "evening", "group": world.group.id,
            "purpose": "まちづくり勉強会", "attendees": "16", "repeat": "none", "submit": "1"}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def test_booking_form_requires_login(client, world):
    r = client.get(f"/book?room={world.large.id}&date=2026-12-08&slot=evening")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = client.post("/book", data=_form(world))
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert db.session.query(Booking).count() == 0


def test_a_repeat_the_form_does_not_offer_is_refused_not_booked_once(client, world):
    login(client, world.member)
    r = client.post("/book", data=_form(world, repeat="yearly"))
    assert r.status_code == 422 and 'value="まちづくり勉強会"' in r.get_data(as_text=True)
    assert db.session.query(Booking).count() == 0


def test_prefilled_form_shows_price_with_breakdown_before_submitting(client, world):
    login(client, world.member)
    r = client.get(f"/book?room={world.large.id}&date=2026-12-08&slot=evening&group={world.group.id}")
    assert r.status_code == 200
    page = text(r.get_data(as_text=True))
    assert "使用料（夜間） 880円" in page
    assert "減免（登録団体 50%） −440円" in page
    assert "合計 440円" in page
    html = r.get_data(as_text=True)
    assert 'value="2026-12-08"' in html
    assert re.search(r'<option selected value="evening">|<option value="evening" selected', html)
    # an applied group books as the general public: no exemption, and it says so
    r = client.get(f"/book?room={world.large.id}&date=2026-12-08&slot=evening&group={world.applied.id}")
    page = text(r.get_data(as_text=True))
    assert "合計 880円" in page and "一般の料金・受付期間で予約" in page


def test_booking_happy_path(client, world):
    login(client, world.member)
    r = client.post("/book", data=_form(world, extras="aircon"))
    assert r.status_code == 302, text(r.get_data(as_text=True))[:2000]
    b = db.session.query(Booking).one()
    assert r.headers["Location"].startswith(f"/bookings/{b.id}")
    assert b.group_id == world.group.id and b.slot_code == "evening" and b.attendees == 16
    assert b.fee_total == 550  # 50% off the room fee and the air conditioning
    page = text(client.get(r.headers["Location"]).get_data(as_text=True))
    assert "予約を受け付けました" in page
    assert "仮予約" in page
    assert "550円" in page  # total
    assert "冷暖房 220円" in page
    # what to do next: pay at the desk by the claim deadline (3 days before use, end of day)
    assert "2026年12月5日（土）までに窓口で使用料（550円）をお支払いください" in page
    assert f'href="/bookings/{b.id}.ics"' in client.get(f"/bookings/{b.id}").get_data(as_text=True)


def test_free_time_room_booking(client, world):
    login(client, world.member)
    r = client.get(f"/book?room={world.hourly.id}&date=2026-12-08&start=18:00&end=20:00")
    html = r.get_data(as_text=True)
    assert 'value="18:00"' in html and 'value="20:00"' in html
    assert "使用料（2時間） 600円" in text(html)
    r = client.post("/book", data=_form(world, room=world.hourly.id, slot=None, start="18:00", end="20:00"))
    assert r.status_code == 302
    b = db.session.query(Booking).one()
    assert b.fee_total == 600 and b.slot_code is None  # no exemption configured for this room


def test_conflict_keeps_input_and_offers_alternatives(client, world):
    book(world.large, world.other_group, date(2026, 12, 8), "evening", actor=world.stranger)
    login(client, world.member)
    r = client.post("/book", data=_form(world, purpose="誰にも消されない目的", attendees="16", extras="aircon"))
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    page = text(html)
    assert "この時間は既に予約があります" in page
    assert 'value="誰にも消されない目的"' in html and 'value="16"' in html
    assert re.search(r'<input checked[^>]*value="aircon"|value="aircon"[^>]*checked', html)
    assert "予約できませんでした" in page  # error summary at the top
    # alternatives: other rooms free at the same time with enough capacity, same facility first
    alt = html.split('id="alt-title"')[1]
    same_time = alt.split("この部屋の次の空き")[0]
    assert "研修室" in same_time  # 40 places, other facility
    assert "小会議室" not in same_time  # 12 places: too small for 16
    assert f"room={world.elsewhere.id}&amp;date=2026-12-08&amp;slot=evening" in same_time
    # ... and the next free slots of the same room, each a prefilled link keeping what was typed
    later = alt.split("この部屋の次の空き")[1]
    assert f"room={world.large.id}&amp;date=2026-12-09&amp;slot=morning" in later
    assert "purpose=" in later
    assert db.session.query(Booking).count() == 1


def test_a_conflict_with_the_groups_own_booking_says_so(client, world):
    """A form sent twice, or a date booked already: the group is told it is their own booking."""
    login(client, world.member)
    assert client.post("/book", data=_form(world)).status_code == 302
    r = client.post("/book", data=_form(world))
    page = text(r.get_data(as_text=True))
    assert r.status_code == 422 and "この時間は、この団体が既に予約しています（17:30〜21:00）" in page
    assert db.session.query(Booking).count() == 1


def test_a_conflict_in_a_hall_names_the_part_that_is_taken(client, world):
    from tests.factories import make_room

    part_a = make_room(world.facility, name_ja="多目的ホールA", name_en="Hall A", capacity=50)
    part_b = make_room(world.facility, name_ja="多目的ホールB", name_en="Hall B", capacity=50)
    hall = make_room(world.facility, name_ja="多目的ホール", name_en="Hall", capacity=100, parts=[part_a, part_b])
    db.session.commit()
    book(part_a, world.other_group, date(2026, 12, 8), "evening", actor=world.stranger)
    login(client, world.member)
    r = client.post("/book", data=_form(world, room=hall.id))
    page = text(r.get_data(as_text=True))
    assert r.status_code == 422 and "この時間は既に予約があります（17:30〜21:00、多目的ホールA）" in page
    world.member.language = "en"  # a signed-in user reads in their profile's language
    db.session.commit()
    flask_babel.refresh()
    r = client.post("/book", data=_form(world, room=hall.id))
    assert "This time is already booked (17:30–21:00, Hall A)" in text(r.get_data(as_text=True))


def test_a_room_taken_out_of_use_while_the_form_was_open_keeps_the_input(client, world):
    login(client, world.member)
    assert client.get(f"/book?room={world.large.id}").status_code == 200
    world.large.active = False
    db.session.commit()
    r = client.post("/book", data=_form(world, purpose="誰にも消されない目的"))
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "この部屋は現在予約を受け付けていません" in text(html)
    assert 'value="誰にも消されない目的"' in html and 'id="alt-title"' in html  # other rooms offered
    assert db.session.query(Booking).count() == 0
    assert client.get(f"/book?room={world.large.id}").status_code == 404  # a new form: not offered


def test_validation_errors_in_the_users_language(client, world):
    login(client, world.member)
    r = client.post("/book", data=_form(world, purpose="", attendees="0"))
    assert r.status_code == 422
    page = text(r.get_data(as_text=True))
    assert "利用目的を入力してください。" in page
    assert "利用人数を1人以上で入力してください。" in page
    world.member.language = "en"
    db.session.commit()
    r = client.post("/book", data=_form(world, attendees="70"))
    assert r.status_code == 422
    page = text(r.get_data(as_text=True))
    assert "more than the room's capacity (60)" in page


def test_series_preview_shows_each_date(client, world):
    book(world.large, world.other_group, date(2026, 12, 15), "evening", actor=world.stranger)
    login(client, world.member)
    data = _form(world, repeat="weekly", repeat_count="5", submit=None, preview="1")
    r = client.post("/book", data=data)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    rows = {m[0]: text(m[1]) for m in re.findall(r"<tr class=\"bk-row-(\w+)\">(.*?)</tr>", html, re.S)}
    page = text(html)
    assert "2026年12月8日（火）" in page and "2027年1月5日（火）" in page
    assert "taken" in rows and "2026年12月15日" in rows["taken"]
    assert "closed" in rows and "2026年12月29日" in rows["closed"]  # New Year break
    assert db.session.query(Booking).count() == 1  # a preview writes nothing
    # booking all of them fails and says why; booking only the free ones works
    r = client.post("/book", data=_form(world, repeat="weekly", repeat_count="5"))
    assert r.status_code == 422
    page = text(r.get_data(as_text=True))
    assert "繰り返しの5日のうち2日は予約できません。予約できる日だけを予約することもできます" in page
    assert "12月29日: " in page and "12月15日: " in page  # each date and why
    assert "ほかの候補" not in page  # no single-date alternatives for a series
    r = client.post("/book", data=_form(world, repeat="weekly", repeat_count="5", book_free_only="y"))
    assert r.status_code == 302
    mine = db.session.query(Booking).filter_by(group_id=world.group.id).order_by(Booking.start_at).all()
    assert [b.start_at.date().isoformat() for b in mine] == ["2026-12-08", "2026-12-22", "2027-01-05"]
    assert mine[0].series_id is not None and len({b.series_id for b in mine}) == 1


def test_a_series_over_capacity_is_refused_once_on_the_attendees(client, world):
    """A failure of the whole request (every date has it) is not a failure of some dates: it is
    reported once, on its own field, with no advice to book the free dates."""
    login(client, world.member)
    r = client.post("/book", data=_form(world, repeat="weekly", repeat_count="3", attendees="999"))
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'id="attendees-error"' in html  # on the field it concerns, as for one booking
    page = text(html)
    assert "繰り返しの3日のうち" not in page and "予約できる日だけ" not in page


def test_monthly_by_nth_weekday(client, world):
    login(client, world.member)
    r = client.post("/book", data=_form(world, repeat="monthly", repeat_count="2", submit=None, preview="1"))
    page = text(r.get_data(as_text=True))
    assert "毎月第2火曜日" in page
    assert "2027年1月12日（火）" in page  # the second Tuesday of January


def _confirmed(world, day: date) -> Booking:  # type: ignore[no-untyped-def]
    b = book(world.large, world.group, day, "evening", actor=world.member)[0]
    svc.confirm(db.session(), b, actor=world.staff, now=NOW, method="cash")
    db.session.commit()
    return b


def test_cancel_shows_the_fee_first_then_cancels(client, world):
    b = _confirmed(world, date(2026, 12, 5))  # 4 days ahead: 50% of what was paid
    assert b.paid_amount == 440
    login(client, world.member)
    page = text(client.get(f"/bookings/{b.id}").get_data(as_text=True))
    assert "予約確定" in page and "この予約を取り消す" in page and "カレンダーに追加" in page
    page = text(client.get(f"/bookings/{b.id}/cancel").get_data(as_text=True))
    assert "取消料 220円 がかかります" in page
    assert db.session.get(Booking, b.id).status == "confirmed"  # looking costs nothing
    r = client.post(f"/bookings/{b.id}/cancel", data={"reason": "都合により"})
    assert r.status_code == 302
    db.session.expire_all()
    b = db.session.get(Booking, b.id)
    assert b.status == "cancelled" and b.cancellation_fee == 220
    page = text(client.get(r.headers["Location"]).get_data(as_text=True))
    assert "予約を取り消しました" in page
    assert "カレンダーに追加" not in page  # it will not take place
    assert "取消" in page and "220円" in page and "この予約を取り消す" not in page


def test_cancel_of_unpaid_provisional_is_free(client, world):
    b = book(world.large, world.group, date(2026, 12, 3), "evening", actor=world.member)[0]
    login(client, world.member)
    page = text(client.get(f"/bookings/{b.id}/cancel").get_data(as_text=True))
    assert "取消料はかかりません" in page


def test_cancel_a_series_from_one_date_on(client, world):
    """The cancel page of a date with later dates open offers "this date only" or "this date and
    every later one", with the fee of each; once no later date is open, it offers no choice."""
    made = book(world.small, world.group, date(2026, 12, 9), "morning", actor=world.member, purpose="毎週の会",
                recurrence=RecurrenceSpec("weekly", count=3))  # Dec 9, 16, 23
    first, second, *later = made
    svc.confirm(db.session(), first, actor=world.staff, now=NOW, method="cash")  # paid, 8 days ahead: 20%
    db.session.commit()
    login(client, world.member)
    page = text(client.get(f"/bookings/{first.id}/cancel").get_data(as_text=True))
    fee = first.paid_amount * 20 // 100
    assert fee > 0 and svc.cancel_following_quote(first, NOW)[1] == fee
    assert f"取消料 {fee:,}円 がかかります" in page  # this date alone
    assert f"取消料は合計 {fee:,}円 です" in page  # with the later, unpaid dates: the same
    page = text(client.get(f"/bookings/{second.id}/cancel").get_data(as_text=True))
    assert "取り消す範囲" in page and "この日（" in page
    assert f"この日と、それ以降の{len(later)}日（計{len(later) + 1}日）" in page
    assert "それ以降の日もすべて取り消しても、取消料はかかりません" in page  # nothing paid yet
    world.member.language = "en"
    db.session.commit()
    en = text(client.get(f"/bookings/{second.id}/cancel").get_data(as_text=True))
    assert "What to cancel" in en and f"This date and the {len(later)} later date{'s' if len(later) != 1 else ''} ({len(later) + 1} dates)" in en
    world.member.language = "ja"
    db.session.commit()
    r = client.post(f"/bookings/{second.id}/cancel", data={"scope": "following", "reason": "活動休止"})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Booking, first.id).status == "confirmed"  # earlier: left alone
    assert {db.session.get(Booking, b.id).status for b in (second, *later)} == {"cancelled"}
    page = text(client.get(r.headers["Location"]).get_data(as_text=True))
    assert f"{len(later) + 1}件の予約を取り消しました" in page
    # the first date now has nothing later open: no choice, and "this" is what it does
    page = text(client.get(f"/bookings/{first.id}/cancel").get_data(as_text=True))
    assert "取り消す範囲" not in page and "取り消すのはこの日の予約だけです" in page
    assert client.post(f"/bookings/{first.id}/cancel", data={"scope": "following"}).status_code == 302
    db.session.expire_all()
    first = db.session.get(Booking, first.id)
    assert first.status == "cancelled" and first.cancellation_fee == fee


def test_cancel_this_date_only_leaves_the_rest_of_the_series(client, world):
    first, second, third = book(world.small, world.group, date(2026, 12, 9), "morning", actor=world.member,
                                recurrence=RecurrenceSpec("weekly", count=3))
    login(client, world.member)
    assert client.post(f"/bookings/{first.id}/cancel", data={"scope": "this"}).status_code == 302
    bad = client.post(f"/bookings/{second.id}/cancel", data={"scope": "everything"})
    assert bad.status_code == 422  # not a choice: nothing cancelled, the form again
    db.session.expire_all()
    assert [db.session.get(Booking, b.id).status for b in (first, second, third)] == [
        "cancelled", "provisional", "provisional"]


def test_other_groups_booking_is_404_staff_may_view(client, world):
    b = book(world.large, world.other_group, date(2026, 12, 8), "evening", actor=world.stranger)[0]
    login(client, world.member)
    assert client.get(f"/bookings/{b.id}").status_code == 404
    assert client.get(f"/bookings/{b.id}/cancel").status_code == 404
    assert client.post(f"/bookings/{b.id}/cancel", data={}).status_code == 404
    assert client.get("/bookings/99999").status_code == 404
    assert db.session.get(Booking, b.id).status == "provisional"
    staff_client = client.application.test_client()
    login(staff_client, world.staff)
    assert staff_client.get(f"/bookings/{b.id}").status_code == 200


def test_anonymous_booking_page_needs_login(client, world):
    b = book(world.large, world.other_group, date(2026, 12, 8), "evening", actor=world.stranger)[0]
    r = client.get(f"/bookings/{b.id}")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_my_bookings_upcoming_past_series_and_filters(client, world):
    book(world.large, world.group, date(2026, 12, 8), "evening", actor=world.member, purpose="単発の会")
    book(world.small, world.group, date(2026, 12, 9), "morning", actor=world.member, purpose="毎週の会",
         recurrence=RecurrenceSpec("weekly", count=3))
    book(world.large, world.applied, date(2026, 12, 10), "afternoon", actor=world.member, purpose="準備会の集まり")
    book(world.large, world.other_group, date(2026, 12, 11), "evening", actor=world.stranger, purpose="よその会")
    past = book(world.large, world.group, date(2026, 12, 2), "evening", actor=world.member, purpose="昔の会")[0]
    past.start_at -= timedelta(days=7)  # move into the past without the rules (history)
    past.end_at -= timedelta(days=7)
    db.session.commit()
    login(client, world.member)
    html = client.get("/my/bookings").get_data(as_text=True)
    page = text(html)
    upcoming, past_part = page.split("過去の予約", 1)
    assert "単発の会" in upcoming and "準備会の集まり" in upcoming and "昔の会" in past_part
    assert "よその会" not in page
    # the series is one entry with its rule and three dates
    assert "繰り返し: 毎週水曜日（3回）" in page
    assert page.count("毎週の会") == 1
    # filter by group and by status
    page = text(client.get(f"/my/bookings?group={world.applied.id}").get_data(as_text=True))
    assert "準備会の集まり" in page and "単発の会" not in page
    b = db.session.query(Booking).filter_by(purpose="単発の会").one()
    svc.cancel(db.session(), b, actor=world.member, now=NOW)
    db.session.commit()
    page = text(client.get("/my/bookings?status=cancelled").get_data(as_text=True))
    assert "単発の会" in page and "準備会の集まり" not in page
    assert "使用料" not in page and "880円" not in page  # cancelled unpaid: no fee to read as owed


def test_csrf_is_required_on_booking_and_cancel(csrf_app):
    from tests.factories import make_facility, make_group, make_room, make_user

    f = make_facility()
    room = make_room(f)
    user = make_user()
    group = make_group(user)
    db.session.commit()
    client = csrf_app.test_client()
    with client.session_transaction() as s:
        s["_user_id"] = user.get_id()
        s["_fresh"] = True
    r = client.post("/book", data={"room": room.id, "date": "2026-12-08", "slot": "evening", "group": group.id,
                                   "purpose": "x", "attendees": "3", "repeat": "none", "submit": "1"})
    assert r.status_code in (400, 422)
    assert db.session.query(Booking).count() == 0
    # with the token from the page it works
    html = client.get(f"/book?room={room.id}&date=2026-12-08&slot=evening").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', html)
    assert token
    tok = token.group(1) or token.group(2)
    r = client.post("/book", data={"csrf_token": tok, "room": room.id, "date": "2026-12-08", "slot": "evening",
                                   "group": group.id, "purpose": "x", "attendees": "3", "repeat": "none",
                                   "submit": "1"})
    assert r.status_code == 302
    b = db.session.query(Booking).one()
    r = client.post(f"/bookings/{b.id}/cancel", data={})
    assert r.status_code in (400, 422)
    db.session.expire_all()
    assert db.session.get(Booking, b.id).status != "cancelled"
