"""Smoke test of the benchmark runner: the quick path on a tiny dataset (2 facilities, ~500 bookings).

It checks that the runner measures every case through the real app and that the
concurrency case lets exactly one of the clients book the slot; the timings
themselves are not asserted (benchmarks report, they do not fail CI).
"""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path

import pytest

from benchmarks import generate as gen
from benchmarks import run as bench

EXPECTED = {
    "floor", "grid_web", "room_month_web", "grid_api", "room_month_api", "grid_service", "search_web", "search_api",
    "search_service", "create_service", "create_api", "concurrent_service", "concurrent_api", "feed_full",
    "feed_304", "growth_grid_service", "growth_grid_web", "release_job", "release_reference", "floor_end", "start_web",
    "served_floor", "served_grid_web", "served_grid_api", "served_room_month_api", "served_search_api",
    "served_feed_full", "served_feed_304",
}


def test_quick_path_on_a_tiny_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gen, "DATA", tmp_path / "data")
    started = time.perf_counter()
    args = bench.argparse.Namespace(quick=True, tiny=True, db="sqlite", postgres_url=None, out=str(tmp_path / "out"))
    cfg = bench.make_config(args)
    run = bench.Runner(cfg).run()
    assert gc.get_freeze_count() == 0  # only the command line freezes, never the test process
    jpath, mpath = bench.write_results(run, tmp_path / "out")

    cases = {c["name"]: c for c in run["cases"]}
    assert set(cases) >= EXPECTED
    assert int(run["datasets"]["tiny"]["bookings"]) > 300
    for c in cases.values():
        assert c["status"] in ("ok", bench.NOT_YET), (c["name"], c["note"])
    assert cases["floor"]["median_ms"] > 0
    assert cases["grid_service"]["status"] == "ok" and cases["grid_service"]["ratio"] > 0
    assert cases["concurrent_service"]["value"] == 1, cases["concurrent_service"]["note"]
    if cases["concurrent_api"]["status"] == "ok":
        assert cases["concurrent_api"]["value"] == 1, cases["concurrent_api"]["note"]
    assert cases["create_service"]["value"] > 0
    # through gunicorn: the floor is its own, and the 304 was answered as a 304 (else "error")
    assert cases["served_floor"]["ratio"] == 1.0 and cases["served_feed_304"]["median_ms"] > 0
    # the release job's time by statement: its own writes are there, and the report shows them
    by_statement = {r["statement"]: r for r in cases["release_job"]["extra"]["by_statement"]}
    assert by_statement["UPDATE bookings"]["count"] >= 1, by_statement
    assert "INSERT INTO audit_events" in by_statement, by_statement
    plan = run["query_plans"]["load_occupied"]
    assert plan["plan"] and isinstance(plan["uses_ix_occupied_units_unit_start"], bool)
    # the created bookings were cleaned up, so the dataset can be reused
    info = gen.dataset_info(gen.database_url(gen.SCALES["tiny"]))
    assert info is not None and info["bookings"] == run["datasets"]["tiny"]["bookings"]

    data = json.loads(jpath.read_text())
    assert "sqlite-quick" in data["runs"]
    md = mpath.read_text()
    assert "| case |" in md and "concurrent clients on one slot" in md
    assert "Where the time goes: 5 release-unclaimed" in md and "| `UPDATE bookings` |" in md
    assert time.perf_counter() - started < 60
