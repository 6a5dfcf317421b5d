"""Scale datasets for the benchmarks, built by the real migrations and filled with bulk inserts.

One database per scale: ``benchmarks/data/scale-<name>.sqlite3`` on SQLite, or
``reservations_bench_<name>`` on the PostgreSQL server given by URL. The schema
comes from ``flask_migrate.upgrade`` inside ``create_app``; rows go in with
SQLAlchemy Core ``insert()`` executemany batches (not the ORM, not the booking
service), so a million bookings take minutes.

The bookings are generated per room, per day, per slot (or per fixed part of
the day for free-time rooms) from a random generator seeded by (room, day):
active holds of one unit can never overlap, and a shorter dataset (the growth
comparison) has *exactly* the same bookings on the days it shares with the long
one, so only the length of the history differs.

Usage: ``python -m benchmarks.generate [--scale full|growth|quick|quick-growth|tiny]
[--postgres-url URL] [--force]``.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time as _time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
GENERATOR_VERSION = "3"
TZ = "Asia/Tokyo"
ZONE = ZoneInfo(TZ)
# "Now" for every benchmark: a Thursday morning in Yokkaichi. Two years of history before it,
# one year of future bookings after it.
BENCH_NOW = datetime(2027, 1, 14, 1, 0, tzinfo=UTC)  # 10:00 JST
BENCH_DAY = date(2027, 1, 21)  # the day whose grid is measured (a Thursday, a week ahead)
BATCH = 10_000


@dataclass(frozen=True)
class Scale:
    name: str
    facilities: int
    groups: int
    days_before: int  # history before BENCH_DAY
    days_after: int  # future after BENCH_DAY
    rooms_per_facility: int = 5

    @property
    def rooms(self) -> int:
        return self.facilities * self.rooms_per_facility

    @property
    def first_day(self) -> date:
        return BENCH_DAY - timedelta(days=self.days_before)

    @property
    def last_day(self) -> date:
        return BENCH_DAY + timedelta(days=self.days_after)


SCALES: dict[str, Scale] = {
    # ~1,000,000 bookings: 300 rooms × 3 years
    "full": Scale("full", 60, 2000, days_before=738, days_after=357),
    # the same rooms and the same bookings, but only ~10,000 of them (11 days around BENCH_DAY)
    "growth": Scale("growth", 60, 2000, days_before=5, days_after=5),
    # --quick: 30 rooms, ~10,000 bookings; its growth partner ~1,000
    "quick": Scale("quick", 6, 200, days_before=80, days_after=30),
    "quick-growth": Scale("quick-growth", 6, 200, days_before=5, days_after=5),
    # the smoke test: 2 facilities, ~500 bookings
    "tiny": Scale("tiny", 2, 20, days_before=12, days_after=5),
}

# -- rooms --------------------------------------------------------------------------------------


def _slots_scheme() -> dict[str, Any]:
    from reservations.demo import DISTRICT_SLOTS

    return DISTRICT_SLOTS


SLOT_TIMES = [("morning", time(8, 30), time(12, 0)), ("afternoon", time(13, 0), time(17, 0)),
              ("evening", time(17, 30), time(21, 0))]
SLOT_P = {"morning": 0.62, "afternoon": 0.66, "evening": 0.9}  # evening peak
HOURLY_PARTS = [(time(9, 0), time(10, 30)), (time(10, 30), time(12, 0)), (time(13, 0), time(15, 0)),
                (time(15, 0), time(17, 0)), (time(18, 0), time(19, 30)), (time(19, 30), time(21, 0))]
HOURLY_P = [0.5, 0.55, 0.6, 0.6, 0.88, 0.8]
INACTIVE_P = 0.2  # a cancelled / released / rejected booking on the same cell
FULL_DAY_P = 0.04
EQUIPMENT = ["whiteboard", "projector", "wifi", "microphone", "tatami", "kitchen"]


@dataclass
class RoomSpec:
    id: int
    facility: int  # index
    code: str
    kind: str  # slots | free
    units: tuple[int, ...]
    parts: tuple[int, ...] = ()
    capacity: int = 20
    popularity: float = 1.0


def _room_layout(f_index: int, first_room_id: int) -> list[RoomSpec]:
    rid = first_room_id
    if f_index % 3 == 0:  # a divisible hall: hall = hall_a + hall_b
        hall, a, b = rid, rid + 1, rid + 2
        rooms = [
            RoomSpec(hall, f_index, "hall", "slots", (a, b), parts=(a, b), capacity=120),
            RoomSpec(a, f_index, "hall_a", "slots", (a,), capacity=60),
            RoomSpec(b, f_index, "hall_b", "slots", (b,), capacity=60),
            RoomSpec(rid + 3, f_index, "mtg", "free", (rid + 3,), capacity=16),
            RoomSpec(rid + 4, f_index, "washitsu", "slots", (rid + 4,), capacity=20),
        ]
    else:
        rooms = [
            RoomSpec(rid, f_index, "large", "slots", (rid,), capacity=60),
            RoomSpec(rid + 1, f_index, "small", "slots", (rid + 1,), capacity=15),
            RoomSpec(rid + 2, f_index, "washitsu", "slots", (rid + 2,), capacity=20),
            RoomSpec(rid + 3, f_index, "mtg1", "free", (rid + 3,), capacity=12),
            RoomSpec(rid + 4, f_index, "mtg2", "free", (rid + 4,), capacity=24),
        ]
    for r in rooms:
        r.popularity = random.Random(f"pop-{r.id}").uniform(0.7, 1.12)
    return rooms


def layout(scale: Scale) -> list[RoomSpec]:
    out: list[RoomSpec] = []
    for f in range(scale.facilities):
        out.extend(_room_layout(f, 1 + f * scale.rooms_per_facility))
    return out


def _facility_row(i: int) -> dict[str, Any]:
    closed = [i % 7] if i % 2 == 0 else []
    hours = {str(d): ["08:30", "21:00"] for d in range(7) if d not in closed}
    return {
        "id": i + 1, "code": f"bench{i + 1:03d}", "name_ja": f"ベンチ地区市民センター{i + 1}",
        "name_en": f"Bench District Civic Center {i + 1}", "address_ja": "三重県四日市市（ベンチマーク）",
        "address_en": "Yokkaichi (benchmark)", "phone": "059-000-0000", "timezone": TZ,
        "opening_hours": hours, "closed_weekdays": closed, "closed_on_holidays": i % 2 == 1,
        "new_year_break": True, "description_ja": "", "description_en": "", "sort_order": i, "is_sample": False,
    }


def _room_row(r: RoomSpec, order: int) -> dict[str, Any]:
    from reservations.demo import AIRCON, EXEMPTIONS, HOURLY, PROJECTOR, _slot_fees

    rng = random.Random(f"room-{r.id}")
    eq = sorted(rng.sample(EQUIPMENT, rng.randint(1, 3)))
    if r.kind == "free":
        scheme: dict[str, Any] = dict(HOURLY)
        fees: dict[str, Any] = {"per_hour": 300 + 100 * (r.id % 4), "extras": [PROJECTOR], "exemptions": EXEMPTIONS}
    else:
        scheme = _slots_scheme()
        fees = {"per_slot": _slot_fees(440 + 220 * (r.id % 4)), "extras": [AIRCON], "exemptions": EXEMPTIONS}
    return {
        "id": r.id, "facility_id": r.facility + 1, "code": r.code, "name_ja": f"{r.code} {r.id}",
        "name_en": f"{r.code} {r.id}", "capacity": r.capacity, "floor_area": float(r.capacity * 2),
        "equipment": eq, "slot_scheme": scheme, "fee_table": fees,
        "windows": {"registered": {"months_ahead": 3, "from_first_of_month": True},
                    "general": {"months_ahead": 1, "from_first_of_month": True}},
        "requires_approval": r.code == "hall", "min_lead_minutes": 0,
        "claim_policy": {"mode": "if_fee", "days_after_booking": 7, "days_before_use": 3, "on_expiry": "release"},
        "cancellation_tiers": None, "checkin_required": r.code.startswith("hall"), "checkin_grace_minutes": 30,
        "buffer_minutes": 0, "description_ja": "", "description_en": "", "sort_order": order, "active": True,
    }


# -- bookings -----------------------------------------------------------------------------------


@dataclass
class Cell:
    room: RoomSpec
    start: datetime
    end: datetime
    slot_code: str | None
    p: float


def _local(d: date, t: time) -> datetime:
    return datetime.combine(d, t, ZONE).astimezone(UTC)


def _cells(room: RoomSpec, d: date, rng: random.Random) -> list[Cell]:
    weekend = d.weekday() >= 5
    if room.kind == "free":
        return [Cell(room, _local(d, s), _local(d, e), None,
                     min(0.97, p * room.popularity * (1.1 if weekend and i < 4 else 1.0)))
                for i, ((s, e), p) in enumerate(zip(HOURLY_PARTS, HOURLY_P, strict=True))]
    if rng.random() < FULL_DAY_P:
        return [Cell(room, _local(d, SLOT_TIMES[0][1]), _local(d, SLOT_TIMES[2][2]), "full_day", 1.0)]
    return [Cell(room, _local(d, s), _local(d, e), code,
                 min(0.97, SLOT_P[code] * room.popularity * (1.1 if weekend and code != "evening" else 1.0)))
            for code, s, e in SLOT_TIMES]


class Builder:
    """Accumulates rows and flushes them in executemany batches."""

    def __init__(self, engine: Engine, scale: Scale, tables: dict[str, Any], progress: Progress) -> None:
        self.engine = engine
        self.scale = scale
        self.t = tables
        self.progress = progress
        self.bookings: list[dict[str, Any]] = []
        self.units: list[dict[str, Any]] = []
        self.series: list[dict[str, Any]] = []
        self.series_ids: dict[tuple[int, int, int, str], tuple[int, int] | None] = {}
        self.next_booking = 1
        self.next_unit = 1
        self.series_count = 0
        self.count = 0
        self.active = 0

    def flush(self, force: bool = False) -> None:
        if not force and len(self.bookings) < BATCH:
            return
        with self.engine.begin() as conn:
            if self.series:
                conn.execute(insert(self.t["booking_series"]), self.series)
            if self.bookings:
                conn.execute(insert(self.t["bookings"]), self.bookings)
            if self.units:
                conn.execute(insert(self.t["occupied_units"]), self.units)
        self.progress.advance(len(self.bookings))
        self.bookings, self.units, self.series = [], [], []

    def _series_for(self, room: RoomSpec, d: date, code: str, groups: int) -> tuple[int, int] | None:
        """A weekly series holds some (weekday, slot) of a room for half a year: (series id, group)."""
        key = (room.id, d.toordinal() // 182, d.weekday(), code)
        if key not in self.series_ids:
            rng = random.Random(f"series-{key}")
            found = None
            if rng.random() < 0.3:
                self.series_count += 1
                self.series.append({
                    "id": self.series_count,
                    "rrule": f"FREQ=WEEKLY;BYDAY={['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'][d.weekday()]};COUNT=26",
                    "spec": {"freq": "weekly", "count": 26}, "exceptions": [],
                    "created_at": _local(d, time(9)) - timedelta(days=30),
                })
                found = (self.series_count, rng.randrange(groups) + 1)
            self.series_ids[key] = found
        return self.series_ids[key]

    def add(self, cell: Cell, status: str, group_id: int, series_id: int | None, rng: random.Random) -> None:
        bid = self.next_booking
        self.next_booking += 1
        start, end = cell.start, cell.end
        created = start - timedelta(days=rng.randint(3, 80), minutes=rng.randint(0, 600))
        deadline = None
        if status == "provisional":
            deadline = max(min(created + timedelta(days=7), start - timedelta(days=3)),
                           BENCH_NOW + timedelta(days=rng.randint(1, 7)))
        fee = 880 if cell.slot_code else 600
        self.bookings.append({
            "id": bid, "uid": f"bench-{bid}@naya", "room_id": cell.room.id, "group_id": group_id,
            "booked_by_id": group_id + 1, "contact_name": "", "contact_phone": "",
            "start_at": start, "end_at": end, "slot_code": cell.slot_code,
            "purpose": "定例会" if series_id else "打ち合わせ", "attendees": rng.randint(3, cell.room.capacity),
            "status": status, "group_class": "registered", "claim_deadline": deadline, "extras": [],
            "exemption_code": None, "fee_total": fee, "fee_breakdown": {},
            "paid_amount": fee if status in ("confirmed", "checked_in", "completed") else None,
            "payment_method": "cash" if status in ("confirmed", "checked_in", "completed") else None,
            "receipt_number": None, "paid_at": None, "checked_in_at": None, "late_minutes": None,
            "cancel_reason": "都合により" if status == "cancelled" else None, "cancellation_fee": None,
            "series_id": series_id, "sequence": 0 if status in ("confirmed", "pending", "provisional") else 1,
            "created_at": created, "updated_at": created, "is_sample": False,
        })
        active = status in ("pending", "provisional", "confirmed", "checked_in")
        for u in cell.room.units:
            self.units.append({"id": self.next_unit, "booking_id": bid, "unit_id": u, "start_at": start,
                               "end_at": end, "active": active})
            self.next_unit += 1
        self.count += 1
        self.active += active
        self.flush()


def _active_status(cell: Cell, rng: random.Random) -> str:
    if cell.end <= BENCH_NOW:
        x = rng.random()
        return "confirmed" if x < 0.6 else ("completed" if x < 0.95 else "no_show")
    if cell.start <= BENCH_NOW:
        return "checked_in"
    x = rng.random()
    if cell.room.code == "hall" and x < 0.3:
        return "pending"
    return "confirmed" if x < 0.62 else ("provisional" if x < 0.93 else "pending")


def _inactive_status(cell: Cell, rng: random.Random) -> str:
    x = rng.random()
    return "cancelled" if x < 0.6 else ("released" if x < 0.85 else "rejected")


def generate_bookings(b: Builder, rooms: list[RoomSpec], calendars: list[Any]) -> None:
    scale = b.scale
    by_facility: dict[int, list[RoomSpec]] = {}
    for r in rooms:
        by_facility.setdefault(r.facility, []).append(r)
    d = scale.first_day
    while d <= scale.last_day:
        for f, f_rooms in by_facility.items():
            if calendars[f].closed_reason(d) is not None:
                continue
            for room in f_rooms:
                if room.parts or any(room.id in r.parts for r in f_rooms):
                    continue
                rng = random.Random(f"{room.id}-{d.toordinal()}")
                for cell in _cells(room, d, rng):
                    _book_cell(b, cell, rng, scale.groups)
            hall = next((r for r in f_rooms if r.parts), None)
            if hall is not None:
                rng = random.Random(f"{hall.id}-{d.toordinal()}")
                held = [(c.start, c.end) for c in _cells(hall, d, rng) if _book_cell(b, c, rng, scale.groups)]
                for part in (r for r in f_rooms if r.id in hall.parts):
                    rng = random.Random(f"{part.id}-{d.toordinal()}")
                    for cell in _cells(part, d, rng):
                        if not any(s < cell.end and e > cell.start for s, e in held):
                            _book_cell(b, cell, rng, scale.groups)
        d += timedelta(days=1)


def _book_cell(b: Builder, cell: Cell, rng: random.Random, groups: int) -> bool:
    """Maybe an inactive booking (earlier, cancelled) then maybe an active one. True when held."""
    if rng.random() < INACTIVE_P:
        b.add(cell, _inactive_status(cell, rng), rng.randrange(groups) + 1, None, rng)
    series = None
    if cell.slot_code != "full_day":
        series = b._series_for(cell.room, cell.start.astimezone(ZONE).date(),
                               cell.slot_code or cell.start.astimezone(ZONE).strftime("%H%M"), groups)
    p = 0.95 if series else cell.p
    if cell.room.parts:
        p *= 0.3  # the whole hall is booked less often than its halves
    if rng.random() < p:
        status = _active_status(cell, rng)
        b.add(cell, status, series[1] if series else rng.randrange(groups) + 1, series[0] if series else None, rng)
        return status in ("pending", "provisional", "confirmed", "checked_in")
    return False


# -- the database -------------------------------------------------------------------------------


class Progress:
    """A small progress bar on stderr."""

    def __init__(self, label: str, total: int, stream: Any = sys.stderr) -> None:
        self.label, self.total, self.done, self.stream = label, max(total, 1), 0, stream
        self.t0 = _time.perf_counter()
        self._last = 0.0

    def advance(self, n: int) -> None:
        self.done += n
        self.total = max(self.total, self.done)  # the total is an estimate: never show more done than it
        now = _time.perf_counter()
        if now - self._last > 0.25 or self.done >= self.total:
            self._last = now
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            rate = self.done / max(now - self.t0, 1e-9)
            self.stream.write(f"\r{self.label} [{bar:<30}] {self.done:>9,}/{self.total:,} {rate:,.0f}/s")
            self.stream.flush()

    def close(self) -> None:
        self.stream.write(f"  ({_time.perf_counter() - self.t0:.1f} s)\n")
        self.stream.flush()


def estimate_bookings(scale: Scale) -> int:
    days = (scale.last_day - scale.first_day).days + 1
    return int(scale.rooms * days * 3.1)  # the full scale makes 3.12 per room and day


def database_url(scale: Scale, postgres_url: str | None = None) -> str:
    if postgres_url:
        return make_url(postgres_url).set(database=f"reservations_bench_{scale.name.replace('-', '_')}") \
            .render_as_string(hide_password=False)
    DATA.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DATA / f'scale-{scale.name}.sqlite3'}"


def _meta(engine: Engine) -> dict[str, str]:
    try:
        with engine.connect() as conn:
            return {k: v for k, v in conn.execute(text("SELECT key, value FROM bench_meta"))}
    except Exception:  # noqa: BLE001 - no table: not generated (or not finished)
        return {}


def _drop_create_pg(url: str) -> None:
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{u.database}"'))
    admin.dispose()


def _pg_exists(url: str) -> bool:
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": u.database}).first()
    admin.dispose()
    return found is not None


def dataset_info(url: str) -> dict[str, str] | None:
    """The marker of a finished dataset, or None."""
    if url.startswith("sqlite"):
        path = Path(make_url(url).database or "")
        if not path.exists():
            return None
    elif not _pg_exists(url):
        return None
    engine = create_engine(url)
    meta = _meta(engine)
    engine.dispose()
    if meta.get("complete") == "1" and meta.get("version") == GENERATOR_VERSION:
        return meta
    return None


def ensure(scale: Scale, postgres_url: str | None = None, *, force: bool = False,
           log: Callable[[str], Any] = lambda s: print(s, file=sys.stderr)) -> tuple[str, dict[str, str]]:
    """The dataset's URL, generating it unless a finished one is there."""
    url = database_url(scale, postgres_url)
    info = None if force else dataset_info(url)
    if info is not None:
        log(f"dataset {scale.name}: reusing {info['bookings']} bookings ({_safe(url)})")
        migrate(url)  # a dataset made before a new migration (an index, say) gets it too
        return url, info
    log(f"dataset {scale.name}: generating into {_safe(url)}")
    t0 = _time.perf_counter()
    build(scale, url)
    info = dataset_info(url)
    assert info is not None
    info = dict(info)
    log(f"dataset {scale.name}: {info['bookings']} bookings in {_time.perf_counter() - t0:.1f} s")
    return url, info


