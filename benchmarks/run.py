"""Measure the application at city scale: ``python -m benchmarks.run [--quick] [--db sqlite|postgres]``.

Every measurement goes through the real application (``create_app`` on the
generated dataset): Flask's test client for pages and API routes, the service
functions for the cases that are about the service itself. Each case is
measured many times (warm-up, then N iterations, median and p95) and reported
as a ratio to the *floor*: a trivial route added to this process's app only
(``/__bench_floor``), measured just before and after each case, so numbers
compare across machines and the load's drift during a run stays out of them.
The GET cases are measured again through gunicorn (case group ``served``). A
case whose route or function does not exist yet is reported as "not available
yet", never failed.

Results: ``benchmarks/results/latest.json`` (one entry per database and mode)
and ``latest.md``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import http.client
import io
import json
import os
import platform
import pstats
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url

from . import generate as gen

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# what --only can pick, in the order a full run measures them
CASE_GROUPS = ("grid", "search", "create", "concurrent", "feed", "served", "growth", "plans", "profile", "memory",
               "release")
NOT_YET = "not available yet"
MONTH_FIRST, MONTH_LAST = date(2027, 2, 1), date(2027, 2, 28)
RELEASE_TARGET_ROWS = 100_000
FLOOR_WARMUP = 3  # untimed floor requests before each timed one through the server
SLOW_S = 10.0  # an operation slower than this is timed once (and its duplicates through other routes skipped)

TARGETS = {
    "grid": "median ≤ 3× floor",
    "search": "median ≤ 50 ms",
    "create": "≥ 300 bookings/s (SQLite)",
    "concurrent": "exactly 1 success",
    "feed_full": "median ≤ 100 ms",
    "feed_304": "median ≤ 1.5× floor",
    "release": "≤ 2 s for 100,000",
    "growth": "≤ 1.1× from 10k to 1M",
    "memory": "peak ≤ 150 MB",
}


# -- measuring ------------------------------------------------------------------------------------


@dataclass
class Timing:
    samples: list[float]  # seconds

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def p95_ms(self) -> float:
        s = sorted(self.samples)
        return s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))] * 1000


def measure(fn: Callable[[], Any], *, warmup: int, n: int, budget_s: float) -> Timing:
    """``warmup`` untimed calls, then up to ``n`` timed ones (at least 5) within ``budget_s``."""
    t0 = time.perf_counter()
    for i in range(warmup):
        if i and time.perf_counter() - t0 > budget_s / 4:
            break
        fn()
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < n and (len(samples) < 5 or time.perf_counter() < deadline):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return Timing(samples)


@dataclass
class Config:
    quick: bool
    db: str
    postgres_url: str | None
    main_scale: gen.Scale
    growth_scale: gen.Scale
    iterations: int
    warmup: int
    budget_s: float
    create_n: int
    threads: int
    out: Path | None
    memory: bool = True
    profile: bool = True
    release_rows: int = RELEASE_TARGET_ROWS
    only: set[str] | None = None


@dataclass
class Case:
    name: str
    title: str
    target_key: str | None = None
    status: str = "ok"
    median_ms: float | None = None
    p95_ms: float | None = None
    n: int | None = None
    ratio: float | None = None
    value: float | None = None
    unit: str = ""
    queries: int | None = None
    passed: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["target"] = TARGETS.get(self.target_key or "", "")
        for k in ("median_ms", "p95_ms", "ratio", "value"):
            if d[k] is not None:
                d[k] = round(d[k], 3)
        return d


# -- the application ------------------------------------------------------------------------------


# set by the command line only: the smoke test runs the benchmark inside pytest, whose process
# must not have its objects frozen out of the garbage collector
FREEZE_LIKE_A_WORKER = False


def build_app(url: str) -> Any:
    from reservations import create_app

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False, "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False, "SMTP_HOST": None, "BASE_URL": "http://localhost",
        "FIXED_NOW": gen.BENCH_NOW.isoformat(),
    })

    # the floor: a trivial route of this app, added in the benchmark process only
    @app.get("/__bench_floor")
    def bench_floor() -> str:
        return "ok"

    if FREEZE_LIKE_A_WORKER:
        # what reservations/wsgi.py does in each gunicorn worker: start-up objects out of the full
        # collections' way (without it, the p95 of a search is 2–3× its median; finding 7)
        gc.collect()
        gc.freeze()
    return app


def has_endpoint(app: Any, name: str) -> bool:
    return name in app.view_functions


def find_rule(app: Any, pattern: str) -> Any | None:
    for rule in app.url_map.iter_rules():
        if re.search(pattern, rule.rule):
            return rule
    return None


def room_feed_path(app: Any, room_id: int) -> str | None:
    rule = find_rule(app, r"^/feeds/rooms/")
    return None if rule is None else re.sub(r"<[^>]+>", str(room_id), rule.rule)


GRID_TITLE = "1 Facility day grid (all rooms × slots)"
MONTH_TITLE = "1 Room month view"
SEARCH_TITLE = "2 Free-room search, all facilities, a month, capacity ≥ 10, evenings, Tue/Thu/Sat"
FEED_TITLE = "4 A busy room's feed for a year"


# issue 8's GET cases of 1 and 2, in process and through gunicorn: name -> (endpoint, title, target)
GET_CASES = {
    "grid_web": ("public.facility", GRID_TITLE + " — web page", "grid"),
    "room_month_web": ("public.room", MONTH_TITLE + " — web page", "grid"),
    "grid_api": ("api.facility_availability", GRID_TITLE + " — API", "grid"),
    "room_month_api": ("api.room_availability", MONTH_TITLE + " — API", "grid"),
    "search_web": ("booking.search", SEARCH_TITLE + " — web page", "search"),
    "search_api": ("api.search", SEARCH_TITLE + " — API", "search"),
}


def route_paths(ids: dict[str, int]) -> dict[str, str]:
    """The GET paths of issue 8's cases 1 and 2, for the in-process and the served measurements."""
    fid, rid = ids["facility"], ids["room"]
    a, b = MONTH_FIRST.isoformat(), MONTH_LAST.isoformat()
    return {
        "grid_web": f"/facilities/{fid}?date={gen.BENCH_DAY.isoformat()}",
        "room_month_web": f"/rooms/{rid}?view=month&date={a}",
        "grid_api": f"/api/v1/facilities/{fid}/availability?date={gen.BENCH_DAY.isoformat()}",
        "room_month_api": f"/api/v1/rooms/{rid}/availability?from={a}&to={b}",
        "search_web": f"/search?date_from={a}&date_to={b}&capacity=10&slot=evening&weekdays=1&weekdays=3&weekdays=5",
        "search_api": f"/api/v1/search?from={a}&to={b}&capacity=10&slot=evening&weekdays=1,3,5",
    }


class QueryCounter:
    """Statements sent through the engine (BEGIN included), and those ``database.read_rows`` sends
    straight to the driver, which engine events do not see."""

    def __init__(self, engine: Any) -> None:
        self.count = 0
        self.engine = engine

    def __enter__(self) -> QueryCounter:
        from reservations import database

        self._direct = database._run

        def counted(*args: Any) -> Any:
            self.count += 1
            return self._direct(*args)

        database._run = counted  # type: ignore[assignment]
        event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc: Any) -> None:
        from reservations import database

        database._run = self._direct  # type: ignore[assignment]
        event.remove(self.engine, "before_cursor_execute", self._on)

    def _on(self, *args: Any) -> None:
        self.count += 1


