"""Staff actions and the permission matrix: member / other group / staff elsewhere / staff here / admin."""

from __future__ import annotations

from datetime import date

import pytest

from reservations.services import closures as csvc
from tests.api.conftest import World, book
from tests.api.contract import assert_problem, assert_schema
from tests.factories import NOW

ACTIONS = [("approve", None), ("reject", {"reason": "満室"}), ("confirm", {"method": "cash"}),
           ("check-in", None), ("no-show", None)]


@pytest.mark.parametrize(("action", "body"), ACTIONS)
def test_who_may_act(client, world: World, action: str, body) -> None:  # type: ignore[no-untyped-def]
    bid = book(client, world).get_json()["booking"]["id"]
    url = f"/api/v1/bookings/{bid}/{action}"
    assert_problem(client.post(url, json=body), 401)
    assert_problem(client.post(url, json=body, headers=world.auth("member")), 403, "forbidden")  # own group
    assert_problem(client.post(url, json=body, headers=world.auth("outsider")), 404, "not_found")
    assert_problem(client.post(url, json=body, headers=world.auth("other_staff")), 404, "not_found")
    # staff of the facility may: the booking is provisional, so only confirm is a legal move
    res = client.post(url, json=body, headers=world.auth("staff"))
    if action == "confirm":
        assert res.status_code == 200 and res.get_json()["status"] == "confirmed"
    else:
        assert_problem(res, 409, "illegal_transition")


def test_approval_flow_to_confirmation(client, world: World) -> None:  # type: ignore[no-untyped-def]
    """Find a slot, book it, follow it to confirmation: the issue's 'done when'."""
    hit = client.get("/api/v1/search?from=2026-12-09&to=2026-12-09&capacity=50&slot=afternoon").get_json()["items"][0]
    assert hit["room_id"] == world.hall.id
    created = book(client, world, room_id=hit["room_id"], date=hit["cell"]["date"], slot=hit["cell"]["slot"])
    b = created.get_json()["booking"]
    assert b["status"] == "pending" and b["claim_deadline"] is None
    approved = client.post(f"/api/v1/bookings/{b['id']}/approve", headers=world.auth("staff"))
    assert approved.status_code == 200 and approved.get_json()["status"] == "provisional"
    assert approved.get_json()["claim_deadline"] is not None
    short = client.post(f"/api/v1/bookings/{b['id']}/confirm", json={"amount": 1}, headers=world.auth("staff"))
    assert [e["code"] for e in assert_problem(short, 422)["errors"]] == ["payment_short"]
    paid = client.post(f"/api/v1/bookings/{b['id']}/confirm", headers=world.auth("admin"),
                       json={"amount": b["fee"]["total"], "method": "cash", "receipt": "R-1"})
    assert paid.status_code == 200, paid.get_json()
    assert paid.get_json()["status"] == "confirmed" and paid.get_json()["paid_amount"] == b["fee"]["total"]
    mine = client.get(f"/api/v1/bookings/{b['id']}", headers=world.auth("member")).get_json()
    assert mine["status"] == "confirmed"


def test_reject_needs_a_reason(client, world: World) -> None:  # type: ignore[no-untyped-def]
    bid = book(client, world, room_id=world.hall.id).get_json()["booking"]["id"]
    body = assert_problem(client.post(f"/api/v1/bookings/{bid}/reject", json={}, headers=world.auth("staff")), 422)
    assert body["errors"][0]["code"] == "reason_required"
    res = client.post(f"/api/v1/bookings/{bid}/reject", json={"reason": "工事のため"}, headers=world.auth("staff"))
    assert res.status_code == 200 and res.get_json()["status"] == "rejected"
    unknown = client.post(f"/api/v1/bookings/{bid}/approve", json={"x": 1}, headers=world.auth("staff"))
    assert_problem(unknown, 422)