def migrate(url: str) -> None:
    """Bring a reused dataset's schema to the migrations' head (a no-op when it is there)."""
    from flask_migrate import upgrade

    from reservations import create_app
    from reservations.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True})
    with app.app_context():
        upgrade()
        db.engine.dispose()


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def build(scale: Scale, url: str) -> None:
    from flask_migrate import upgrade

    from reservations import create_app
    from reservations.extensions import db
    from reservations.models import (
        Booking,
        BookingSeries,
        Facility,
        Group,
        Membership,
        OccupiedUnit,
        Room,
        User,
        room_parts,
    )
    from reservations.passwords import hash_password
    from reservations.services.mapping import facility_calendar

    if url.startswith("sqlite"):
        path = Path(make_url(url).database or "")
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
            p.unlink(missing_ok=True)
    else:
        _drop_create_pg(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": True})
    with app.app_context():
        upgrade()
        db.engine.dispose()

    engine = create_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _fast(dbapi: sqlite3.Connection, _rec: Any) -> None:  # generation only
            cur = dbapi.cursor()
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA journal_mode=MEMORY")
            cur.execute("PRAGMA cache_size=-200000")
            cur.close()

    tables = {"bookings": Booking.__table__, "occupied_units": OccupiedUnit.__table__,
              "booking_series": BookingSeries.__table__}
    # Bulk load without the per-row overlap guard and secondary indexes; both are put back
    # exactly as the migrations made them, and the overlap guard is re-checked over all rows.
    saved = _drop_guards(engine)

    rooms = layout(scale)
    now = BENCH_NOW
    pw = hash_password("bench-password")
    facilities = [_facility_row(i) for i in range(scale.facilities)]
    group_rows, user_rows, members = [], [], []
    for g in range(1, scale.groups + 1):
        rng = random.Random(f"group-{g}")
        x = rng.random()
        status = "registered" if x < 0.85 else ("applied" if x < 0.9 else ("suspended" if x < 0.93 else "expired"))
        group_rows.append({
            "id": g, "name": f"ベンチ団体{g}", "kind": rng.choice(["npo", "circle", "volunteer", "neighbourhood"]),
            "status": status, "renewal_date": date(2028, 3, 31) if status == "registered" else date(2026, 3, 31),
            "exemption_code": "civic_50" if g % 5 == 0 else None, "representative_name": f"代表{g}",
            "contact_email": f"group{g}@bench.example.jp", "contact_phone": "", "member_count": rng.randint(3, 60),
            "activity_field": "", "description": "", "public_name": g % 3 == 0, "public_purpose": g % 6 == 0,
            "created_at": now - timedelta(days=900), "is_sample": False,
        })
    user_rows.append({"id": 1, "email": "admin@bench.example.jp", "display_name": "bench admin",
                      "password_hash": pw, "language": "ja", "role": "admin", "active": True,
                      "created_at": now - timedelta(days=900), "session_version": 0})
    for g in range(1, scale.groups + 1):
        user_rows.append({"id": g + 1, "email": f"rep{g}@bench.example.jp", "display_name": f"代表{g}",
                          "password_hash": pw, "language": "ja", "role": "member", "active": True,
                          "created_at": now - timedelta(days=900), "session_version": 0})
        members.append({"user_id": g + 1, "group_id": g, "role": "representative"})
    room_rows = [_room_row(r, i % scale.rooms_per_facility) for i, r in enumerate(rooms)]
    parts = [{"whole_id": r.id, "part_id": p} for r in rooms for p in r.parts]
    with engine.begin() as conn:
        conn.execute(insert(Facility.__table__), facilities)
        conn.execute(insert(Room.__table__), room_rows)
        if parts:
            conn.execute(insert(room_parts), parts)
        conn.execute(insert(Group.__table__), group_rows)
        conn.execute(insert(User.__table__), user_rows)
        conn.execute(insert(Membership.__table__), members)

    # the calendars (weekly closing days, holidays, New Year) decide which days get bookings
    class _Fac:  # facility_calendar reads attributes; a plain object avoids the ORM here
        def __init__(self, row: dict[str, Any]) -> None:
            self.__dict__.update(row)
            self.closures: list[Any] = []

    calendars = [facility_calendar(_Fac(row)) for row in facilities]  # type: ignore[arg-type]
    progress = Progress(f"bookings ({scale.name})", estimate_bookings(scale))
    builder = Builder(engine, scale, tables, progress)
    generate_bookings(builder, rooms, calendars)
    builder.flush(force=True)
    progress.close()

    t0 = _time.perf_counter()
    print("restoring indexes and the overlap guard…", file=sys.stderr, flush=True)
    _restore_guards(engine, saved)
    overlaps = count_overlaps(engine)
    if overlaps:
        raise RuntimeError(f"generator bug: {overlaps} overlapping active holds")
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.exec_driver_sql("CREATE TABLE bench_meta (key VARCHAR(40) PRIMARY KEY, value TEXT)")
        n = conn.execute(text("SELECT count(*) FROM bookings")).scalar_one()
        act = conn.execute(text("SELECT count(*) FROM bookings WHERE status IN "
                                "('pending','provisional','confirmed','checked_in')")).scalar_one()
        meta = {"version": GENERATOR_VERSION, "scale": scale.name, "bookings": str(n), "active": str(act),
                "facilities": str(scale.facilities), "rooms": str(scale.rooms), "groups": str(scale.groups),
                "first_day": scale.first_day.isoformat(), "last_day": scale.last_day.isoformat(),
                "series": str(conn.execute(text("SELECT count(*) FROM booking_series")).scalar_one()),
                "generated_at": datetime.now(UTC).isoformat(timespec="seconds"), "complete": "1"}
        conn.execute(text("INSERT INTO bench_meta (key, value) VALUES (:k, :v)"),
                     [{"k": k, "v": v} for k, v in meta.items()])
    if not sqlite:
        with engine.begin() as conn:  # explicit ids were inserted: move the sequences past them
            for table in ("facilities", "rooms", "groups", "users", "memberships", "bookings",
                          "occupied_units", "booking_series"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    print(f"indexes, guard check, ANALYZE: {_time.perf_counter() - t0:.1f} s", file=sys.stderr)
    engine.dispose()


def _drop_guards(engine: Engine) -> list[str]:
    """Drop the secondary indexes and overlap guard of bookings/occupied_units; return their DDL."""
    saved: list[str] = []
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text(
                "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
                "AND tbl_name IN ('bookings', 'occupied_units') AND sql IS NOT NULL")).all()
            for kind, name, sql in rows:
                saved.append(sql)
                conn.exec_driver_sql(f'DROP {kind.upper()} "{name}"')
        else:
            cons = conn.execute(text(
                "SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid IN ('occupied_units'::regclass, 'bookings'::regclass) AND contype IN ('x', 'c')"
            )).all()
            for name, table, definition in cons:
                saved.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            idx = conn.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('bookings', 'occupied_units') "
                "AND indexname NOT IN (SELECT conname FROM pg_constraint)")).all()
            for name, definition in idx:
                saved.append(definition)
                conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return saved


def _restore_guards(engine: Engine, saved: list[str]) -> None:
    with engine.begin() as conn:
        for sql in saved:
            conn.exec_driver_sql(sql)


def count_overlaps(engine: Engine) -> int:
    """Active holds of one unit that overlap the previous one (0 for a valid dataset)."""
    sql = """
        SELECT count(*) FROM (
            SELECT start_at, max(end_at) OVER (PARTITION BY unit_id ORDER BY start_at, id
                                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
            FROM occupied_units WHERE active
        ) t WHERE prev_end > start_at
    """
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def iter_scales(names: list[str]) -> Iterator[Scale]:
    for n in names:
        yield SCALES[n]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", action="append", choices=sorted(SCALES), help="repeatable; default: full and growth")
    p.add_argument("--postgres-url", help="generate into reservations_bench_<scale> on this server")
    p.add_argument("--force", action="store_true", help="regenerate even when a finished dataset is there")
    args = p.parse_args(argv)
    for scale in iter_scales(args.scale or ["full", "growth"]):
        url, info = ensure(scale, args.postgres_url, force=args.force)
        print(json.dumps({"scale": scale.name, "url": _safe(url), **info}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
