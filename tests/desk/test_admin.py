"""Administration: facility and room configuration with validation refusals, staff accounts, access."""

from __future__ import annotations

import json
from datetime import time

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from reservations.domain.errors import DomainError
from reservations.extensions import db
from reservations.models import AuditEvent, Facility, User
from reservations.passwords import check_password
from reservations.services import admin_config as asvc
from reservations.services.permissions import Forbidden
from tests.factories import NOW, SLOTS, make_room

from .conftest import Desk, login


def _codes(exc: pytest.ExceptionInfo[DomainError]) -> set[str]:
    return set(exc.value.codes)


def test_facility_validation_refuses_contradictions(desk: Desk) -> None:
    data = asvc.FacilityData.of(desk.facility)
    data.code = desk.other.code  # taken
    data.hours[2] = (time(21, 0), time(8, 30))  # inverted
    data.timezone = "Mars/Olympus"
    with pytest.raises(DomainError) as exc:
        asvc.save_facility(db.session, data, actor=desk.admin, now=NOW, facility=desk.facility)
    assert _codes(exc) == {"code_taken", "hours_inverted", "timezone_invalid"}
    # shortening the hours would leave the rooms' evening slot (to 21:00) outside them
    data = asvc.FacilityData.of(desk.facility)
    data.hours[0] = (time(8, 30), time(17, 0))
    with pytest.raises(DomainError) as exc:
        asvc.save_facility(db.session, data, actor=desk.admin, now=NOW, facility=desk.facility)
    assert _codes(exc) == {"room_slot_outside_hours"}
    with pytest.raises(Forbidden):
        asvc.save_facility(db.session, asvc.FacilityData.of(desk.facility), actor=desk.staff, now=NOW,
                           facility=desk.facility)


def test_facility_is_created_and_audited(desk: Desk) -> None:
    data = asvc.FacilityData("kita", "北地区市民センター", "Kita Center",
                             hours={d: (time(9, 0), time(21, 0)) for d in range(6)}, closed_weekdays=[6],
                             closed_on_holidays=True)
    f = asvc.save_facility(db.session, data, actor=desk.admin, now=NOW)
    db.session.commit()
    assert f.opening_hours["0"] == ["09:00", "21:00"] and "6" not in f.opening_hours and f.closed_weekdays == [6]
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.facility_id == f.id)) == "admin.facility_created"


def _room(**kw: object) -> asvc.RoomData:
    base = dict(code="new", name_ja="新室", name_en="New Room", capacity=10, slot_scheme=json.loads(json.dumps(SLOTS)),
                fee_table={"per_slot": {"morning": 500}})
    base.update(kw)
    return asvc.RoomData(**base)  # type: ignore[arg-type]


def test_room_validation_refuses_slots_outside_hours_and_overlaps(desk: Desk) -> None:
    scheme = json.loads(json.dumps(SLOTS))
    scheme["slots"][2]["end"] = "22:00"  # facility closes at 21:00
    with pytest.raises(DomainError) as exc:
        asvc.save_room(db.session, desk.facility, _room(slot_scheme=scheme), actor=desk.admin, now=NOW)
    assert _codes(exc) == {"slot_outside_hours"}
    scheme = json.loads(json.dumps(SLOTS))
    scheme["slots"][1]["start"] = "11:00"  # overlaps the morning
    with pytest.raises(DomainError) as exc:
        asvc.save_room(db.session, desk.facility, _room(slot_scheme=scheme), actor=desk.admin, now=NOW)
    assert _codes(exc) == {"scheme_contradiction"}
    with pytest.raises(DomainError) as exc:
        asvc.save_room(db.session, desk.facility, _room(slot_scheme={"kind": "slots", "slots": [{"code": "x"}]}),
                       actor=desk.admin, now=NOW)
    assert "scheme_invalid" in _codes(exc)


