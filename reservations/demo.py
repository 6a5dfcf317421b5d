"""Demo data (サンプルデータ): Naya Plaza, two district civic centers, groups, users, bookings.

Every row is marked ``is_sample`` where the model has the flag. Bookings are
made through the booking service "as of" earlier instants (the clock is
injected), so the demo exercises the same rules as real use.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .database import write_transaction
from .domain.calendar import local, local_day
from .models import Facility, Group, Membership, Room, User
from .passwords import hash_password
from .services import bookings as svc
from .services.mapping import facility_calendar

DEMO_PASSWORD = "naya-demo"  # noqa: S105  (documented demo credential)

DISTRICT_SLOTS = {
    "kind": "slots",
    "slots": [
        {"code": "morning", "name_ja": "午前", "name_en": "Morning", "start": "08:30", "end": "12:00"},
        {"code": "afternoon", "name_ja": "午後", "name_en": "Afternoon", "start": "13:00", "end": "17:00"},
        {"code": "evening", "name_ja": "夜間", "name_en": "Evening", "start": "17:30", "end": "21:00"},
    ],
    "joined": [
        {"code": "morning_afternoon", "name_ja": "午前・午後", "name_en": "Morning + afternoon",
         "parts": ["morning", "afternoon"]},
        {"code": "afternoon_evening", "name_ja": "午後・夜間", "name_en": "Afternoon + evening",
         "parts": ["afternoon", "evening"]},
        {"code": "full_day", "name_ja": "全日", "name_en": "Full day", "parts": ["morning", "afternoon", "evening"]},
    ],
}
NAYA_SLOTS = {
    "kind": "slots",
    "slots": [
        {"code": "morning", "name_ja": "午前", "name_en": "Morning", "start": "09:00", "end": "12:00"},
        {"code": "afternoon", "name_ja": "午後", "name_en": "Afternoon", "start": "13:00", "end": "17:00"},
        {"code": "evening", "name_ja": "夜間", "name_en": "Evening", "start": "18:00", "end": "21:30"},
    ],
    "joined": [
        {"code": "morning_afternoon", "name_ja": "午前・午後", "name_en": "Morning + afternoon",
         "parts": ["morning", "afternoon"]},
        {"code": "afternoon_evening", "name_ja": "午後・夜間", "name_en": "Afternoon + evening",
         "parts": ["afternoon", "evening"]},
        {"code": "full_day", "name_ja": "全日", "name_en": "Full day", "parts": ["morning", "afternoon", "evening"]},
    ],
}
HOURLY = {"kind": "free", "granularity": 30, "min_minutes": 60, "max_minutes": 480}
EXEMPTIONS = [
    {"code": "civic_50", "name_ja": "登録市民活動団体", "name_en": "Registered civic group", "percent": 50},
    {"code": "public_100", "name_ja": "公益目的の活動", "name_en": "Public-interest activity", "percent": 100},
]
AIRCON = {"code": "aircon", "name_ja": "冷暖房", "name_en": "Air conditioning", "price": 220, "per": "slot"}
COOKING = {"code": "cooking", "name_ja": "調理設備", "name_en": "Cooking equipment", "price": 220, "per": "booking"}
PROJECTOR = {"code": "projector", "name_ja": "プロジェクター", "name_en": "Projector", "price": 500, "per": "booking"}


def _slot_fees(base: int) -> dict[str, int]:
    return {"morning": base, "afternoon": base, "evening": base, "morning_afternoon": base * 2,
            "afternoon_evening": base * 2, "full_day": base * 3}


def _hours(open_: str, close: str, closed: tuple[int, ...] = ()) -> dict[str, list[str]]:
    return {str(d): [open_, close] for d in range(7) if d not in closed}


FACILITIES: list[dict[str, Any]] = [
    {
        "code": "naya", "name_ja": "なやプラザ", "name_en": "Naya Plaza",
        "address_ja": "三重県四日市市蔵町4番17号", "address_en": "4-17 Kuramachi, Yokkaichi, Mie",
        "phone": "059-000-0000", "opening_hours": _hours("09:00", "21:30", (0,)), "closed_weekdays": [0],
        "closed_on_holidays": False,
        "description_ja": "市民活動センターとなや学習センター。月曜休館（サンプル）。",
        "description_en": "Civic Activity Center and Naya Lifelong Learning Center. Closed Mondays (sample).",
        "rooms": [
            {"code": "mtg1", "name_ja": "市民活動センター 会議室1", "name_en": "Civic Center Meeting Room 1",
             "capacity": 12, "floor_area": 30, "equipment": ["whiteboard", "wifi"], "slot_scheme": HOURLY,
             "fee_table": {"per_hour": 300, "extras": [PROJECTOR], "exemptions": EXEMPTIONS}},
            {"code": "mtg2", "name_ja": "市民活動センター 会議室2", "name_en": "Civic Center Meeting Room 2",
             "capacity": 24, "floor_area": 48, "equipment": ["whiteboard", "projector", "wifi"],
             "slot_scheme": HOURLY, "fee_table": {"per_hour": 500, "extras": [PROJECTOR], "exemptions": EXEMPTIONS}},
            {"code": "salon", "name_ja": "ふらっとサロン", "name_en": "Flat Salon", "capacity": 10,
             "floor_area": 20, "equipment": ["wifi"], "slot_scheme": HOURLY,
             "fee_table": {"per_hour": 0}, "claim_policy": {"mode": "never"}},
            {"code": "washitsu", "name_ja": "なや学習センター 和室", "name_en": "Learning Center Japanese-style Room",
             "capacity": 20, "floor_area": 40, "equipment": ["tatami", "low tables"], "slot_scheme": NAYA_SLOTS,
             "fee_table": {"per_slot": _slot_fees(660), "extras": [AIRCON], "exemptions": EXEMPTIONS}},
            {"code": "hall", "name_ja": "なや学習センター 多目的ホール", "name_en": "Learning Center Multipurpose Hall",
             "capacity": 120, "floor_area": 240, "equipment": ["projector", "microphone", "stage"],
             "slot_scheme": NAYA_SLOTS, "requires_approval": True, "checkin_required": True,
             "fee_table": {"per_slot": _slot_fees(2640), "extras": [AIRCON, PROJECTOR], "exemptions": EXEMPTIONS},
             "windows": {"registered": {"months_ahead": 6}, "general": {"months_ahead": 2}},
             "parts": ["hall_a", "hall_b"]},
            {"code": "hall_a", "name_ja": "多目的ホール A", "name_en": "Multipurpose Hall A", "capacity": 60,
             "floor_area": 120, "equipment": ["microphone"], "slot_scheme": NAYA_SLOTS, "checkin_required": True,
             "fee_table": {"per_slot": _slot_fees(1320), "extras": [AIRCON], "exemptions": EXEMPTIONS}},
            {"code": "hall_b", "name_ja": "多目的ホール B", "name_en": "Multipurpose Hall B", "capacity": 60,
             "floor_area": 120, "equipment": ["microphone"], "slot_scheme": NAYA_SLOTS, "checkin_required": True,
             "fee_table": {"per_slot": _slot_fees(1320), "extras": [AIRCON], "exemptions": EXEMPTIONS}},
        ],
    },
    {
        "code": "chubu", "name_ja": "中部地区市民センター", "name_en": "Chubu District Civic Center",
        "address_ja": "三重県四日市市（サンプル住所）", "address_en": "Yokkaichi, Mie (sample address)",
        "phone": "059-000-0001", "opening_hours": _hours("08:30", "21:00"), "closed_weekdays": [],
        "closed_on_holidays": True,
        "rooms": [
            {"code": "large", "name_ja": "大会議室", "name_en": "Large Meeting Room", "capacity": 60,
             "floor_area": 100, "equipment": ["whiteboard", "projector"], "slot_scheme": DISTRICT_SLOTS,
             "fee_table": {"per_slot": _slot_fees(880), "extras": [AIRCON], "exemptions": EXEMPTIONS}},
            {"code": "washitsu", "name_ja": "和室", "name_en": "Japanese-style Room", "capacity": 20,
             "floor_area": 36, "equipment": ["tatami"], "slot_scheme": DISTRICT_SLOTS,
             "fee_table": {"per_slot": _slot_fees(660), "extras": [AIRCON], "exemptions": EXEMPTIONS}},
            {"code": "cooking", "name_ja": "調理室", "name_en": "Cooking Room", "capacity": 24,
             "floor_area": 60, "equipment": ["kitchen"], "slot_scheme": DISTRICT_SLOTS, "requires_approval": True,
             "fee_table": {"per_slot": _slot_fees(660), "extras": [COOKING, AIRCON], "exemptions": EXEMPTIONS}},
        ],
    },
    {
        "code": "tokiwa", "name_ja": "常磐地区市民センター", "name_en": "Tokiwa District Civic Center",
        "address_ja": "三重県四日市市（サンプル住所）", "address_en": "Yokkaichi, Mie (sample address)",
        "phone": "059-000-0002", "opening_hours": _hours("08:30", "21:00", (6,)), "closed_weekdays": [6],
        "closed_on_holidays": True,
        "rooms": [
            {"code": "small", "name_ja": "小会議室", "name_en": "Small Meeting Room", "capacity": 15,
             "floor_area": 30, "equipment": ["whiteboard"], "slot_scheme": DISTRICT_SLOTS,
             "fee_table": {"per_slot": _slot_fees(440), "exemptions": EXEMPTIONS}},
            {"code": "large", "name_ja": "大会議室", "name_en": "Large Meeting Room", "capacity": 50,
             "floor_area": 90, "equipment": ["whiteboard", "projector"], "slot_scheme": DISTRICT_SLOTS,
             "fee_table": {"per_slot": _slot_fees(880), "extras": [AIRCON], "exemptions": EXEMPTIONS}},
        ],
    },
]

GROUPS: list[dict[str, Any]] = [
    {"key": "A", "name": "四日市まちづくりネット（サンプル）", "kind": "npo", "status": "registered",
     "exemption_code": "civic_50", "representative_name": "山田 花子", "contact_email": "group-a@example.jp",
     "member_count": 18, "activity_field": "まちづくり", "public_name": True},
    {"key": "B", "name": "なや手話サークル（サンプル）", "kind": "circle", "status": "registered",
     "representative_name": "佐藤 太郎", "contact_email": "group-b@example.jp", "member_count": 12,
     "activity_field": "福祉"},
    {"key": "C", "name": "蔵町自治会（サンプル）", "kind": "neighbourhood", "status": "registered",
     "exemption_code": "public_100", "representative_name": "鈴木 一郎", "contact_email": "group-c@example.jp",
     "member_count": 120, "activity_field": "地域活動"},
    {"key": "D", "name": "子育てひろば準備会（サンプル）", "kind": "volunteer", "status": "applied",
     "representative_name": "高橋 美咲", "contact_email": "group-d@example.jp", "member_count": 6,
     "activity_field": "子育て支援"},
]

USERS: list[dict[str, Any]] = [
    {"email": "admin@example.jp", "display_name": "管理者（サンプル）", "role": "admin", "groups": []},
    {"email": "staff@example.jp", "display_name": "窓口職員（サンプル）", "role": "staff", "groups": [],
     "facilities": ["naya", "chubu"]},
    {"email": "member@example.jp", "display_name": "山田 花子（サンプル）", "role": "member",
     "groups": [("A", "representative"), ("C", "member"), ("D", "representative")]},
    {"email": "member2@example.jp", "display_name": "佐藤 太郎（サンプル）", "role": "member",
     "groups": [("B", "representative")]},
]


def seed(session: Session, *, now: datetime | None = None, progress: Callable[[str], Any] = print) -> bool:
    """Create the demo data unless it is already there. Returns whether anything was created."""
    if session.scalar(select(Facility.id).where(Facility.code == "naya")) is not None:
        return False
    now = now or datetime.now(UTC)
    with write_transaction(session):
        _seed(session, now, progress)
    return True


def _seed(session: Session, now: datetime, progress: Callable[[str], Any]) -> None:
    progress("facilities and rooms…")
    facilities: dict[str, Facility] = {}
    rooms: dict[str, Room] = {}
    for order, spec in enumerate(FACILITIES):
        data = {k: v for k, v in spec.items() if k != "rooms"}
        facility = Facility(**data, sort_order=order, is_sample=True)
        session.add(facility)
        facilities[spec["code"]] = facility
        for r_order, rspec in enumerate(spec["rooms"]):
            rdata = {k: v for k, v in rspec.items() if k != "parts"}
            rdata.setdefault("windows", {"registered": {"months_ahead": 3}, "general": {"months_ahead": 1}})
            rdata.setdefault("claim_policy", {"mode": "if_fee", "days_after_booking": 7, "days_before_use": 2})
            room = Room(facility=facility, sort_order=r_order, **rdata)
            session.add(room)
            rooms[f"{spec['code']}.{rspec['code']}"] = room
        for rspec in spec["rooms"]:
            for part in rspec.get("parts", []):
                rooms[f"{spec['code']}.{rspec['code']}"].parts.append(rooms[f"{spec['code']}.{part}"])
    session.flush()

    progress("groups and users…")
    groups: dict[str, Group] = {}
    for g in GROUPS:
        data = {k: v for k, v in g.items() if k != "key"}
        group = Group(**data, created_at=now, is_sample=True,
                      renewal_date=date(now.year + 1, 3, 31) if g["status"] == "registered" else None)
        session.add(group)
        groups[g["key"]] = group
    users: dict[str, User] = {}
    pw = hash_password(DEMO_PASSWORD)
    for u in USERS:
        user = User(email=u["email"], display_name=u["display_name"], role=u["role"], password_hash=pw,
                    language="ja", created_at=now)
        user.facilities = [facilities[c] for c in u.get("facilities", [])]
        session.add(user)
        for key, role in u["groups"]:
            session.add(Membership(user=user, group=groups[key], role=role))
        users[u["email"]] = user
    session.flush()

    progress("bookings in every status…")
    _demo_bookings(session, now, facilities, rooms, groups, users)
    session.flush()


def _open_day(facility: Facility, start: date, skip: int = 0) -> date:
    """The ``skip``-th open day of ``facility`` on or after ``start``."""
    cal = facility_calendar(facility)
    d = start
    while True:
        if cal.closed_reason(d) is None:
            if skip == 0:
                return d
            skip -= 1
        d += timedelta(days=1)


def _demo_bookings(session: Session, now: datetime, facilities: dict[str, Facility],
                   rooms: dict[str, Room], groups: dict[str, Group], users: dict[str, User]) -> None:
    staff = users["staff@example.jp"]
    member, member2 = users["member@example.jp"], users["member2@example.jp"]
    tz = "Asia/Tokyo"
    today = local_day(now, tz)
    override = frozenset({"window", "lead_time"})

    def book(room_key: str, group: str, day: date, *, slot: str | None = None, hours: tuple[str, str] | None = None,
             actor: User, as_of: datetime, purpose: str, attendees: int, extras: tuple[str, ...] = ()) -> Any:
        room = rooms[room_key]
        inp = svc.BookingInput(room_id=room.id, group_id=groups[group].id, purpose=purpose, attendees=attendees,
                               extras=list(extras))
        if slot:
            inp.day, inp.slot_code = day, slot
        else:
            assert hours is not None
            inp.start = local(day, time.fromisoformat(hours[0]), tz)
            inp.end = local(day, time.fromisoformat(hours[1]), tz)
        ov = override if actor.is_staff else frozenset()
        return svc.create_booking(session, inp, actor=actor, now=as_of, overrides=ov)[0]

    naya, chubu = facilities["naya"], facilities["chubu"]
    past = now - timedelta(days=21)
    # completed: booked three weeks ago, paid, checked in, used
    d = _open_day(naya, today - timedelta(days=14))
    b = book("naya.washitsu", "B", d, slot="afternoon", actor=member2, as_of=past, purpose="手話の練習会", attendees=10)
    svc.confirm(session, b, actor=staff, now=past + timedelta(days=1), method="cash", receipt="R-0001")
    svc.check_in(session, b, actor=staff, now=b.start_at - timedelta(minutes=5))
    svc.complete(session, b, now=b.end_at + timedelta(minutes=1))
    # no-show (hall part with check-in)
    d = _open_day(naya, today - timedelta(days=10))
    b = book("naya.hall_a", "A", d, slot="evening", actor=member, as_of=past, purpose="講演会の準備", attendees=20)
    svc.confirm(session, b, actor=staff, now=past + timedelta(days=1), method="exempt")
    svc.mark_no_show(session, b, actor=staff, now=b.start_at + timedelta(minutes=40))
    # released: provisional, nobody paid
    d = _open_day(chubu, today - timedelta(days=3))
    b = book("chubu.large", "B", d, slot="morning", actor=member2, as_of=past, purpose="定例会", attendees=15)
    svc.release(session, b, now=b.claim_deadline + timedelta(minutes=1) if b.claim_deadline else now)

    recent = now - timedelta(days=2)
    # confirmed today in the evening: staff can check the group in
    d = _open_day(naya, today)
    b = book("naya.mtg2", "A", d, hours=("18:00", "20:00"), actor=member, as_of=recent,
             purpose="まちづくり勉強会", attendees=16)
    if b.status == "provisional":
        svc.confirm(session, b, actor=staff, now=recent + timedelta(hours=1), method="cash", receipt="R-0002")
    # confirmed next week, weekly series of the circle (registered → 3 months ahead)
    from .domain.recurrence import RecurrenceSpec

    d = _open_day(chubu, today + timedelta(days=3))
    inp = svc.BookingInput(room_id=rooms["chubu.washitsu"].id, group_id=groups["B"].id, day=d, slot_code="evening",
                           purpose="手話サークル定例会", attendees=12,
                           recurrence=RecurrenceSpec("weekly", count=6), book_free_only=True)
    series = svc.create_booking(session, inp, actor=member2, now=recent)
    svc.confirm(session, series[0], actor=staff, now=recent + timedelta(hours=2), method="cash", receipt="R-0003")
    # pending approval: the hall, and the cooking room
    d = _open_day(naya, today + timedelta(days=10))
    book("naya.hall", "A", d, slot="afternoon", actor=member, as_of=recent, purpose="市民協働まつり 準備会",
         attendees=80, extras=("aircon",))
    d = _open_day(chubu, today + timedelta(days=8))
    book("chubu.cooking", "C", d, slot="morning", actor=member, as_of=recent, purpose="防災炊き出し訓練", attendees=20)
    # provisional with a normal deadline
    d = _open_day(chubu, today + timedelta(days=12))
    book("chubu.large", "A", d, slot="afternoon", actor=member, as_of=recent, purpose="総会", attendees=40)
    # provisional whose claim deadline passes a few minutes after start-up: the scheduler releases it
    d = _open_day(naya, today + timedelta(days=5))
    b = book("naya.washitsu", "B", d, slot="morning", actor=member2, as_of=now - timedelta(minutes=1),
             purpose="体験会（期限切れデモ）", attendees=8)
    b.claim_deadline = now + timedelta(minutes=3)
    # cancelled by the group
    d = _open_day(naya, today + timedelta(days=6))
    b = book("naya.mtg1", "A", d, hours=("10:00", "12:00"), actor=member, as_of=recent, purpose="打ち合わせ", attendees=5)
    svc.cancel(session, b, actor=member, now=recent + timedelta(hours=3), reason="日程変更のため")
    # free room: confirmed immediately
    d = _open_day(naya, today + timedelta(days=4))
    book("naya.salon", "C", d, hours=("14:00", "16:00"), actor=member, as_of=recent, purpose="自治会役員会", attendees=8)
