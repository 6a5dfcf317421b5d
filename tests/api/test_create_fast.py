"""POST /api/v1/bookings answers from the rows it has just written (issue 8): the same body as
reading the booking back from the database afterwards."""

from __future__ import annotations

import pytest

from tests.api.conftest import World, book


@pytest.mark.both_databases
@pytest.mark.parametrize("overrides", [
    {"extras": ["aircon"]},  # provisional, with a claim deadline and fee lines
    {"room_id": "free_room", "date": None, "slot": None, "attendees": 4,  # by the time, confirmed, free
     "start": "2026-12-03T09:00:00+09:00", "end": "2026-12-03T10:30:00+09:00"},
    {"recurrence": {"freq": "weekly", "count": 3}},  # a series
])
def test_created_body_is_what_the_database_holds(client, world: World, overrides) -> None:  # type: ignore[no-untyped-def]
    if overrides.get("room_id") == "free_room":
        overrides = {**overrides, "room_id": world.free_room.id}
    res = book(client, world, **overrides)
    assert res.status_code == 201, res.get_json()
    body = res.get_json()
    assert body["booking"] == body["series"][0]
    assert len(body["series"]) == (3 if "recurrence" in overrides else 1)
    for created in body["series"]:
        stored = client.get(f"/api/v1/bookings/{created['id']}", headers=world.auth("member"))
        assert stored.status_code == 200
        assert stored.get_json() == created
