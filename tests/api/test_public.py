"""Public reads: facilities, rooms, availability, search; pagination; ETags; errors."""

from __future__ import annotations

from tests.api.conftest import World, book
from tests.api.contract import assert_problem, assert_schema


def test_facilities_list_and_one(client, world: World) -> None:  # type: ignore[no-untyped-def]
    res = client.get("/api/v1/facilities")
    assert res.status_code == 200 and res.mimetype == "application/json"
    body = res.get_json()
    assert_schema(body, "FacilityPage")
    ids = [f["id"] for f in body["items"]]
    assert ids == [world.facility.id, world.other_facility.id]
    assert set(body["items"][0]["room_ids"]) == {world.room.id, world.free_room.id, world.hall.id}
    one = client.get(f"/api/v1/facilities/{world.facility.id}").get_json()
    assert_schema(one, "Facility")
    assert one["timezone"] == "Asia/Tokyo" and one["opening_hours"]["1"] == ["08:30", "21:00"]
    assert_problem(client.get("/api/v1/facilities/9999"), 404, "not_found")


def test_rooms_filters(client, world: World) -> None:  # type: ignore[no-untyped-def]
    def ids(query: str) -> list[int]:
        res = client.get("/api/v1/rooms" + query)
        assert res.status_code == 200
        assert_schema(res.get_json(), "RoomPage")
        return [r["id"] for r in res.get_json()["items"]]

    assert ids("") == [world.room.id, world.free_room.id, world.hall.id, world.other_room.id]
    assert ids(f"?facility={world.other_facility.id}") == [world.other_room.id]
    assert ids("?min_capacity=50") == [world.hall.id]
    assert ids("?equipment=projector,whiteboard") == [world.room.id]
    assert ids("?equipment=sauna") == []
    room = client.get(f"/api/v1/rooms/{world.room.id}").get_json()
    assert_schema(room, "Room")
    assert room["booking_unit"] == "slots"
    assert [s["code"] for s in room["slots"]][:3] == ["morning", "afternoon", "evening"]
    assert room["fees"]["per_slot"]["evening"] == 880
    free = client.get(f"/api/v1/rooms/{world.free_room.id}").get_json()
    assert free["booking_unit"] == "free" and free["granularity_minutes"] == 30 and free["slots"] == []
    assert_problem(client.get("/api/v1/rooms/424242"), 404, "not_found")


def test_bad_query_parameters_are_400_with_the_field(client, world: World) -> None:  # type: ignore[no-untyped-def]
    body = assert_problem(client.get("/api/v1/rooms?min_capacity=lots"), 400, "invalid_parameter")
    assert body["errors"][0]["field"] == "min_capacity"
    assert_problem(client.get("/api/v1/rooms?limit=0"), 400, "invalid_parameter")
    assert_problem(client.get("/api/v1/rooms?limit=101"), 400, "invalid_parameter")
    assert_problem(client.get(f"/api/v1/rooms/{world.room.id}/availability?from=2026-12-01"), 400)
    assert_problem(client.get(f"/api/v1/rooms/{world.room.id}/availability?from=2026-12-09&to=2026-12-01"), 400)
    assert_problem(client.get(f"/api/v1/rooms/{world.room.id}/availability?from=2026-12-01&to=2027-03-01"), 400)
    assert_problem(client.get(f"/api/v1/rooms/{world.room.id}/availability?from=2026-13-01&to=2026-12-01"), 400)
    assert_problem(client.get("/api/v1/search?weekdays=7"), 400)
    assert_problem(client.get("/api/v1/rooms?cursor=not-a-cursor"), 400, "invalid_cursor")


def test_pagination_follows_next_cursor(client, world: World) -> None:  # type: ignore[no-untyped-def]
    seen: list[int] = []
    url = "/api/v1/rooms?limit=3"
    pages = 0
    while url:
        body = client.get(url).get_json()
        assert len(body["items"]) <= 3
        seen += [r["id"] for r in body["items"]]
        pages += 1
        url = f"/api/v1/rooms?limit=3&cursor={body['next_cursor']}" if body["next_cursor"] else ""
    assert pages == 2
    assert seen == [world.room.id, world.free_room.id, world.hall.id, world.other_room.id]


