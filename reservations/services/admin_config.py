"""Administration: facilities, rooms and staff accounts, with validation that refuses contradictions.

The stored JSON shapes are the ones ``services.mapping`` reads; a room's settings are validated by
building the same domain objects (``mapping.slot_scheme``, ``mapping.fee_table``,
``FixedSlots.validate``) the booking rules use, so what the admin saves is what the rules can read.
Refused: a slot outside opening hours, overlapping or non-consecutive slots, fees for unknown
slots, a part in another facility, a part that would make a loop (a room containing itself).
Only admins may call these; every change writes an audit event.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..database import write_transaction
from ..domain.errors import DomainError, RuleFailure
from ..domain.slots import FixedSlots, FreeTime
from ..domain.windows import GROUP_CLASSES
from ..models import Facility, Room, User, room_parts
from ..passwords import hash_password
from . import accounts, audit
from .accounts import check_email, normalize_email
from .mapping import fee_table, slot_scheme
from .permissions import require_admin

CLAIM_MODES = ("if_fee", "always", "never")
ON_EXPIRY = ("release", "confirm")
EXTRA_PER = ("booking", "hour", "slot")


def _fail(code: str, ja: str, en: str, fld: str | None = None) -> RuleFailure:
    return RuleFailure(code, ja, en, field=fld)


# --- facilities --------------------------------------------------------------------------------


@dataclass
class FacilityData:
    code: str
    name_ja: str
    name_en: str
    address_ja: str = ""
    address_en: str = ""
    phone: str = ""
    timezone: str = "Asia/Tokyo"
    hours: dict[int, tuple[time, time] | None] = field(default_factory=dict)  # weekday -> (open, close)
    closed_weekdays: list[int] = field(default_factory=list)
    closed_on_holidays: bool = False
    new_year_break: bool = True
    description_ja: str = ""
    description_en: str = ""
    sort_order: int = 0

    def opening_hours(self) -> dict[str, list[str]]:
        return {str(d): [o.strftime("%H:%M"), c.strftime("%H:%M")]
                for d, v in sorted(self.hours.items()) if v is not None for o, c in [v]}

    @classmethod
    def of(cls, f: Facility) -> FacilityData:
        hours: dict[int, tuple[time, time] | None] = {
            int(k): (time.fromisoformat(v[0]), time.fromisoformat(v[1])) for k, v in (f.opening_hours or {}).items() if v}
        return cls(f.code, f.name_ja, f.name_en, f.address_ja, f.address_en, f.phone, f.timezone, hours,
                   list(f.closed_weekdays or []), f.closed_on_holidays, f.new_year_break, f.description_ja,
                   f.description_en, f.sort_order)


def _open_hours(hours: dict[int, tuple[time, time] | None]) -> dict[int, tuple[time, time]]:
    return {d: v for d, v in hours.items() if v is not None}


def validate_facility(session: Session, data: FacilityData, facility: Facility | None = None) -> list[RuleFailure]:
    out: list[RuleFailure] = []
    data.code = data.code.strip()
    if not data.code or len(data.code) > 40 or not data.code.replace("-", "").replace("_", "").isalnum():
        out.append(_fail("code_invalid", "コードは英数字・ハイフン・下線で40文字以内にしてください。",
                         "The code must be letters, digits, - or _, at most 40.", "code"))
    else:
        clash = session.scalar(select(Facility.id).where(Facility.code == data.code))
        if clash is not None and (facility is None or clash != facility.id):
            out.append(_fail("code_taken", "このコードは既に使われています。", "That code is already used.", "code"))
    if not data.name_ja.strip():
        out.append(_fail("name_ja_required", "名称（日本語）を入力してください。", "Enter the Japanese name.", "name_ja"))
    if not data.name_en.strip():
        out.append(_fail("name_en_required", "名称（英語）を入力してください。", "Enter the English name.", "name_en"))
    try:
        ZoneInfo(data.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        out.append(_fail("timezone_invalid", "タイムゾーンが正しくありません。", "Unknown time zone.", "timezone"))
    for d, v in _open_hours(data.hours).items():
        if not 0 <= d <= 6:
            out.append(_fail("weekday_invalid", "曜日が正しくありません。", "Invalid weekday.", "hours"))
        elif v[1] <= v[0]:
            out.append(_fail("hours_inverted", "閉館時刻は開館時刻より後にしてください。",
                             "Closing time must be after opening time.", f"hours_{d}"))
    if any(not 0 <= d <= 6 for d in data.closed_weekdays):
        out.append(_fail("weekday_invalid", "曜日が正しくありません。", "Invalid weekday.", "closed_weekdays"))
    out += _sort_order_failures(data.sort_order)
    if not _open_hours(data.hours):
        out.append(_fail("no_hours", "少なくとも1つの曜日に開館時間を入力してください。",
                         "Give opening hours for at least one weekday.", "hours"))
    if facility is not None:  # the rooms' slots must still fit the new hours
        for room in facility.rooms:
            for problem in _slots_outside_hours(room.slot_scheme, data.hours):
                out.append(_fail("room_slot_outside_hours", f"{room.name_ja}: {problem[0]}",
                                 f"{room.name_en}: {problem[1]}", "hours"))
    return out


def save_facility(session: Session, data: FacilityData, *, actor: User, now: datetime,
                  facility: Facility | None = None) -> Facility:
    require_admin(actor)
    failures = validate_facility(session, data, facility)
    if failures:
        raise DomainError(failures)
    with write_transaction(session):
        before = _facility_snapshot(facility) if facility is not None else None
        if facility is None:
            facility = Facility(code=data.code, name_ja="", name_en="")
            session.add(facility)
        facility.code = data.code
        facility.name_ja, facility.name_en = data.name_ja.strip(), data.name_en.strip()
        facility.address_ja, facility.address_en = data.address_ja.strip(), data.address_en.strip()
        facility.phone, facility.timezone = data.phone.strip(), data.timezone
        facility.opening_hours = data.opening_hours()
        facility.closed_weekdays = sorted(set(data.closed_weekdays))
        facility.closed_on_holidays, facility.new_year_break = data.closed_on_holidays, data.new_year_break
        facility.description_ja, facility.description_en = data.description_ja, data.description_en
        facility.sort_order = data.sort_order
        facility.updated_at = now  # feeds name it and show its address: their validators read this
        session.flush()
        audit.record(session, "admin.facility_created" if before is None else "admin.facility_updated", now=now,
                     actor=actor, facility_id=facility.id, before=before, after=_facility_snapshot(facility))
        session.flush()
    return facility


def _facility_snapshot(f: Facility) -> dict[str, Any]:
    return {"code": f.code, "name_ja": f.name_ja, "opening_hours": f.opening_hours,
            "closed_weekdays": f.closed_weekdays, "closed_on_holidays": f.closed_on_holidays,
            "new_year_break": f.new_year_break}


# --- rooms -------------------------------------------------------------------------------------


@dataclass
class RoomData:
    code: str
    name_ja: str
    name_en: str
    capacity: int
    slot_scheme: dict[str, Any]
    fee_table: dict[str, Any] = field(default_factory=dict)
    windows: dict[str, Any] = field(default_factory=dict)
    claim_policy: dict[str, Any] = field(default_factory=dict)
    cancellation_tiers: list[list[int]] | None = None
    floor_area: float | None = None
    equipment: list[str] = field(default_factory=list)
    requires_approval: bool = False
    min_lead_minutes: int = 0
    checkin_required: bool = False
    checkin_grace_minutes: int = 30
    buffer_minutes: int = 0
    description_ja: str = ""
    description_en: str = ""
    sort_order: int = 0
    active: bool = True
    part_ids: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, r: Room) -> RoomData:
        return cls(r.code, r.name_ja, r.name_en, r.capacity, dict(r.slot_scheme or {}), dict(r.fee_table or {}),
                   dict(r.windows or {}), dict(r.claim_policy or {}),
                   [list(t) for t in r.cancellation_tiers] if r.cancellation_tiers is not None else None,
                   r.floor_area, list(r.equipment or []), r.requires_approval, r.min_lead_minutes,
                   r.checkin_required, r.checkin_grace_minutes, r.buffer_minutes, r.description_ja,
                   r.description_en, r.sort_order, r.active, [p.id for p in r.parts])


def _slots_outside_hours(scheme_data: dict[str, Any], hours: dict[int, tuple[time, time] | None]) -> list[tuple[str, str]]:
    try:
        scheme = slot_scheme(scheme_data)
    except (KeyError, TypeError, ValueError):
        return []
    if not isinstance(scheme, FixedSlots):
        return []
    out = []
    for _d, (o, c) in sorted(_open_hours(hours).items()):
        if c <= o:
            continue  # refused on its own as inverted hours
        for s in scheme.slots:
            if s.start < o or s.end > c:
                out.append((f"時間区分「{s.name_ja}」（{s.start:%H:%M}〜{s.end:%H:%M}）が開館時間（{o:%H:%M}〜{c:%H:%M}）の外です。",
                            f"Slot {s.name_en} ({s.start:%H:%M}–{s.end:%H:%M}) is outside opening hours "
                            f"({o:%H:%M}–{c:%H:%M})."))
        if out:
            break
    return out


def _int_ok(value: Any, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


MAX_FEE = 10_000_000  # yen, for any fee or extra: far above a room's, well inside every integer column
MAX_SORT_ORDER = 999_999


def _sort_order_failures(value: Any) -> list[RuleFailure]:
    if _int_ok(value, -MAX_SORT_ORDER, MAX_SORT_ORDER):
        return []
    return [_fail("sort_order_invalid", "表示順は-999999〜999999の整数にしてください。",
                  "The display order must be a whole number from -999999 to 999999.", "sort_order")]


def _check_scheme(data: RoomData, facility: Facility) -> list[RuleFailure]:
    f = "slot_scheme"
    try:
        scheme = slot_scheme(data.slot_scheme)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [_fail("scheme_invalid", f"時間区分の形式が正しくありません（{exc}）。",
                      f"The slot scheme is malformed ({exc}).", f)]
    if data.slot_scheme.get("kind") not in ("slots", "free"):
        return [_fail("scheme_kind", "時間区分の種類は slots か free です。", "The scheme kind is slots or free.", f)]
    out = [_fail("scheme_contradiction", f"時間区分に矛盾があります: {p}", f"The slot scheme contradicts itself: {p}", f)
           for p in scheme.validate()]
    if isinstance(scheme, FixedSlots) and not scheme.slots:
        out.append(_fail("scheme_empty", "時間区分を1つ以上定義してください。", "Define at least one slot.", f))
    if isinstance(scheme, FreeTime) and scheme.max_minutes > 14 * 60:
        out.append(_fail("scheme_too_long", "最長は14時間までです。", "The longest booking is 14 hours.", f))
    hours = FacilityData.of(facility).hours
    out += [_fail("slot_outside_hours", ja, en, f) for ja, en in _slots_outside_hours(data.slot_scheme, hours)]
    return out


def _check_fees(data: RoomData) -> list[RuleFailure]:
    f = "fee_table"
    t = data.fee_table
    try:
        table = fee_table(t)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [_fail("fees_invalid", f"料金表の形式が正しくありません（{exc}）。", f"The fee table is malformed ({exc}).", f)]
    out = []
    try:
        scheme = slot_scheme(data.slot_scheme)
    except (KeyError, TypeError, ValueError, AttributeError):
        scheme = None
    if isinstance(scheme, FixedSlots):
        codes = {s.code for s in scheme.slots} | {j.code for j in scheme.joined}
        unknown = sorted(set(table.per_slot) - codes)
        if unknown:
            out.append(_fail("fee_unknown_slot", f"料金表に存在しない時間区分があります: {', '.join(unknown)}",
                             f"Fees name slots that do not exist: {', '.join(unknown)}", f))
    if not all(_int_ok(v, 0, MAX_FEE) for v in table.per_slot.values()) \
            or (table.per_hour is not None and not _int_ok(table.per_hour, 0, MAX_FEE)):
        out.append(_fail("fee_negative", "料金は0〜1,000万円の整数にしてください。",
                         "Fees must be whole yen from 0 to 10,000,000.", f))
    codes_seen: set[str] = set()
    for e in table.extras:
        if e.code in codes_seen or not _int_ok(e.price, 0, MAX_FEE) or e.per not in EXTRA_PER:
            out.append(_fail("extra_invalid", f"付帯設備「{e.code}」の設定が正しくありません（重複・負の金額・単位）。",
                             f"Extra {e.code} is invalid (duplicate, negative price or unit).", f))
        codes_seen.add(e.code)
    ex_seen: set[str] = set()
    exemptions = t.get("exemptions", []) or []
    if not isinstance(exemptions, list):
        return [*out, _fail("exemption_invalid", "減免区分は一覧（[...]）で書いてください。",
                            "Exemptions must be a list ([...]).", f)]
    for e in exemptions:
        code, pct = e.get("code") if isinstance(e, dict) else None, e.get("percent") if isinstance(e, dict) else None
        if not code or code in ex_seen or not _int_ok(pct, 0, 100) or not e.get("name_ja"):
            out.append(_fail("exemption_invalid", "減免区分にはコード・名称・0〜100の割合が必要です（重複不可）。",
                             "Each exemption needs a unique code, a name and a percent from 0 to 100.", f))
        ex_seen.add(str(code))
    return out


def _check_rules(data: RoomData) -> list[RuleFailure]:
    out = []
    for cls, w in (data.windows or {}).items():
        if cls not in GROUP_CLASSES or not isinstance(w, dict) or not _int_ok(w.get("months_ahead"), 0, 24):
            out.append(_fail("window_invalid", f"受付期間「{cls}」の設定が正しくありません（0〜24か月）。",
                             f"Booking window {cls} is invalid (0–24 months).", "windows"))
    cp = data.claim_policy or {}
    if cp.get("mode", "if_fee") not in CLAIM_MODES or cp.get("on_expiry", "release") not in ON_EXPIRY \
            or not _int_ok(cp.get("days_after_booking", 7), 0, 365) or not _int_ok(cp.get("days_before_use", 3), 0, 365):
        out.append(_fail("claim_invalid", "仮予約の期限の設定が正しくありません。", "The claim policy is invalid.",
                          "claim_policy"))
    if data.cancellation_tiers is not None:
        tiers = data.cancellation_tiers
        if not isinstance(tiers, list) or not all(
                isinstance(t, list) and len(t) == 2 and _int_ok(t[0], 0, 365) and _int_ok(t[1], 0, 100) for t in tiers):
            out.append(_fail("tiers_invalid", "取消料は [[日数, 割合], ...] の形で入力してください。",
                              "Cancellation tiers are [[days, percent], ...].", "cancellation_tiers"))
    if not _int_ok(data.capacity, 1, 100000):
        out.append(_fail("capacity_invalid", "定員は1以上にしてください。", "Capacity must be 1 or more.", "capacity"))
    if not _int_ok(data.checkin_grace_minutes, 0, 600):
        out.append(_fail("grace_invalid", "受付の猶予は0〜600分です。", "Check-in grace is 0–600 minutes.",
                          "checkin_grace_minutes"))
    if not _int_ok(data.buffer_minutes, 0, 240):
        out.append(_fail("buffer_invalid", "前後の間隔は0〜240分です。", "The buffer is 0–240 minutes.", "buffer_minutes"))
    if not _int_ok(data.min_lead_minutes, 0, 60 * 24 * 60):
        out.append(_fail("lead_invalid", "締切時間が正しくありません。", "Invalid lead time.", "min_lead_minutes"))
    return out


def _check_parts(session: Session, data: RoomData, facility: Facility, room: Room | None) -> list[RuleFailure]:
    out: list[RuleFailure] = []
    if not data.part_ids:
        return out
    parts = {r.id: r for r in session.scalars(select(Room).where(Room.id.in_(data.part_ids)))}
    if len(parts) != len(set(data.part_ids)) or any(p.facility_id != facility.id for p in parts.values()):
        out.append(_fail("part_elsewhere", "分割部分は同じ施設の部屋から選んでください。",
                         "Parts must be rooms of the same facility.", "part_ids"))
        return out
    if room is None:
        return out  # a new room cannot be inside anything yet
    if room.id in parts:
        out.append(_fail("part_loop", "部屋を自分自身の分割部分にはできません。", "A room cannot be a part of itself.",
                         "part_ids"))
        return out
    graph: dict[int, set[int]] = {}
    for whole, part in session.execute(select(room_parts.c.whole_id, room_parts.c.part_id)).all():
        graph.setdefault(whole, set()).add(part)
    graph[room.id] = set(data.part_ids)
    seen: set[int] = set()
    stack = list(data.part_ids)
    while stack:
        node = stack.pop()
        if node == room.id:
            out.append(_fail("part_loop", "分割部分の設定が循環しています（部屋が自分自身を含むことになります）。",
                             "These parts would make a loop (the room would contain itself).", "part_ids"))
            break
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, ()))
    return out


def validate_room(session: Session, data: RoomData, facility: Facility, room: Room | None = None) -> list[RuleFailure]:
    out: list[RuleFailure] = []
    data.code = data.code.strip()
    if not data.code or len(data.code) > 40:
        out.append(_fail("code_invalid", "コードを40文字以内で入力してください。", "Enter a code of at most 40 characters.",
                         "code"))
    else:
        clash = session.scalar(select(Room.id).where(Room.facility_id == facility.id, Room.code == data.code))
        if clash is not None and (room is None or clash != room.id):
            out.append(_fail("code_taken", "この施設で既に使われているコードです。", "That code is already used here.",
                             "code"))
    if not data.name_ja.strip() or not data.name_en.strip():
        out.append(_fail("names_required", "名称を日本語と英語で入力してください。", "Enter the name in both languages.",
                         "name_ja"))
    return out + _sort_order_failures(data.sort_order) + _check_scheme(data, facility) + _check_fees(data) + \
        _check_rules(data) + _check_parts(session, data, facility, room)


def save_room(session: Session, facility: Facility, data: RoomData, *, actor: User, now: datetime,
              room: Room | None = None) -> Room:
    require_admin(actor)
    if room is not None and room.facility_id != facility.id:
        raise DomainError(_fail("room_elsewhere", "この施設の部屋ではありません。", "Not a room of this facility."))
    failures = validate_room(session, data, facility, room)
    if failures:
        raise DomainError(failures)
    with write_transaction(session):
        before = RoomData.of(room).__dict__ if room is not None else None
        if room is None:
            room = Room(facility=facility, code=data.code, name_ja="", name_en="", capacity=1, slot_scheme={})
            session.add(room)
        for name in ("code", "name_ja", "name_en", "capacity", "floor_area", "equipment", "slot_scheme", "fee_table",
                     "windows", "claim_policy", "cancellation_tiers", "requires_approval", "min_lead_minutes",
                     "checkin_required", "checkin_grace_minutes", "buffer_minutes", "description_ja",
                     "description_en", "sort_order", "active"):
            setattr(room, name, getattr(data, name))
        room.parts = list(session.scalars(select(Room).where(Room.id.in_(data.part_ids)))) if data.part_ids else []
        room.updated_at = now  # as a facility's
        if set(data.part_ids) != set(before["part_ids"] if before is not None else ()):
            # which rooms share a part changed: a room feed shows the bookings of every room sharing
            # one of its parts, so each room of the facility (parts never cross facilities) is stamped,
            # and a feed that drops a whole room's bookings still gets a newer Last-Modified
            for other in facility.rooms:
                other.updated_at = now
        session.flush()
        after = RoomData.of(room).__dict__
        audit.record(session, "admin.room_created" if before is None else "admin.room_updated", now=now, actor=actor,
                     facility_id=facility.id, before=before, after=after)
        session.flush()
        session.expire(facility, ["rooms"])
    return room


# --- staff accounts ----------------------------------------------------------------------------


def staff_users(session: Session, actor: User) -> list[User]:
    require_admin(actor)
    return list(session.scalars(select(User).where(User.role.in_(("staff", "admin"))).order_by(User.email)))


def _facilities(session: Session, ids: list[int]) -> list[Facility]:
    rows = list(session.scalars(select(Facility).where(Facility.id.in_(ids)))) if ids else []
    if len(rows) != len(set(ids)):
        raise DomainError(_fail("facility_unknown", "施設が見つかりません。", "Facility not found.", "facility_ids"))
    return rows


def invite_staff(session: Session, *, actor: User, now: datetime, email: str, display_name: str,
                 facility_ids: list[int], role: str = "staff") -> tuple[User, str]:
    """A staff (or admin) account with a random temporary password, returned once to show the admin.
    The new staff member changes it after logging in."""
    require_admin(actor)
    email = normalize_email(email)
    failures = check_email(email)
    if not display_name.strip():
        failures.append(_fail("name_required", "氏名を入力してください。", "Enter the name.", "display_name"))
    if role not in ("staff", "admin"):
        failures.append(_fail("role_invalid", "役割が正しくありません。", "Invalid role.", "role"))
    if accounts.find_by_email(session, email) is not None:
        failures.append(accounts.EMAIL_TAKEN)
    if failures:
        raise DomainError(failures)
    password = secrets.token_urlsafe(12)
    with write_transaction(session):
        user = User(email=email, display_name=display_name.strip(), password_hash=hash_password(password),
                    language="ja", role=role, active=True, created_at=now)
        user.facilities = _facilities(session, facility_ids)
        accounts.add_account(session, user)
        audit.record(session, "admin.staff_invited", now=now, actor=actor,
                     after={"user_id": user.id, "role": role, "facilities": sorted(facility_ids)})
        session.flush()
    return user, password


def assign_facilities(session: Session, user: User, facility_ids: list[int], *, actor: User, now: datetime) -> User:
    require_admin(actor)
    with write_transaction(session):
        before = sorted(f.id for f in user.facilities)
        user.facilities = _facilities(session, facility_ids)
        session.flush()
        audit.record(session, "admin.staff_facilities", now=now, actor=actor,
                     before={"user_id": user.id, "facilities": before},
                     after={"user_id": user.id, "facilities": sorted(facility_ids)})
        session.flush()
    return user


def set_active(session: Session, user: User, active: bool, *, actor: User, now: datetime) -> User:
    """Deactivate (or reactivate) an account; sessions end because the user loader refuses inactive
    users. An admin cannot deactivate themself."""
    require_admin(actor)
    if user.id == actor.id and not active:
        raise DomainError(_fail("self_deactivate", "自分自身は無効にできません。", "You cannot deactivate yourself."))
    with write_transaction(session, user):  # a token being made for the account waits (accounts.hold_account)
        user.active = active
        user.session_version += 1
        session.flush()
        after: dict[str, Any] = {"user_id": user.id, "active": active}
        if not active:  # reactivating must not bring back the tokens and links it had
            after["credentials_revoked"] = accounts.revoke_credentials(session, user, now)
        audit.record(session, "admin.user_activated" if active else "admin.user_deactivated", now=now, actor=actor,
                     after=after)
        session.flush()
    return user