class StatementTimer:
    """Time spent in each kind of statement (its verb and table) while a job runs: where the
    release's seconds go, so the report says which writes a faster release would have to avoid."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.by_kind: dict[str, list[float]] = {}  # kind → [count, seconds]
        self._t0 = 0.0

    def __enter__(self) -> StatementTimer:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, *args: Any) -> None:
        self._t0 = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        entry = self.by_kind.setdefault(statement_kind(statement), [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - self._t0

    def rows(self, limit: int = 6) -> list[dict[str, Any]]:
        top = sorted(self.by_kind.items(), key=lambda kv: -kv[1][1])[:limit]
        return [{"statement": k, "count": int(n), "s": round(t, 3)} for k, (n, t) in top]


def statement_kind(sql: str) -> str:
    """``UPDATE bookings``, ``INSERT INTO outbox``, ``SELECT … FROM bookings``: a statement's verb and
    the table it writes (or first reads), enough to tell a job's statements apart."""
    words = sql.split()
    verb = words[0].upper() if words else "?"
    upper = [w.upper() for w in words]
    if verb == "WITH" and "INSERT" in upper:  # a CTE in front of an INSERT … SELECT
        i = upper.index("INSERT")
        words, upper, verb = words[i:], upper[i:], "INSERT"
    keyword = {"INSERT": "INTO", "UPDATE": "UPDATE", "DELETE": "FROM", "SELECT": "FROM"}.get(verb)
    if keyword is None or keyword not in upper[:-1]:
        return verb
    table = words[upper.index(keyword) + 1].strip('"(')
    return f"{verb} {table}" if verb == "UPDATE" else f"{verb} {keyword} {table}"


def count_queries(app: Any, fn: Callable[[], Any]) -> int:
    from reservations.extensions import db

    with app.app_context():
        engine = db.engine
    with QueryCounter(engine) as qc:
        fn()
    return qc.count


def profile_top(fn: Callable[[], Any], limit: int = 8, reps: int = 3) -> list[str]:
    fn()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(reps):
        fn()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).sort_stats("tottime")
    rows = []
    for func, (_cc, nc, tt, ct, _callers) in sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:limit]:  # type: ignore[attr-defined]
        filename, line, name = func
        short = filename.split("site-packages/")[-1].replace(str(HERE.parent) + "/", "")
        rows.append(f"{tt / reps * 1000:8.2f} ms/op self, {ct / reps * 1000:8.2f} ms/op cum, {nc // reps:>7} calls/op  "
                     f"{short}:{line} {name}")
    return rows


# -- the run --------------------------------------------------------------------------------------