def test_room_availability_states(client, world: World) -> None:  # type: ignore[no-untyped-def]
    assert book(client, world).status_code == 201
    res = client.get(f"/api/v1/rooms/{world.room.id}/availability?from=2026-12-01&to=2026-12-08")
    body = res.get_json()
    assert_schema(body, "RoomAvailability")
    days = {d["date"]: {c["slot"]: c["state"] for c in d["cells"]} for d in body["days"]}
    assert days["2026-12-01"]["morning"] == "past"  # now is 10:00 on 12-01
    assert days["2026-12-01"]["evening"] == "free"
    assert days["2026-12-08"]["evening"] == "taken"
    cell = body["days"][0]["cells"][2]
    assert cell["start"] == "2026-12-01T17:30:00+09:00" and cell["end"] == "2026-12-01T21:00:00+09:00"
    assert "booking_ids" not in cell  # other groups' bookings are not identified
    # anonymous: general window (1 month); far dates are not open yet
    far = client.get(f"/api/v1/rooms/{world.room.id}/availability?from=2027-02-10&to=2027-02-10").get_json()
    assert {c["state"] for c in far["days"][0]["cells"]} == {"not_open"}
    # a member of a registered group sees its earlier window (3 months)
    mine = client.get(f"/api/v1/rooms/{world.room.id}/availability?from=2027-02-10&to=2027-02-10",
                      headers=world.auth("member")).get_json()
    assert {c["state"] for c in mine["days"][0]["cells"]} == {"free"}


def test_free_time_room_has_free_intervals(client, world: World) -> None:  # type: ignore[no-untyped-def]
    res = book(client, world, room_id=world.free_room.id, date=None, slot=None,
               start="2026-12-02T13:00:00+09:00", end="2026-12-02T15:00:00+09:00", attendees=5)
    assert res.status_code == 201, res.get_json()
    body = client.get(f"/api/v1/rooms/{world.free_room.id}/availability?from=2026-12-02&to=2026-12-02").get_json()
    assert_schema(body, "RoomAvailability")
    assert body["days"][0]["free_intervals"] == [
        {"start": "2026-12-02T08:30:00+09:00", "end": "2026-12-02T13:00:00+09:00"},
        {"start": "2026-12-02T15:00:00+09:00", "end": "2026-12-02T21:00:00+09:00"},
    ]
    states = {c["start"][11:16]: c["state"] for c in body["days"][0]["cells"]}
    assert states["13:00"] == "taken" and states["14:30"] == "taken" and states["15:00"] == "free"


def test_facility_day_and_search(client, world: World) -> None:  # type: ignore[no-untyped-def]
    assert book(client, world).status_code == 201
    day = client.get(f"/api/v1/facilities/{world.facility.id}/availability?date=2026-12-08").get_json()
    assert_schema(day, "FacilityAvailability")
    assert [r["room_id"] for r in day["rooms"]] == [world.room.id, world.free_room.id, world.hall.id]
    evening = [c for c in day["rooms"][0]["cells"] if c["slot"] == "evening"][0]
    assert evening["state"] == "taken"
    res = client.get("/api/v1/search?from=2026-12-08&to=2026-12-08&slot=evening&capacity=20")
    body = res.get_json()
    assert_schema(body, "SearchPage")
    rooms = {h["room_id"] for h in body["items"]}
    assert world.room.id not in rooms  # taken
    assert {world.hall.id, world.other_room.id} <= rooms
    assert all(h["cell"]["state"] == "free" for h in body["items"])
    tuesdays = client.get("/api/v1/search?from=2026-12-07&to=2026-12-13&weekdays=1&slot=morning").get_json()
    assert {h["cell"]["date"] for h in tuesdays["items"]} == {"2026-12-08"}


def test_etag_and_304(client, world: World) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/rooms/{world.room.id}/availability?from=2026-12-08&to=2026-12-08"
    first = client.get(url)
    etag = first.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert book(client, world).status_code == 201  # the body changes, so must the tag
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    mine = client.get("/api/v1/bookings", headers=world.auth("member"))
    assert client.get("/api/v1/bookings", headers={**world.auth("member"),
                                                   "If-None-Match": mine.headers["ETag"]}).status_code == 304
    assert "Authorization" in mine.headers["Vary"]


def test_unknown_paths_and_methods_are_problems(client, world: World) -> None:  # type: ignore[no-untyped-def]
    assert_problem(client.get("/api/v1/nothing/here"), 404, "not_found")
    assert_problem(client.get("/api/v2/facilities"), 404, "not_found")
    assert_problem(client.get("/api/v1/rooms/99999999999999999999"), 404, "not_found")
    res = client.delete("/api/v1/facilities")
    assert_problem(res, 405, "method_not_allowed")
    assert "GET" in res.headers["Allow"]
    assert_problem(client.put(f"/api/v1/bookings/{1}/cancel"), 405)


def test_an_invalid_token_is_refused_even_on_public_reads(client, world: World) -> None:  # type: ignore[no-untyped-def]
    res = client.get("/api/v1/facilities", headers={"Authorization": "Bearer nope"})
    assert_problem(res, 401, "unauthorized")
    assert res.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(client.get("/api/v1/facilities", headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)