def test_check_in_and_no_show(client, world: World, app) -> None:  # type: ignore[no-untyped-def]
    a = book(client, world, room_id=world.free_room.id, date=None, slot=None, attendees=2,
             start="2026-12-01T13:00:00+09:00", end="2026-12-01T14:00:00+09:00").get_json()["booking"]
    b = book(client, world, room_id=world.free_room.id, date=None, slot=None, attendees=2,
             start="2026-12-01T15:00:00+09:00", end="2026-12-01T16:00:00+09:00").get_json()["booking"]
    app.config["FIXED_NOW"] = "2026-12-01T13:10:00+09:00"
    res = client.post(f"/api/v1/bookings/{a['id']}/check-in", headers=world.auth("staff"))
    assert res.status_code == 200 and res.get_json()["status"] == "checked_in"
    early = client.post(f"/api/v1/bookings/{b['id']}/no-show", headers=world.auth("staff"))
    assert [e["code"] for e in assert_problem(early, 422)["errors"]] == ["not_started"]  # as at the desk
    app.config["FIXED_NOW"] = "2026-12-01T15:10:00+09:00"
    res = client.post(f"/api/v1/bookings/{b['id']}/no-show", headers=world.auth("staff"))
    assert res.status_code == 200 and res.get_json()["status"] == "no_show"
    desk = client.get(f"/api/v1/desk/today?facility={world.facility.id}", headers=world.auth("staff"))
    body = desk.get_json()
    assert_schema(body, "DeskToday")
    assert body["date"] == "2026-12-01"
    assert [(i["booking"]["id"], i["booking"]["status"]) for i in body["items"]] == [
        (a["id"], "checked_in"), (b["id"], "no_show")]
    assert body["items"][0]["group_name"] == world.group.name
    assert body["items"][0]["checked_in_at"] == "2026-12-01T13:10:00+09:00"


def test_desk_permissions(client, world: World) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/desk/today?facility={world.facility.id}"
    assert_problem(client.get(url), 401)
    assert_problem(client.get(url, headers=world.auth("member")), 403)
    assert_problem(client.get(url, headers=world.auth("other_staff")), 403)
    assert client.get(url, headers=world.auth("admin")).status_code == 200
    assert_problem(client.get("/api/v1/desk/today", headers=world.auth("staff")), 400, "invalid_parameter")
    assert_problem(client.get("/api/v1/desk/today?facility=999", headers=world.auth("staff")), 404)


def test_staff_see_bookings_at_their_facility_only(client, world: World) -> None:  # type: ignore[no-untyped-def]
    bid = book(client, world).get_json()["booking"]["id"]
    assert client.get(f"/api/v1/bookings/{bid}", headers=world.auth("staff")).status_code == 200
    assert client.get(f"/api/v1/bookings/{bid}", headers=world.auth("admin")).status_code == 200
    assert_problem(client.get(f"/api/v1/bookings/{bid}", headers=world.auth("other_staff")), 404)


def test_me_and_groups(client, world: World) -> None:  # type: ignore[no-untyped-def]
    me = client.get("/api/v1/me", headers=world.auth("member")).get_json()
    assert_schema(me, "Me")
    assert me["id"] == world.member.id and me["role"] == "member" and me["facility_ids"] == []
    assert [g["id"] for g in me["groups"]] == [world.group.id] and me["groups"][0]["role"] == "representative"
    staff = client.get("/api/v1/me", headers=world.auth("staff")).get_json()
    assert staff["role"] == "staff" and staff["facility_ids"] == [world.facility.id]
    groups = client.get("/api/v1/groups", headers=world.auth("member2")).get_json()
    assert_schema(groups, "GroupPage")
    assert [(g["id"], g["role"], g["group_class"]) for g in groups["items"]] == [
        (world.group.id, "member", "registered")]
    assert_problem(client.get("/api/v1/groups"), 401)


def test_approve_re_checks_the_rules_as_the_desk_does(client, world: World, session) -> None:  # type: ignore[no-untyped-def]
    """A facility closed on the day since the request was made: the API refuses the approval with
    the reason, as the desk's approval queue does (both go through the booking service)."""
    b = book(client, world, room_id=world.hall.id, date="2026-12-09", slot="afternoon").get_json()["booking"]
    assert b["status"] == "pending"
    csvc.add_closure(session, world.facility, actor=session.merge(world.staff), now=NOW,
                     start=date(2026, 12, 9), end=date(2026, 12, 9), reason_ja="設備点検")
    session.commit()
    res = client.post(f"/api/v1/bookings/{b['id']}/approve", headers=world.auth("staff"))
    assert [e["code"] for e in assert_problem(res, 422)["errors"]] == ["closed"]
    assert client.get(f"/api/v1/bookings/{b['id']}", headers=world.auth("member")).get_json()["status"] == "pending"