class Runner:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.cases: list[Case] = []
        self.plans: dict[str, Any] = {}
        self.profiles: dict[str, list[str]] = {}
        self.findings: list[str] = []
        self.floor_ms = 0.0
        self.datasets: dict[str, dict[str, str]] = {}

    def log(self, msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    def add(self, case: Case) -> Case:
        self.cases.append(case)
        shown = case.status if case.status != "ok" else (
            f"median {case.median_ms:.2f} ms  p95 {case.p95_ms:.2f} ms  ×floor {case.ratio:.2f}"
            if case.median_ms is not None and case.ratio is not None else f"{case.value} {case.unit}")
        self.log(f"  {case.name:<28} {shown}  {case.note}")
        return case

    # -- helpers --

    def timed_get(self, app: Any, name: str, title: str, path: str, target: str | None,
                  headers: dict[str, str] | None = None, expect: int = 200) -> Case:
        client = app.test_client()

        def call() -> Any:
            r = client.get(path, headers=headers or {})
            if r.status_code != expect:
                raise RuntimeError(f"GET {path}: {r.status_code} (expected {expect})")
            return r

        return self._timed(app, name, title, target, call, f"GET {path}")

    def timed_call(self, app: Any, name: str, title: str, fn: Callable[[], Any], target: str | None,
                   note: str = "") -> Case:
        from reservations.extensions import db

        def call() -> Any:
            with app.app_context():
                try:
                    return fn()
                finally:
                    db.session.remove()

        return self._timed(app, name, title, target, call, note)

    def _timed(self, app: Any, name: str, title: str, target: str | None, call: Callable[[], Any],
               note: str) -> Case:
        """One case: a first call (an error is reported, not fatal; a call slower than ``SLOW_S``
        is timed once), then the case between two blocks of the floor; its ratio is to that
        floor. The shared machine's load moves by tens of percent within a run, and a floor
        measured minutes earlier carried that into the ratio. Each block is warmed up first: a
        trivial request right after a heavy one runs from cold caches and would make the floor
        larger, and the ratios smaller, than they are."""
        try:
            t0 = time.perf_counter()
            call()
            first = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - a broken route is reported, not fatal
            return self.add(Case(name, title, target, status="error", note=f"{exc}"[:300]))
        if first > SLOW_S:
            return self.add(Case(name, title, target, median_ms=first * 1000, p95_ms=first * 1000, n=1,
                                 ratio=first * 1000 / self.floor_ms, note=f"{note} — one call only (> {SLOW_S} s)"))
        before = self.floor_block(app)
        t = measure(call, warmup=self.cfg.warmup, n=self.cfg.iterations, budget_s=self.cfg.budget_s)
        floor = self.floor_around(before, app)
        q = count_queries(app, call)
        return self.add(Case(name, title, target, median_ms=t.median_ms, p95_ms=t.p95_ms, n=len(t.samples),
                             ratio=t.median_ms / floor, queries=q, note=f"{note} (floor around it {floor:.3f} ms)",
                             extra={"floor_ms": round(floor, 4)}))

    def missing(self, name: str, title: str, target: str | None, what: str) -> Case:
        return self.add(Case(name, title, target, status=NOT_YET, note=what))

    # -- the whole run --

    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        t_start = time.perf_counter()
        main_url, main_info = gen.ensure(cfg.main_scale, cfg.postgres_url)
        growth_url, growth_info = gen.ensure(cfg.growth_scale, cfg.postgres_url)
        self.datasets = {cfg.main_scale.name: main_info, cfg.growth_scale.name: growth_info}
        app = build_app(main_url)
        self.ids = self.pick_ids(app)
        self.log(f"measuring on {cfg.db} ({cfg.main_scale.name}: {main_info['bookings']} bookings)")
        self.floor_ms = self.measure_floor(app)
        want = cfg.only or set(CASE_GROUPS)
        if "grid" in want:
            self.case_grid(app)
        if "search" in want:
            self.case_search(app)
        if "create" in want:
            self.case_create(app)
        if "concurrent" in want:
            self.case_concurrent(app)
        if "feed" in want:
            self.case_feed(app)
        if "served" in want:
            self.case_served(app, main_url)
        if "growth" in want:
            self.case_growth(app, growth_url)
        if "plans" in want:
            self.query_plans(app)
        if cfg.profile and "profile" in want:
            self.profile(app)
        if cfg.memory and "memory" in want:
            self.case_memory(main_url)
        if "release" in want:
            self.case_release(app, main_url)
        self.floor_end_ms = self.measure_floor(app, again=True)
        self.evaluate()
        return {
            "key": f"{cfg.db}{'-quick' if cfg.quick else ''}",
            "db": cfg.db, "quick": cfg.quick, "command": " ".join(["python -m benchmarks.run"] + sys.argv[1:]),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "duration_s": round(time.perf_counter() - t_start, 1),
            "machine": machine_info(app),
            "bench_now": gen.BENCH_NOW.isoformat(), "bench_day": gen.BENCH_DAY.isoformat(),
            "datasets": self.datasets, "ids": self.ids,
            "floor_ms": round(self.floor_ms, 4),
            "cases": [c.to_dict() for c in self.cases],
            "query_plans": self.plans, "profiles": self.profiles, "findings": self.findings,
        }

    def pick_ids(self, app: Any) -> dict[str, int]:
        from reservations.extensions import db

        with app.app_context():
            s = db.session
            room = s.execute(text(
                "SELECT room_id FROM bookings WHERE status IN ('pending','provisional','confirmed','checked_in') "
                "AND start_at > :now GROUP BY room_id ORDER BY count(*) DESC, room_id LIMIT 1"),
                {"now": _bind_dt(app, gen.BENCH_NOW)}).scalar_one()
            group, user = s.execute(text(
                "SELECT g.id, m.user_id FROM groups g JOIN memberships m ON m.group_id = g.id "
                "WHERE g.status = 'registered' ORDER BY g.id LIMIT 1")).one()
            db.session.remove()
        return {"facility": 1, "room": int(room), "group": int(group), "user": int(user)}

    def floor_around(self, before: Timing, app: Any) -> float:
        """The median of a floor block taken before a case and one taken now, after it."""
        return Timing(before.samples + self.floor_block(app).samples).median_ms

    def floor_block(self, app: Any) -> Timing:
        client = app.test_client()
        return measure(lambda: client.get("/__bench_floor"), warmup=10, n=max(30, self.cfg.iterations // 2),
                       budget_s=self.cfg.budget_s / 10)

    def measure_floor(self, app: Any, again: bool = False) -> float:
        client = app.test_client()
        t = measure(lambda: client.get("/__bench_floor"), warmup=20, n=max(300, self.cfg.iterations * 3),
                    budget_s=self.cfg.budget_s)
        if again:  # the floor again at the end: shows how much the machine's load drifted during the run
            self.add(Case("floor_end", "The floor again, at the end of the run", median_ms=t.median_ms,
                          p95_ms=t.p95_ms, n=len(t.samples), ratio=t.median_ms / self.floor_ms,
                          note="ratios above use the floor measured first"))
        else:
            self.add(Case("floor", "Trivial route of the same app (the floor)", median_ms=t.median_ms,
                          p95_ms=t.p95_ms, n=len(t.samples), ratio=1.0, note="GET /__bench_floor"))
        return t.median_ms

    # -- 1 grid and month view --

    def case_grid(self, app: Any) -> None:
        fid = self.ids["facility"]
        paths = route_paths(self.ids)
        for name in ("grid_web", "room_month_web", "grid_api", "room_month_api"):
            endpoint, title, target = GET_CASES[name]
            if has_endpoint(app, endpoint):
                self.timed_get(app, name, title, paths[name], target)
            else:
                self.missing(name, title, target, f"route {paths[name].split('?')[0]} missing")
        self.timed_call(app, "grid_service", GRID_TITLE + " — service call", self._grid_service(fid), None,
                        note="services.availability.facility_availability (no HTTP)")
        # not one of issue 8's cases: the first page everyone sees, every facility and room listed
        self.timed_get(app, "start_web", "Start page (every facility and room, no target)", "/", None)

    def _grid_service(self, fid: int) -> Callable[[], Any]:
        def fn() -> Any:
            from reservations.extensions import db
            from reservations.models import Facility
            from reservations.services import availability as avail

            f = db.session.get(Facility, fid)
            assert f is not None
            return avail.facility_availability(db.session(), f, gen.BENCH_DAY, gen.BENCH_DAY, now=gen.BENCH_NOW,
                                               group_class="general")
        return fn

    # -- 2 search --

    def case_search(self, app: Any) -> None:
        def fn() -> Any:
            from reservations.extensions import db
            from reservations.services import availability as avail

            return avail.search(db.session(), avail.SearchFilters(
                first=MONTH_FIRST, last=MONTH_LAST, min_capacity=10, weekdays=(1, 3, 5), slot_codes=("evening",)),
                now=gen.BENCH_NOW, group_class="general")
        svc_case = self.timed_call(app, "search_service", SEARCH_TITLE + " — service call", fn, "search",
                                   note="services.availability.search (no HTTP)")
        slow = svc_case.n == 1
        paths = route_paths(self.ids)
        for name in ("search_web", "search_api"):
            endpoint, title, target = GET_CASES[name]
            path = paths[name]
            if not has_endpoint(app, endpoint):
                self.missing(name, title, target, f"route {path.split('?')[0]} missing")
            elif slow:
                self.add(Case(name, title, target, status="skipped",
                              note=f"the service call alone took {(svc_case.median_ms or 0) / 1000:.1f} s"))
            else:
                self.timed_get(app, name, title, path, target)

    # -- 3 create --

    def free_cells(self, app: Any, n: int, first: date) -> list[tuple[int, date, str]]:
        """Free slot cells of slot rooms (room, day, slot code), from ``first`` on."""
        from reservations.extensions import db
        from reservations.services import availability as avail

        out: list[tuple[int, date, str]] = []
        with app.app_context():
            d = first
            while len(out) < n and d < first + timedelta(days=70):
                hits = avail.search(db.session(), avail.SearchFilters(first=d, last=d + timedelta(days=2), limit=100000,
                                                                      facility_ids=tuple(range(1, 11))),
                                    now=gen.BENCH_NOW, group_class="registered")
                for h in hits:
                    if h.cell.slot_code and h.room.rules.units == {h.room.id} and not h.room.rules.requires_approval:
                        out.append((h.room.id, h.cell.day, h.cell.slot_code))
                d += timedelta(days=3)
            db.session.remove()
        return out[:n]

    def cleanup(self, app: Any, ids: list[int]) -> None:
        from reservations.extensions import db

        if not ids:
            return
        with app.app_context():
            s = db.session
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                params = {f"b{j}": v for j, v in enumerate(chunk)}
                marks = ", ".join(f":b{j}" for j in range(len(chunk)))
                for table in ("audit_events", "outbox", "sent_reminders", "occupied_units"):
                    s.execute(text(f"DELETE FROM {table} WHERE booking_id IN ({marks})"), params)
                s.execute(text(f"DELETE FROM bookings WHERE id IN ({marks})"), params)
            s.commit()
            db.session.remove()

    def case_create(self, app: Any) -> None:
        from reservations.domain.errors import DomainError
        from reservations.extensions import db
        from reservations.models import User
        from reservations.services import bookings as svc

        n = self.cfg.create_n
        cells = self.free_cells(app, 2 * n + 10, date(2027, 3, 1))
        created: list[int] = []
        title = "3 Create a booking, one client, each in its own transaction"
        gid, uid = self.ids["group"], self.ids["user"]
        samples: list[float] = []
        failures = 0
        before = self.floor_block(app)
        try:
            for room_id, day, slot in cells[:n]:
                with app.app_context():
                    t0 = time.perf_counter()
                    user = db.session.get(User, uid)
                    try:
                        out = svc.create_booking(db.session(), svc.BookingInput(
                            room_id=room_id, group_id=gid, day=day, slot_code=slot, purpose="ベンチマーク", attendees=5),
                            actor=user, now=gen.BENCH_NOW)
                        ids = [b.id for b in out]  # known since the flush; after the commit, a SELECT each
                        db.session.commit()
                        created.extend(ids)
                    except DomainError:
                        db.session.rollback()
                        failures += 1
                    samples.append(time.perf_counter() - t0)
                    db.session.remove()
        finally:
            self.cleanup(app, created)
        floor = self.floor_around(before, app)
        if samples:
            t = Timing(samples)
            rate = len(samples) / sum(samples)
            self.add(Case("create_service", title + " — service", "create", median_ms=t.median_ms, p95_ms=t.p95_ms,
                          n=len(samples), ratio=t.median_ms / floor, value=rate, unit="bookings/s",
                          note=f"{len(created)} created, {failures} refused; services.bookings.create_booking + commit "
                               f"(floor around it {floor:.3f} ms)"))
        else:
            self.add(Case("create_service", title + " — service", "create", status="error", note="no free cells found"))

        if not has_endpoint(app, "api.create_booking"):
            self.missing("create_api", title + " — API", "create", "route POST /api/v1/bookings missing")
            return
        token = self.api_token(app, uid)
        client = app.test_client()
        created = []
        samples = []
        statuses: dict[int, int] = {}
        before = self.floor_block(app)
        try:
            for room_id, day, slot in cells[n:2 * n]:
                t0 = time.perf_counter()
                r = client.post("/api/v1/bookings", json={
                    "room_id": room_id, "group_id": gid, "date": day.isoformat(), "slot": slot,
                    "purpose": "ベンチマーク", "attendees": 5}, headers={"Authorization": f"Bearer {token}"})
                samples.append(time.perf_counter() - t0)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if r.status_code == 201:
                    created.extend(b["id"] for b in r.get_json().get("series", []))
        finally:
            self.cleanup(app, created)
        floor = self.floor_around(before, app)
        t = Timing(samples)
        self.add(Case("create_api", title + " — API", "create", median_ms=t.median_ms, p95_ms=t.p95_ms,
                      n=len(samples), ratio=t.median_ms / floor, value=len(samples) / sum(samples),
                      unit="bookings/s", note=f"POST /api/v1/bookings, statuses {statuses} (floor around it "
                                              f"{floor:.3f} ms)"))

    def api_token(self, app: Any, uid: int) -> str:
        from reservations.extensions import db
        from reservations.models import ApiToken, User
        from reservations.services import api_tokens

        with app.app_context():
            user = db.session.get(User, uid)
            assert user is not None
            # the tokens of earlier runs go first: a user may hold only so many, and the dataset is reused
            for old in db.session.scalars(select(ApiToken.id).where(
                    ApiToken.user_id == uid, ApiToken.name == "bench", ApiToken.revoked_at.is_(None))).all():
                api_tokens.revoke_token(db.session(), old, actor=None, now=gen.BENCH_NOW)
            _tok, secret = api_tokens.create_token(db.session(), user, name="bench",
                                                   now=gen.BENCH_NOW)
            db.session.commit()
            db.session.remove()
        return secret

    def case_concurrent(self, app: Any) -> None:
        from reservations.domain.errors import DomainError
        from reservations.extensions import db
        from reservations.models import User
        from reservations.services import bookings as svc

        title = f"3 {self.cfg.threads} concurrent clients on one slot"
        cells = self.free_cells(app, 2, date(2027, 3, 8))
        if len(cells) < 2:
            self.add(Case("concurrent_service", title, "concurrent", status="error", note="no free cell"))
            return
        gid, uid = self.ids["group"], self.ids["user"]
        room_id, day, slot = cells[0]
        barrier = threading.Barrier(self.cfg.threads)
        results: list[str] = []
        created: list[int] = []
        lock = threading.Lock()

        def worker() -> None:
            with app.app_context():
                user = db.session.get(User, uid)
                db.session.commit()
                barrier.wait()
                try:
                    out = svc.create_booking(db.session(), svc.BookingInput(
                        room_id=room_id, group_id=gid, day=day, slot_code=slot, purpose="競合", attendees=3),
                        actor=user, now=gen.BENCH_NOW)
                    db.session.commit()
                    with lock:
                        results.append("ok")
                        created.extend(b.id for b in out)
                except DomainError as exc:
                    db.session.rollback()
                    with lock:
                        results.append(",".join(exc.codes))
                except Exception as exc:  # noqa: BLE001 - counted, shown
                    db.session.rollback()
                    with lock:
                        results.append(type(exc).__name__)
                finally:
                    db.session.remove()

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(self.cfg.threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - t0
        self.cleanup(app, created)
        ok = results.count("ok")
        self.add(Case("concurrent_service", title + " — service, one app context per thread", "concurrent",
                      value=ok, unit="successes", passed=ok == 1,
                      note=f"outcomes {sorted(results)}; {elapsed * 1000:.0f} ms in all"))

        if not has_endpoint(app, "api.create_booking"):
            self.missing("concurrent_api", title + " — API", "concurrent", "route POST /api/v1/bookings missing")
            return
        token = self.api_token(app, uid)
        room_id, day, slot = cells[1]
        codes: list[int] = []
        created = []
        barrier = threading.Barrier(self.cfg.threads)

        def api_worker() -> None:
            client = app.test_client()
            barrier.wait()
            r = client.post("/api/v1/bookings", json={
                "room_id": room_id, "group_id": gid, "date": day.isoformat(), "slot": slot,
                "purpose": "競合", "attendees": 3}, headers={"Authorization": f"Bearer {token}"})
            with lock:
                codes.append(r.status_code)
                if r.status_code == 201:
                    created.extend(b["id"] for b in r.get_json().get("series", []))

        threads = [threading.Thread(target=api_worker) for _ in range(self.cfg.threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.cleanup(app, created)
        ok = codes.count(201)
        self.add(Case("concurrent_api", title + " — API (test client per thread)", "concurrent", value=ok,
                      unit="successes", passed=ok == 1, note=f"HTTP statuses {sorted(codes)}"))

    # -- 4 feed --

    def case_feed(self, app: Any) -> None:
        title = FEED_TITLE
        path = room_feed_path(app, self.ids["room"])
        if path is None:
            self.missing("feed_full", title + " — full render", "feed_full", "route /feeds/rooms/<id>.ics missing")
            self.missing("feed_304", title + " — 304 Not Modified", "feed_304", "route /feeds/rooms/<id>.ics missing")
            return
        client = app.test_client()
        r = client.get(path)
        if r.status_code != 200:
            self.add(Case("feed_full", title + " — full render", "feed_full", status="error",
                          note=f"GET {path}: {r.status_code}"))
            return
        events = r.get_data(as_text=True).count("BEGIN:VEVENT")
        c = self.timed_get(app, "feed_full", title + " — full render", path, "feed_full")
        c.note += f" ({events} events, {len(r.data) // 1024} KiB)"
        cond = {}
        if r.headers.get("ETag"):
            cond["If-None-Match"] = r.headers["ETag"]
        if r.headers.get("Last-Modified"):
            cond["If-Modified-Since"] = r.headers["Last-Modified"]
        if not cond:
            self.add(Case("feed_304", title + " — 304 Not Modified", "feed_304", status=NOT_YET,
                          note="the feed sends neither ETag nor Last-Modified"))
            return
        self.timed_get(app, "feed_304", title + " — 304 Not Modified", path, "feed_304", headers=cond, expect=304)

    # -- 1, 2 and 4 through a real server --

    def case_served(self, app: Any, main_url: str) -> None:
        """The GET cases again through gunicorn, issue 8's first choice of how to measure: one
        sync worker serving ``benchmarks.served:app`` (the same app, started as
        ``reservations.wsgi`` starts a production worker), a new connection per request, as a
        calendar client or a proxy in front of the workers makes. The floor is measured the same
        way and the routes are taken in turns with it, so the machine's load drifts on all of them
        alike; each floor sample follows a few untimed floor requests, as the in-process floor
        blocks are warmed up. The in-process cases above stay: they show the app's own cost
        without the server's."""
        gunicorn = Path(sys.executable).parent / "gunicorn"
        if not gunicorn.exists():
            self.missing("served_floor", "Through gunicorn", None, f"{gunicorn} not installed")
            return
        paths = route_paths(self.ids)
        feed = room_feed_path(app, self.ids["room"])
        routes: list[tuple[str, str, str | None, str, dict[str, str], int]] = [
            ("served_floor", "Trivial route of the same app (the floor)", None, "/__bench_floor", {}, 200)]
        for name, (endpoint, title, target) in GET_CASES.items():
            if has_endpoint(app, endpoint):
                routes.append((f"served_{name}", title, target, paths[name], {}, 200))
        port = _free_port()
        env = {**os.environ, "BENCH_SERVED_URL": main_url}
        with open(os.devnull, "wb") as devnull:
            proc = subprocess.Popen([str(gunicorn), "-w", "1", "-b", f"127.0.0.1:{port}", "--timeout", "300",
                                     "benchmarks.served:app"], cwd=str(HERE.parent), env=env,
                                    stdout=devnull, stderr=devnull)
        try:
            if not _wait_served(port, proc):
                self.add(Case("served_floor", "Through gunicorn", None, status="error",
                              note=f"gunicorn did not answer on port {port}"))
                return
            if feed is not None:
                status, headers = _http_get(port, feed, {})
                routes.append(("served_feed_full", FEED_TITLE + " — full render", "feed_full", feed, {}, 200))
                cond = {k: v for k, v in (("If-None-Match", headers.get("ETag")),
                                          ("If-Modified-Since", headers.get("Last-Modified"))) if v}
                if status == 200 and cond:
                    routes.append(("served_feed_304", FEED_TITLE + " — 304 Not Modified", "feed_304", feed, cond, 304))
            self._measure_served(port, routes)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _measure_served(self, port: int, routes: list[tuple[str, str, str | None, str, dict[str, str], int]]) -> None:
        samples: dict[str, list[float]] = {name: [] for name, *_ in routes}
        for name, title, target, path, headers, expect in routes:
            for _ in range(self.cfg.warmup):
                status, _headers = _http_get(port, path, headers)
                if status != expect:
                    self.add(Case(name, f"{title} — through gunicorn", target, status="error",
                                  note=f"GET {path}: {status} (expected {expect})"))
                    return
        deadline = time.perf_counter() + self.cfg.budget_s * 2
        for i in range(self.cfg.iterations):
            if i >= 5 and time.perf_counter() > deadline:
                break
            for j in range(len(routes)):  # a different route first in each round
                name, _, _, path, headers, _ = routes[(i + j) % len(routes)]
                if name == "served_floor":  # warm: right after a heavy request it runs from cold caches
                    for _ in range(FLOOR_WARMUP):
                        _http_get(port, path, headers)
                t0 = time.perf_counter()
                _http_get(port, path, headers)
                samples[name].append(time.perf_counter() - t0)
        floor = Timing(samples["served_floor"]).median_ms
        for name, title, target, path, _headers, _expect in routes:
            t = Timing(samples[name])
            self.add(Case(name, f"{title} — through gunicorn", target, median_ms=t.median_ms, p95_ms=t.p95_ms,
                          n=len(t.samples), ratio=t.median_ms / floor,
                          note=f"GET {path}; gunicorn, 1 sync worker, a new connection per request; ×floor "
                               f"against the floor through gunicorn, taken in turns (warm)"))

    # -- 5 release --

    def case_release(self, app: Any, main_url: str) -> None:
        from reservations.extensions import db

        title = "5 release-unclaimed over expired provisional bookings"
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        try:
            copy_url = self.copy_dataset(main_url)
        except Exception as exc:  # noqa: BLE001 - the other cases' results are still worth writing
            self.add(Case("release_job", title, "release", status="error", note=f"copying the dataset: {exc}"[:300]))
            return
        capp = build_app(copy_url)
        now = gen.BENCH_NOW
        with capp.app_context():
            s = db.session
            ids = [r[0] for r in s.execute(text(
                "SELECT id FROM bookings WHERE status IN ('pending','provisional','confirmed') AND start_at > :now "
                "ORDER BY id LIMIT :n"), {"now": _bind_dt(capp, now), "n": self.cfg.release_rows})]
            db.session.remove()
        n = len(ids)
        job = find_release_job()
        try:
            if job is not None:
                self.prepare_expired(capp, ids)
                fn, where = job
                with capp.app_context(), StatementTimer(db.engine) as timer:
                    t0 = time.perf_counter()
                    result = fn(db.session(), now, capp.config)
                    db.session.commit()
                    elapsed = time.perf_counter() - t0
                    left = self.count_expired(capp)
                    db.session.remove()
                self.add(Case("release_job", title + f" — the job ({where})", "release", value=elapsed, unit="s",
                              median_ms=elapsed * 1000, n=1, passed=None,
                              note=f"{n:,} expired holds; {left} left provisional; result {str(result)[:120]}",
                              extra={"rows": n, "by_statement": timer.rows()}))
            else:
                self.missing("release_job", title + " — the job", "release",
                             "no release-unclaimed job function in reservations.jobs yet")
            self.prepare_expired(capp, ids)
            elapsed, batches = self.release_reference(capp, now)
            with capp.app_context():
                left = self.count_expired(capp)
                db.session.remove()
            self.add(Case("release_reference", title + " — reference: set-based UPDATE per 10,000 batch",
                          "release" if job is None else None, value=elapsed, unit="s", median_ms=elapsed * 1000, n=1,
                          note=f"{n:,} expired holds in {batches} batches; {left} left; bookings + occupied_units "
                               "updated, no audit/mail (what the job must at least do)", extra={"rows": n}))
        finally:
            with capp.app_context():
                db.session.remove()
                db.engine.dispose()
            self.drop_copy(copy_url)

    def copy_dataset(self, url: str) -> str:
        if url.startswith("sqlite"):
            src = Path(make_url(url).database or "")
            dst = src.with_name(src.stem + "-release.sqlite3")
            for p in (dst, Path(f"{dst}-wal"), Path(f"{dst}-shm")):
                p.unlink(missing_ok=True)
            a, b = sqlite3.connect(src), sqlite3.connect(dst)
            a.backup(b)
            a.close()
            b.close()
            return f"sqlite:///{dst}"
        from sqlalchemy import create_engine

        u = make_url(url)
        name = f"{u.database}_release"
        admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                busy = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db"),
                                    {"db": u.database}).scalar_one()
                if busy:  # a template must have no other session: say so, rather than fail in CREATE
                    raise RuntimeError(f"{busy} other session(s) are connected to {u.database} (a server "
                                       f"left running?); CREATE DATABASE … TEMPLATE needs it to itself")
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{u.database}"'))
        finally:
            admin.dispose()
        return u.set(database=name).render_as_string(hide_password=False)

    def drop_copy(self, url: str) -> None:
        if url.startswith("sqlite"):
            p = Path(make_url(url).database or "")
            for q in (p, Path(f"{p}-wal"), Path(f"{p}-shm")):
                q.unlink(missing_ok=True)
            return
        from sqlalchemy import create_engine

        u = make_url(url)
        admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
        admin.dispose()

    def prepare_expired(self, app: Any, ids: list[int]) -> None:
        """Make ``ids`` provisional holds whose claim deadline has passed (their units active)."""
        from reservations.extensions import db

        past = _bind_dt(app, gen.BENCH_NOW - timedelta(hours=1))
        with app.app_context():
            s = db.session
            for i in range(0, len(ids), 5000):
                chunk = ids[i:i + 5000]
                marks = ", ".join(str(int(x)) for x in chunk)  # integers from our own query
                s.execute(text(f"UPDATE bookings SET status = 'provisional', claim_deadline = :d "  # noqa: S608
                               f"WHERE id IN ({marks})"), {"d": past})
                s.execute(text(f"UPDATE occupied_units SET active = true WHERE booking_id IN ({marks})"))  # noqa: S608
            s.commit()
            db.session.remove()

    def count_expired(self, app: Any) -> int:
        from reservations.extensions import db

        return int(db.session.execute(text(
            "SELECT count(*) FROM bookings WHERE status = 'provisional' AND claim_deadline <= :now"),
            {"now": _bind_dt(app, gen.BENCH_NOW)}).scalar_one())

    def release_reference(self, app: Any, now: datetime) -> tuple[float, int]:
        """The set-based reference: per batch, one UPDATE of bookings and one of their units."""
        from reservations.extensions import db

        batches = 0
        with app.app_context():
            s = db.session
            bnow = _bind_dt(app, now)
            t0 = time.perf_counter()
            while True:
                ids = [r[0] for r in s.execute(text(
                    "UPDATE bookings SET status = 'released', sequence = sequence + 1, updated_at = :now "
                    "WHERE id IN (SELECT id FROM bookings WHERE status = 'provisional' AND claim_deadline <= :now "
                    "ORDER BY id LIMIT 10000) RETURNING id"), {"now": bnow})]
                if not ids:
                    break
                s.execute(text("UPDATE occupied_units SET active = false WHERE active AND booking_id IN "
                               "(SELECT id FROM bookings WHERE id BETWEEN :lo AND :hi AND status = 'released' "
                               "AND updated_at = :now)"), {"lo": min(ids), "hi": max(ids), "now": bnow})
                s.commit()
                batches += 1
            elapsed = time.perf_counter() - t0
            db.session.remove()
        return elapsed, batches

    # -- 6 growth --

    def case_growth(self, app: Any, growth_url: str) -> None:
        """The same grid on the short and the long history, measured interleaved (load drift cancels)."""
        from reservations.extensions import db

        gapp = build_app(growth_url)
        fid = self.ids["facility"]
        small_n = self.datasets[self.cfg.growth_scale.name]["bookings"]
        big_n = self.datasets[self.cfg.main_scale.name]["bookings"]

        def service(a: Any) -> Callable[[], Any]:
            fn = self._grid_service(fid)

            def call() -> Any:
                with a.app_context():
                    try:
                        return fn()
                    finally:
                        db.session.remove()
            return call

        self._growth_case(app, "growth_grid_service", "6 Facility day grid — service call", service(gapp),
                          service(app), small_n, big_n)
        if has_endpoint(app, "public.facility"):
            path = f"/facilities/{fid}?date={gen.BENCH_DAY.isoformat()}"
            sc, bc = gapp.test_client(), app.test_client()
            self._growth_case(app, "growth_grid_web", "6 Facility day grid — web page", lambda: sc.get(path),
                              lambda: bc.get(path), small_n, big_n)
        else:
            self.missing("growth_grid_web", "6 Facility day grid — web page", "growth", "route /facilities/<id> missing")
        with gapp.app_context():
            db.session.remove()
            db.engine.dispose()

    def _growth_case(self, app: Any, name: str, title: str, small_fn: Callable[[], Any],
                     big_fn: Callable[[], Any], small_n: str, big_n: str) -> None:
        before = self.floor_block(app)
        for _ in range(self.cfg.warmup):
            small_fn()
            big_fn()
        small_s: list[float] = []
        big_s: list[float] = []
        for _ in range(self.cfg.iterations):
            t0 = time.perf_counter()
            small_fn()
            t1 = time.perf_counter()
            big_fn()
            t2 = time.perf_counter()
            small_s.append(t1 - t0)
            big_s.append(t2 - t1)
        small, big = Timing(small_s).median_ms, Timing(big_s).median_ms
        floor = self.floor_around(before, app)
        self.add(Case(name, title + f" at {int(small_n):,} vs {int(big_n):,} bookings", "growth", value=big / small,
                      unit="×", median_ms=big, p95_ms=Timing(big_s).p95_ms, n=len(big_s), ratio=big / floor,
                      note=f"{small:.2f} ms at {int(small_n):,}, {big:.2f} ms at {int(big_n):,}, measured interleaved "
                           f"(floor around it {floor:.3f} ms)",
                      extra={"small_ms": small, "big_ms": big, "floor_ms": round(floor, 4)}))

    # -- 7 memory --

    def case_memory(self, url: str) -> None:
        env = dict(os.environ)
        cmd = [sys.executable, "-m", "benchmarks.run", "--memory-worker", url, "--worker-ids", json.dumps(self.ids)]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env,
                                 cwd=str(HERE.parent), check=True).stdout
            data = json.loads(out.strip().splitlines()[-1])
        except Exception as exc:  # noqa: BLE001
            self.add(Case("memory", "7 Peak memory of a web worker", "memory", status="error", note=str(exc)[:300]))
            return
        self.add(Case("memory", "7 Peak memory of a web worker (its own peak RSS)", "memory", value=data["peak_mb"],
                      unit="MB", note=f"after create_app {data['baseline_mb']:.0f} MB; then {data['requests']} "
                                      f"requests: {', '.join(data['served'])}", extra=data))

    # -- plans and profiles --

    def query_plans(self, app: Any) -> None:
        from reservations.extensions import db
        from reservations.models import Facility
        from reservations.services.mapping import FacilityRooms, load_occupied, local_bounds

        captured: list[tuple[str, Any]] = []

        def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
            if "occupied_units" in statement:
                captured.append((statement, parameters))

        with app.app_context():
            s = db.session()
            f = s.get(Facility, self.ids["facility"])
            assert f is not None
            units: set[int] = set()
            fr = FacilityRooms(f.rooms)
            for u in fr.units.values():
                units |= u
            start, end = local_bounds(gen.BENCH_DAY, gen.BENCH_DAY, f.timezone)
            event.listen(db.engine, "before_cursor_execute", grab)
            try:
                load_occupied(s, units, start, end)
            finally:
                event.remove(db.engine, "before_cursor_execute", grab)
            stmt, params = captured[-1]
            conn = s.connection()
            if db.engine.dialect.name == "sqlite":
                plan = [" ".join(str(c) for c in row) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + stmt, params)]
            else:
                plan = [r[0] for r in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + stmt, params)]
            uses = any("ix_occupied_units_unit_start" in line for line in plan)
            self.plans["load_occupied"] = {"sql": stmt, "plan": plan, "uses_ix_occupied_units_unit_start": uses}
            if not uses:
                self.findings.append("load_occupied does NOT use ix_occupied_units_unit_start (see the plan).")
            if db.engine.dialect.name == "sqlite":
                self.trigger_plan(app, conn)
            db.session.remove()

    def trigger_plan(self, app: Any, conn: Any) -> None:
        """The SQLite overlap trigger's lookup, unbounded below (as migration 0002 had it) and
        with the lower bound the installed trigger has (migration 0003: a unit's hold lasts at
        most a day, so one that overlaps starts at most 25 hours earlier). A finding only when the
        installed trigger lacks the bound."""
        rid = self.ids["room"]
        s_at = gen.BENCH_NOW + timedelta(days=200)
        e_at = s_at + timedelta(hours=3)
        installed = str(conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'occupied_units_no_overlap_insert'"
        ).scalar() or "")
        bounded = "datetime(NEW.start_at, '-25 hours')" in installed
        one = ("SELECT 1 FROM occupied_units o WHERE o.unit_id = ? AND o.active AND o.id != ? "
               "AND o.start_at < ? AND o.end_at > ?")
        two = one + " AND o.start_at > datetime(?, '-25 hours')"
        p1 = (rid, -1, _bind_dt(app, e_at), _bind_dt(app, s_at))
        p2 = p1 + (_bind_dt(app, s_at),)
        plan1 = [" ".join(str(c) for c in row) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + one, p1)]
        plan2 = [" ".join(str(c) for c in row) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + two, p2)]
        t1 = measure(lambda: conn.exec_driver_sql(one, p1).all(), warmup=3, n=200, budget_s=3).median_ms
        t2 = measure(lambda: conn.exec_driver_sql(two, p2).all(), warmup=3, n=200, budget_s=3).median_ms
        rows = conn.exec_driver_sql("SELECT count(*) FROM occupied_units WHERE unit_id = ? AND active", (rid,)).scalar()
        self.plans["sqlite_overlap_trigger"] = {
            "installed_bounded": bounded,
            "sql_now": one, "plan_now": plan1, "median_ms_now": round(t1, 4),
            "sql_proposed": two, "plan_proposed": plan2, "median_ms_proposed": round(t2, 4),
            "active_rows_of_unit": rows,
        }
        if not bounded and t1 > 2 * t2:
            self.findings.append(
                f"The installed SQLite overlap trigger has no lower bound on start_at: it scans every earlier "
                f"active hold of the unit, {t1:.3f} ms per inserted unit row for a booking 200 days ahead on a "
                f"unit with {rows:,} active holds, vs {t2:.3f} ms with the bound of migration 0003. Is the "
                f"database upgraded (flask db upgrade)?")

    def profile(self, app: Any) -> None:
        from reservations.extensions import db

        fid = self.ids["facility"]

        def in_ctx(fn: Callable[[], Any]) -> Callable[[], Any]:
            def call() -> Any:
                with app.app_context():
                    try:
                        return fn()
                    finally:
                        db.session.remove()
            return call

        self.profiles["grid_service"] = profile_top(in_ctx(self._grid_service(fid)))
        if has_endpoint(app, "public.facility"):
            client = app.test_client()
            self.profiles["grid_web"] = profile_top(lambda: client.get(f"/facilities/{fid}?date={gen.BENCH_DAY}"))
        if has_endpoint(app, "booking.search"):  # a week of search (a month can take minutes at full scale)
            client = app.test_client()
            path = f"/search?date_from={MONTH_FIRST}&date_to={MONTH_FIRST + timedelta(days=6)}&capacity=10"
            self.profiles["search_web_week"] = profile_top(lambda: client.get(path), reps=1)

    # -- verdicts --

    def evaluate(self) -> None:
        for c in self.cases:
            if c.status != "ok" or c.target_key is None:
                continue
            k = c.target_key
            if k == "grid" and c.ratio is not None:
                c.passed = c.ratio <= 3.0
            elif k == "search" and c.median_ms is not None:
                c.passed = c.median_ms <= 50.0
            elif k == "create" and c.value is not None:
                c.passed = c.value >= 300.0 if self.cfg.db == "sqlite" else None
            elif k == "concurrent" and c.value is not None:
                c.passed = c.value == 1
            elif k == "feed_full" and c.median_ms is not None:
                c.passed = c.median_ms <= 100.0
            elif k == "feed_304" and c.ratio is not None:
                c.passed = c.ratio <= 1.5
            elif k == "release" and c.value is not None:
                rows = c.extra.get("rows", 0)
                c.passed = c.value <= 2.0 and rows >= RELEASE_TARGET_ROWS
                if rows < RELEASE_TARGET_ROWS:
                    c.note += f" (only {rows:,} rows at this scale: no verdict)"
                    c.passed = None
            elif k == "growth" and c.value is not None:
                c.passed = c.value <= 1.1 if not self.cfg.quick else None
            elif k == "memory" and c.value is not None:
                c.passed = c.value <= 150.0