def test_room_validation_refuses_bad_fees_windows_and_policy(desk: Desk) -> None:
    data = _room(fee_table={"per_slot": {"night": 100, "morning": -5},
                            "exemptions": [{"code": "a", "name_ja": "A", "percent": 150}]},
                 windows={"vip": {"months_ahead": 3}}, claim_policy={"mode": "sometimes"},
                 cancellation_tiers=[[7, 200]], capacity=0)
    with pytest.raises(DomainError) as exc:
        asvc.save_room(db.session, desk.facility, data, actor=desk.admin, now=NOW)
    assert _codes(exc) == {"fee_unknown_slot", "fee_negative", "exemption_invalid", "window_invalid",
                           "claim_invalid", "tiers_invalid", "capacity_invalid"}


def test_room_numbers_no_column_holds_are_refused_not_a_500(desk: Desk) -> None:
    """A fee or an extra's price of 10^20 yen was saved, and every booking of the room then
    failed; a display order of 10^23 and a fee table's exemptions given as a number were 500s."""
    big = 10**20
    data = _room(fee_table={"per_slot": {"morning": big}, "extras": [{"code": "mic", "name_ja": "マイク",
                                                                       "name_en": "Mic", "price": big}],
                            "exemptions": 5}, sort_order=10**23)
    with pytest.raises(DomainError) as exc:
        asvc.save_room(db.session, desk.facility, data, actor=desk.admin, now=NOW)
    assert _codes(exc) == {"fee_negative", "extra_invalid", "exemption_invalid", "sort_order_invalid"}
    facility = asvc.FacilityData.of(desk.facility)
    facility.sort_order = 3_000_000_000
    with pytest.raises(DomainError) as exc:
        asvc.save_facility(db.session, facility, actor=desk.admin, now=NOW, facility=desk.facility)
    assert _codes(exc) == {"sort_order_invalid"}


def test_room_form_with_brackets_nested_too_deep_is_a_form_error(client: FlaskClient, desk: Desk) -> None:
    login(client, desk.admin)
    room = desk.large
    form = {"code": room.code, "name_ja": room.name_ja, "name_en": room.name_en, "capacity": str(room.capacity),
            "slot_scheme": "[" * 100_000, "fee_table": json.dumps(room.fee_table), "sort_order": "0",
            "active": "y"}
    r = client.post(f"/admin/facilities/{desk.facility.id}/rooms/{room.id}", data=form)
    assert r.status_code == 422 and "JSONの形式が正しくありません" in r.get_data(as_text=True)


def test_room_parts_refuse_loops_and_other_facilities(desk: Desk) -> None:
    a = make_room(desk.facility, code="a", name_ja="A", name_en="A")
    b = make_room(desk.facility, code="b", name_ja="B", name_en="B")
    whole = asvc.save_room(db.session, desk.facility, _room(code="whole", part_ids=[a.id, b.id]), actor=desk.admin,
                           now=NOW)
    db.session.commit()
    assert {p.id for p in whole.parts} == {a.id, b.id}
    data = asvc.RoomData.of(a)
    data.part_ids = [whole.id]  # A would contain the whole that contains A
    with pytest.raises(DomainError) as exc:
        asvc.save_room(db.session, desk.facility, data, actor=desk.admin, now=NOW, room=a)
    assert _codes(exc) == {"part_loop"}
    data.part_ids = [a.id]
    with pytest.raises(DomainError) as exc:
        asvc.save_room(db.session, desk.facility, data, actor=desk.admin, now=NOW, room=a)
    assert _codes(exc) == {"part_loop"}
    data.part_ids = [desk.elsewhere.id]
    with pytest.raises(DomainError) as exc:
        asvc.save_room(db.session, desk.facility, data, actor=desk.admin, now=NOW, room=a)
    assert _codes(exc) == {"part_elsewhere"}


