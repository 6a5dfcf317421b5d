"""Booking through the API: create, conflicts, validation, listing, reading, cancelling."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from reservations.extensions import db
from reservations.models import Booking
from tests.api.conftest import World, book
from tests.api.contract import assert_problem, assert_schema


def test_book_a_slot_201(client, world: World) -> None:  # type: ignore[no-untyped-def]
    res = book(client, world, extras=["aircon"])
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert_schema(body, "BookingCreated")
    b = body["booking"]
    assert res.headers["Location"].endswith(f"/api/v1/bookings/{b['id']}")
    assert (b["room_id"], b["group_id"], b["slot"], b["status"]) == (world.room.id, world.group.id, "evening",
                                                                      "provisional")
    assert b["start"] == "2026-12-08T17:30:00+09:00" and b["end"] == "2026-12-08T21:00:00+09:00"
    assert b["date"] == "2026-12-08"
    assert b["fee"]["total"] == 880 + 220
    assert {line["code"]: line["amount"] for line in b["fee"]["lines"]} == {"room": 880, "extra:aircon": 220}
    assert b["extras"] == ["aircon"]
    assert b["claim_deadline"] is not None and b["claim_deadline"].endswith("+09:00")
    assert b["created_at"] == "2026-12-01T10:00:00+09:00" and b["series_id"] is None


def test_book_by_start_and_end(client, world: World) -> None:  # type: ignore[no-untyped-def]
    res = book(client, world, room_id=world.free_room.id, date=None, slot=None, attendees=4,
               start="2026-12-03T09:00:00+09:00", end="2026-12-03T10:30:00+09:00")
    assert res.status_code == 201, res.get_json()
    b = res.get_json()["booking"]
    assert b["status"] == "confirmed" and b["slot"] is None and b["fee"]["total"] == 0
    # the same instant given in UTC is the same booking range
    clash = book(client, world, room_id=world.free_room.id, date=None, slot=None, attendees=4,
                 start="2026-12-03T00:30:00+00:00", end="2026-12-03T01:30:00Z")
    assert_problem(clash, 409, "conflict")


@pytest.mark.both_databases
def test_conflict_409_names_the_range_and_suggests_alternatives(client, world: World) -> None:  # type: ignore[no-untyped-def]
    first = client.post("/api/v1/bookings", headers=world.auth("outsider"), json={
        "room_id": world.room.id, "group_id": world.other_group.id, "date": "2026-12-08", "slot": "evening",
        "purpose": "秘密の相談 secret-purpose", "attendees": 3})
    assert first.status_code == 201
    res = book(client, world)
    body = assert_problem(res, 409, "conflict")
    assert body["conflict"] == [{"start": "2026-12-08T17:30:00+09:00", "end": "2026-12-08T21:00:00+09:00"}]
    assert body["errors"][0]["code"] == "conflict" and body["errors"][0]["field"] == "slot"
    text = res.get_data(as_text=True)
    assert "secret-purpose" not in text and world.other_group.name not in text
    assert '"booking_id"' not in text and f'"id": {first.get_json()["booking"]["id"]}' not in text
    same = body["alternatives"]["same_time"]
    assert same and all(a["room_id"] != world.room.id for a in same)
    assert same[0]["same_facility"] is True
    later = body["alternatives"]["later"]
    assert later and all(a["room_id"] == world.room.id and a["start"] > "2026-12-08T17:30" for a in later)


def test_422_carries_the_domain_codes_per_field(client, world: World) -> None:  # type: ignore[no-untyped-def]
    body = assert_problem(book(client, world, attendees=31), 422, "validation_failed")
    assert {(e["field"], e["code"]) for e in body["errors"]} == {("attendees", "over_capacity")}
    body = assert_problem(book(client, world, date="2027-06-01"), 422)
    assert [e["code"] for e in body["errors"]] == ["window_not_open"]
    body = assert_problem(book(client, world, purpose=""), 422)
    assert "purpose_required" in [e["code"] for e in body["errors"]]
    body = assert_problem(book(client, world, date="2026-11-30"), 422)
    assert "in_past" in [e["code"] for e in body["errors"]]
    body = assert_problem(book(client, world, slot="teatime"), 422)
    assert body["errors"]
    body = assert_problem(book(client, world, extras=["sauna"]), 422)
    assert [e["code"] for e in body["errors"]] == ["unknown_extra"]
    body = assert_problem(book(client, world, room_id=987654), 422)
    assert [e["code"] for e in body["errors"]] == ["room_not_found"]
    # shape errors are 422 too, one per field
    body = assert_problem(book(client, world, attendees="many", start="tomorrow", date="2026-02-30"), 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"attendees", "start", "date"} <= fields
    body = assert_problem(book(client, world, colour="blue"), 422)
    assert body["errors"][0]["code"] == "unknown_field"
    body = assert_problem(book(client, world, start="2026-12-08T17:30:00"), 422)  # no offset
    assert {e["field"] for e in body["errors"]} >= {"start"}


def test_malformed_json_400_and_wrong_type_415(client, world: World) -> None:  # type: ignore[no-untyped-def]
    res = client.post("/api/v1/bookings", data="{not json", content_type="application/json",
                      headers=world.auth("member"))
    assert_problem(res, 400, "malformed_json")
    res = client.post("/api/v1/bookings", data="[1, 2]", content_type="application/json",
                      headers=world.auth("member"))
    assert_problem(res, 400, "malformed_json")
    res = client.post("/api/v1/bookings", data="room_id=1", content_type="application/x-www-form-urlencoded",
                      headers=world.auth("member"))
    assert_problem(res, 415, "unsupported_media_type")
    res = client.post("/api/v1/bookings", data=b"\xff\xfe", content_type="application/json",
                      headers=world.auth("member"))
    assert_problem(res, 400, "malformed_json")


def test_booking_for_a_group_i_am_not_in_is_403(client, world: World) -> None:  # type: ignore[no-untyped-def]
    assert_problem(book(client, world, group_id=world.other_group.id), 403, "forbidden")
    assert_problem(book(client, world, who="staff", group_id=world.other_group.id, room_id=world.other_room.id),
                   403, "forbidden")
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_posting_needs_a_token(client, world: World) -> None:  # type: ignore[no-untyped-def]
    res = client.post("/api/v1/bookings", json={"room_id": world.room.id})
    assert_problem(res, 401, "unauthorized")
    assert res.headers["WWW-Authenticate"].startswith("Bearer")


def test_recurrence_books_a_series(client, world: World) -> None:  # type: ignore[no-untyped-def]
    res = book(client, world, recurrence={"freq": "weekly", "count": 3})
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert [b["date"] for b in body["series"]] == ["2026-12-08", "2026-12-15", "2026-12-22"]
    assert len({b["series_id"] for b in body["series"]}) == 1 and body["booking"]["series_id"] is not None
    bad = assert_problem(book(client, world, date="2026-12-09", recurrence={"freq": "daily", "count": 2}), 422)
    assert "recurrence_freq" in [e["code"] for e in bad["errors"]]


def test_list_get_and_other_groups_404(client, world: World) -> None:  # type: ignore[no-untyped-def]
    ids = []
    for day in ("2026-12-08", "2026-12-09", "2026-12-10"):
        ids.append(book(client, world, date=day).get_json()["booking"]["id"])
    theirs = client.post("/api/v1/bookings", headers=world.auth("outsider"), json={
        "room_id": world.other_room.id, "group_id": world.other_group.id, "date": "2026-12-08",
        "slot": "morning", "purpose": "x", "attendees": 3}).get_json()["booking"]["id"]

    res = client.get("/api/v1/bookings", headers=world.auth("member2"))  # a fellow member sees the group's
    body = res.get_json()
    assert_schema(body, "BookingPage")
    assert [b["id"] for b in body["items"]] == ids
    page1 = client.get("/api/v1/bookings?limit=2", headers=world.auth("member")).get_json()
    page2 = client.get(f"/api/v1/bookings?limit=2&cursor={page1['next_cursor']}",
                       headers=world.auth("member")).get_json()
    assert [b["id"] for b in page1["items"] + page2["items"]] == ids and page2["next_cursor"] is None
    ranged = client.get("/api/v1/bookings?from=2026-12-09&to=2026-12-09", headers=world.auth("member")).get_json()
    assert [b["id"] for b in ranged["items"]] == [ids[1]]
    only = client.get(f"/api/v1/bookings?group_id={world.other_group.id}", headers=world.auth("member")).get_json()
    assert only["items"] == []
    by_status = client.get("/api/v1/bookings?status=cancelled", headers=world.auth("member")).get_json()
    assert by_status["items"] == []
    assert_problem(client.get("/api/v1/bookings?status=lost", headers=world.auth("member")), 400)

    one = client.get(f"/api/v1/bookings/{ids[0]}", headers=world.auth("member"))
    assert one.status_code == 200 and one.get_json()["id"] == ids[0]
    assert_schema(one.get_json(), "Booking")
    not_mine = assert_problem(client.get(f"/api/v1/bookings/{theirs}", headers=world.auth("member")), 404)
    missing = assert_problem(client.get("/api/v1/bookings/999999", headers=world.auth("member")), 404)
    assert not_mine["detail"] == missing["detail"]  # an id reveals nothing
    assert_problem(client.get(f"/api/v1/bookings/{ids[0]}"), 401)


@pytest.mark.both_databases
def test_cancel_and_cancel_again(client, world: World) -> None:  # type: ignore[no-untyped-def]
    bid = book(client, world).get_json()["booking"]["id"]
    assert_problem(client.post(f"/api/v1/bookings/{bid}/cancel", headers=world.auth("outsider")), 404)
    res = client.post(f"/api/v1/bookings/{bid}/cancel", json={"reason": "予定変更"}, headers=world.auth("member"))
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["status"] == "cancelled" and res.get_json()["cancellation_fee"] == 0
    assert_problem(client.post(f"/api/v1/bookings/{bid}/cancel", headers=world.auth("member")), 409,
                   "illegal_transition")
    # the slot is free again
    assert book(client, world).status_code == 201


@pytest.mark.both_databases
def test_cancel_following_cancels_the_rest_of_a_series(client, world: World) -> None:  # type: ignore[no-untyped-def]
    series = [b["id"] for b in book(client, world, recurrence={"freq": "weekly", "count": 3}).get_json()["series"]]
    url = f"/api/v1/bookings/{series[1]}/cancel-following"
    assert_problem(client.post(url, headers=world.auth("outsider")), 404)
    assert_problem(client.post(url, json={"scope": "all"}, headers=world.auth("member")), 422)
    res = client.post(url, json={"reason": "活動休止"}, headers=world.auth("member"))
    assert res.status_code == 200, res.get_json()
    assert_schema(res.get_json(), "CancelledBookings")
    items = res.get_json()["items"]
    assert [b["id"] for b in items] == series[1:] and {b["status"] for b in items} == {"cancelled"}
    first = client.get(f"/api/v1/bookings/{series[0]}", headers=world.auth("member")).get_json()
    assert first["status"] != "cancelled"
    assert_problem(client.post(url, headers=world.auth("member")), 409, "illegal_transition")
    single = book(client, world, date="2026-12-09").get_json()["booking"]["id"]
    res = client.post(f"/api/v1/bookings/{single}/cancel-following", headers=world.auth("member"))
    assert [b["id"] for b in res.get_json()["items"]] == [single]


@pytest.mark.both_databases
def test_a_series_with_a_taken_date_is_refused_date_by_date(client, world: World) -> None:  # type: ignore[no-untyped-def]
    taken = book(client, world, date="2026-12-15", who="member")
    assert taken.status_code == 201
    res = book(client, world, recurrence={"freq": "weekly", "count": 3})  # 8, 15, 22 December
    body = assert_problem(res, 409)
    assert [(e["code"], e["field"]) for e in body["errors"]] == [
        ("series_dates_refused", "recurrence"), ("conflict", "recurrence")]
    assert "1 of the 3 dates" in body["errors"][0]["message"] or "3日のうち1日" in body["errors"][0]["message"]
    assert "alternatives" not in body  # a series' way out is booking its free dates
    free = book(client, world, recurrence={"freq": "weekly", "count": 3, "book_free_only": True})
    assert free.status_code == 201 and [b["date"] for b in free.get_json()["series"]] == ["2026-12-08", "2026-12-22"]