def find_release_job() -> tuple[Callable[..., Any], str] | None:
    """The ``release-unclaimed`` job run the way the scheduler runs it (lease, one transaction)."""
    from reservations.jobs.runner import run_job
    from reservations.jobs.settings import JobSettings

    def run(session: Any, now: datetime, config: Any) -> Any:
        settings = JobSettings.from_config(config)
        return run_job(session, "release-unclaimed", now=now, settings=settings)

    return run, "reservations.jobs.runner.run_job('release-unclaimed')"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http_get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    """One GET on a new connection, body read to the end: (status, headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request("GET", path, headers=headers)
        res = conn.getresponse()
        res.read()
        return res.status, dict(res.getheaders())
    finally:
        conn.close()


def _wait_served(port: int, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if _http_get(port, "/__bench_floor", {})[0] == 200:
                return True
        except OSError:
            time.sleep(0.1)  # polling a starting server
    return False


def _bind_dt(app: Any, value: datetime) -> Any:
    """A UTC instant as the column type stores it (text on SQLite, timestamptz on PostgreSQL)."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def machine_info(app: Any) -> dict[str, Any]:
    from reservations.extensions import db

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            version = "SQLite " + sqlite3.sqlite_version
        else:
            version = db.session.execute(text("SELECT version()")).scalar_one().split(",")[0]
        db.session.remove()
    from importlib.metadata import version as dist_version

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "database": version, "flask": dist_version("flask"),
            "sqlalchemy": dist_version("sqlalchemy")}