def test_staff_invite_assign_deactivate(desk: Desk) -> None:
    user, password = asvc.invite_staff(db.session, actor=desk.admin, now=NOW, email="New.Staff@Example.jp",
                                       display_name="新人", facility_ids=[desk.facility.id])
    db.session.commit()
    assert user.email == "new.staff@example.jp" and user.role == "staff" and check_password(user.password_hash, password)
    assert user.serves(desk.facility.id) and not user.serves(desk.other.id)
    with pytest.raises(DomainError) as exc:
        asvc.invite_staff(db.session, actor=desk.admin, now=NOW, email="new.staff@example.jp", display_name="x",
                          facility_ids=[])
    assert _codes(exc) == {"email_taken"}
    asvc.assign_facilities(db.session, user, [desk.other.id], actor=desk.admin, now=NOW)
    asvc.set_active(db.session, user, False, actor=desk.admin, now=NOW)
    db.session.commit()
    assert user.serves(desk.other.id) and not user.serves(desk.facility.id) and not user.active
    with pytest.raises(DomainError):
        asvc.set_active(db.session, desk.admin, False, actor=desk.admin, now=NOW)
    with pytest.raises(Forbidden):
        asvc.invite_staff(db.session, actor=desk.staff, now=NOW, email="x@example.jp", display_name="x",
                          facility_ids=[])


# --- views -------------------------------------------------------------------------------------


def test_only_admins_configure(app, desk: Desk) -> None:  # type: ignore[no-untyped-def]
    for user in (desk.member, desk.staff):
        client = app.test_client()
        login(client, user)
        assert client.get("/admin/").status_code == 403
        for url in ("/admin/facilities/new", f"/admin/facilities/{desk.facility.id}",
                    f"/admin/facilities/{desk.facility.id}/rooms/new",
                    f"/admin/facilities/{desk.facility.id}/rooms/{desk.large.id}", "/admin/users"):
            assert client.get(url).status_code == 403, (user.email, url)
            assert client.post(url, data={}).status_code == 403, (user.email, url)
        for url in (f"/admin/users/{desk.staff.id}/facilities", f"/admin/users/{desk.staff.id}/active"):
            assert client.post(url, data={"active": "0"}).status_code == 403
    assert db.session.get(User, desk.staff.id).active  # type: ignore[union-attr]


def test_admin_pages_edit_a_room_and_show_errors(client: FlaskClient, desk: Desk) -> None:
    login(client, desk.admin)
    assert client.get("/admin/").status_code == 200
    page = client.get(f"/admin/facilities/{desk.facility.id}/rooms/{desk.large.id}")
    assert page.status_code == 200 and "大会議室" in page.data.decode()
    form = {"code": "large", "name_ja": "大会議室", "name_en": "Large Room", "capacity": "60",
            "slot_scheme": json.dumps(SLOTS), "fee_table": "{not json", "windows": "", "claim_policy": "",
            "cancellation_tiers": "", "checkin_grace_minutes": "30", "active": "y"}
    r = client.post(f"/admin/facilities/{desk.facility.id}/rooms/{desk.large.id}", data=form)
    assert r.status_code == 422 and "JSONの形式が正しくありません" in r.data.decode()
    form["fee_table"] = json.dumps({"per_slot": {"morning": 990}})
    r = client.post(f"/admin/facilities/{desk.facility.id}/rooms/{desk.large.id}", data=form)
    assert r.status_code == 302
    db.session.refresh(desk.large)
    assert desk.large.fee_table == {"per_slot": {"morning": 990}} and desk.large.code == "large"


def test_admin_facility_form_and_invite(client: FlaskClient, desk: Desk) -> None:
    login(client, desk.admin)
    form = {"code": "kita", "name_ja": "北", "name_en": "Kita", "timezone": "Asia/Tokyo", "open_0": "09:00",
            "close_0": "08:00", "new_year_break": "y", "sort_order": "3"}
    r = client.post("/admin/facilities/new", data=form)
    assert r.status_code == 422 and "閉館時刻は開館時刻より後" in r.data.decode()
    form["close_0"] = "21:00"
    r = client.post("/admin/facilities/new", data=form)
    assert r.status_code == 302
    f = db.session.scalar(select(Facility).where(Facility.code == "kita"))
    assert f is not None and f.opening_hours == {"0": ["09:00", "21:00"]}
    r = client.post("/admin/users", data={"email": "desk2@example.jp", "display_name": "窓口2", "role": "staff",
                                          "facility_ids": [str(f.id)]})
    assert r.status_code == 200 and 'id="temp-password"' in r.data.decode()
    u = db.session.scalar(select(User).where(User.email == "desk2@example.jp"))
    assert u is not None and u.serves(f.id)