# -- the memory worker (a subprocess, so that its peak is its own) --------------------------------


def peak_rss_mb() -> float:
    """This process's own peak resident memory: ``VmHWM`` on Linux.

    Not ``ru_maxrss``: Linux carries the parent's high-water mark over into a child started with
    fork or vfork and exec (``subprocess``), so the worker reported the benchmark process's size
    (132–164 MB) rather than its own (~110–120 MB)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # elsewhere: kB, on macOS bytes
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def memory_worker(url: str, ids: dict[str, int]) -> None:
    app = build_app(url)
    client = app.test_client()
    client.get("/__bench_floor")
    baseline = peak_rss_mb()
    fid, rid = ids["facility"], ids["room"]
    paths = []
    if has_endpoint(app, "public.facility"):
        paths.append(f"/facilities/{fid}?date={gen.BENCH_DAY}")
    if has_endpoint(app, "public.room"):
        paths.append(f"/rooms/{rid}?view=month&date={MONTH_FIRST}")
    if has_endpoint(app, "booking.search"):  # a week: a month's search can take minutes before the fixes
        paths.append(f"/search?date_from={MONTH_FIRST}&date_to={MONTH_FIRST + timedelta(days=6)}&capacity=10")
    if has_endpoint(app, "api.room_availability"):
        paths.append(f"/api/v1/rooms/{rid}/availability?from={MONTH_FIRST}&to={MONTH_LAST}")
    feed = room_feed_path(app, rid)
    if feed is not None:
        paths.append(feed)
    n = 0
    for _ in range(2):
        for p in paths:
            client.get(p)
            n += 1
    peak = peak_rss_mb()
    print(json.dumps({"baseline_mb": round(baseline, 1), "peak_mb": round(peak, 1), "requests": n,
                      "served": [p.split("?")[0] for p in paths]}))


# -- output ---------------------------------------------------------------------------------------


def write_results(run: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    jpath, mpath = out / "latest.json", out / "latest.md"
    data: dict[str, Any] = {"runs": {}}
    if jpath.exists():
        try:
            data = json.loads(jpath.read_text())
        except ValueError:
            data = {"runs": {}}
    data.setdefault("runs", {})[run["key"]] = run
    tmp = jpath.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str) + "\n")
    tmp.replace(jpath)
    mpath.write_text(render_markdown(data))
    return jpath, mpath


def _fmt(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v:,.{digits}f}"


def _verdict(c: dict[str, Any]) -> str:
    if c["status"] != "ok":
        return c["status"]
    if c["passed"] is True:
        return "pass"
    if c["passed"] is False:
        return "not yet"
    return "—"


def render_markdown(data: dict[str, Any]) -> str:
    lines = ["# Benchmark results", "",
             "Generated by `python -m benchmarks.run` (see `benchmarks/README.md`). Each time is the median of many "
             "requests through the real app (Flask test client unless noted); \"×floor\" divides it by the median of "
             "a trivial route of the same app, measured just before and after the case where the note gives it, else "
             "at the start of the run. Verdicts compare with the targets of issue 8.", ""]
    order = sorted(data["runs"].values(), key=lambda r: (r["quick"], r["db"]))
    for run in order:
        m = run["machine"]
        lines += [f"## {run['db']}{' (quick)' if run['quick'] else ''}", "",
                  f"- command: `{run['command']}` — {run['started_at']}, {run['duration_s']} s",
                  f"- machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['database']}, "
                  f"Flask {m['flask']}, SQLAlchemy {m['sqlalchemy']}",
                  "- datasets: " + "; ".join(f"{k}: {int(v['bookings']):,} bookings ({v['active']} active), "
                                            f"{v['facilities']} facilities, {v['rooms']} rooms, {v['groups']} groups, "
                                            f"{v['first_day']} – {v['last_day']}" for k, v in run["datasets"].items()),
                  f"- as of {run['bench_now']} (grid day {run['bench_day']}); floor {run['floor_ms']:.3f} ms", "",
                  "| case | median ms | p95 ms | ×floor | value | queries | target | verdict | note |",
                  "|---|---:|---:|---:|---:|---:|---|---|---|"]
        for c in run["cases"]:
            value = "" if c["value"] is None else f"{_fmt(c['value'])} {c['unit']}"
            lines.append(f"| {c['title']} | {_fmt(c['median_ms'])} | {_fmt(c['p95_ms'])} | {_fmt(c['ratio'])} | "
                         f"{value} | {c['queries'] if c['queries'] is not None else ''} | {c['target']} | "
                         f"{_verdict(c)} | {c['note'].replace('|', '/')} |")
        lines.append("")
        if run.get("findings"):
            lines += ["### Findings", ""] + [f"- {f}" for f in run["findings"]] + [""]
        for name, p in run.get("query_plans", {}).items():
            lines += [f"### Query plan: {name}", ""]
            if "plan" in p:
                lines += ["```sql", p["sql"].strip(), "```", "", "```", *p["plan"], "```",
                          f"uses `ix_occupied_units_unit_start`: **{p['uses_ix_occupied_units_unit_start']}**", ""]
            else:
                lines += [f"The installed trigger has the lower bound: **{p.get('installed_bounded', '?')}**.", "",
                          f"Unbounded below, as migration 0002 had it ({p['median_ms_now']} ms per lookup, unit "
                          f"with {p['active_rows_of_unit']:,} active holds):", "```sql", p["sql_now"], "```", "```",
                          *p["plan_now"], "```",
                          f"With the lower bound of migration 0003 ({p['median_ms_proposed']} ms):", "```sql",
                          p["sql_proposed"], "```", "```", *p["plan_proposed"], "```", ""]
        for c in run["cases"]:
            if c.get("extra", {}).get("by_statement"):
                lines += [f"### Where the time goes: {c['title']}", "", "| statement | times | seconds |",
                          "|---|---:|---:|"]
                lines += [f"| `{r['statement']}` | {r['count']} | {r['s']:.2f} |" for r in c["extra"]["by_statement"]]
                lines.append("")
        for name, rows in run.get("profiles", {}).items():
            lines += [f"### Profile: {name} (cProfile, top by own time)", "", "```", *rows, "```", ""]
    return "\n".join(lines) + "\n"


# -- command line ---------------------------------------------------------------------------------


def make_config(args: argparse.Namespace) -> Config:
    quick = args.quick
    if args.tiny:
        return Config(quick=True, db=args.db, postgres_url=args.postgres_url, main_scale=gen.SCALES["tiny"],
                      growth_scale=gen.SCALES["tiny"], iterations=3, warmup=1, budget_s=0.3, create_n=10,
                      threads=4, out=Path(args.out) if args.out else None, memory=False, profile=False,
                      release_rows=200)
    return Config(
        quick=quick, db=args.db, postgres_url=args.postgres_url,
        main_scale=gen.SCALES["quick" if quick else "full"], growth_scale=gen.SCALES["quick-growth" if quick else "growth"],
        iterations=30 if quick else 100, warmup=3 if quick else 10, budget_s=5 if quick else 20,
        create_n=100 if quick else 300, threads=8, out=Path(args.out) if args.out else None,
        release_rows=5_000 if quick else RELEASE_TARGET_ROWS,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="City-scale benchmarks (issue 8).")
    p.add_argument("--quick", action="store_true", help="small datasets, fewer iterations")
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # the smoke test
    p.add_argument("--db", choices=("sqlite", "postgres"), default=None)
    p.add_argument("--postgres-url", default=None,
                   help="a server URL; the benchmark creates its own reservations_bench_* databases on it")
    p.add_argument("--out", help="results directory (default benchmarks/results; benchmarks/results/partial with --only)")
    p.add_argument("--only", help="comma-separated case groups to run: " + ", ".join(CASE_GROUPS))
    p.add_argument("--memory-worker", help=argparse.SUPPRESS)
    p.add_argument("--worker-ids", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    global FREEZE_LIKE_A_WORKER
    FREEZE_LIKE_A_WORKER = True
    if args.memory_worker:
        memory_worker(args.memory_worker, json.loads(args.worker_ids))
        return 0
    if args.db is None:
        args.db = "postgres" if args.postgres_url else "sqlite"
    if args.db == "postgres" and not args.postgres_url:
        args.postgres_url = os.environ.get("RESERVATIONS_BENCH_POSTGRES_URL")
    if args.db == "postgres" and not args.postgres_url:
        p.error("--db postgres needs --postgres-url (or RESERVATIONS_BENCH_POSTGRES_URL)")
    if args.db == "sqlite":
        args.postgres_url = None
    cfg = make_config(args)
    if args.only:
        cfg.only = {g.strip() for g in args.only.split(",") if g.strip()}
        unknown = cfg.only - set(CASE_GROUPS)
        if unknown:
            p.error(f"--only: unknown case groups {sorted(unknown)}; choose from {', '.join(CASE_GROUPS)}")
        cfg.out = cfg.out or RESULTS / "partial"
    run = Runner(cfg).run()
    jpath, mpath = write_results(run, cfg.out or RESULTS)
    print(f"wrote {jpath} and {mpath}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
