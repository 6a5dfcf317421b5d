"""Many clients POST the same slot at once to a multi-worker gunicorn: one 201, the rest 409."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from reservations.extensions import db
from reservations.models import Booking
from reservations.services import api_tokens
from tests.factories import NOW, make_facility, make_group, make_room, make_user

CLIENTS = 24
GUNICORN = Path(sys.executable).parent / "gunicorn"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/facilities")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)  # polling a starting server, not waiting on the clock under test
    raise AssertionError("gunicorn did not become ready")


@pytest.mark.slow
@pytest.mark.both_databases
def test_concurrent_posts_one_winner(app, session, database_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if not GUNICORN.exists():
        pytest.skip("gunicorn not installed beside the interpreter")
    facility = make_facility()
    part_a, part_b = make_room(facility, code="a"), make_room(facility, code="b")
    hall = make_room(facility, code="hall", capacity=100, parts=[part_a, part_b])
    clients = []
    for i in range(CLIENTS):
        user = make_user()
        group = make_group(user)
        _, secret = api_tokens.create_token(db.session(), user, name="race", now=NOW)
        # half book the whole hall, half book part A: all contend for part A's evening
        clients.append((secret, group.id, hall.id if i % 2 else part_a.id))
    session.commit()
    db.engine.dispose()  # let the server have the database

    port = _free_port()
    env = {**os.environ, "RESERVATIONS_DATABASE_URL": database_url, "RESERVATIONS_SECRET_KEY": "race-secret",
           "RESERVATIONS_FIXED_NOW": NOW.isoformat(), "RESERVATIONS_RATELIMIT_ENABLED": "false",
           "RESERVATIONS_SMTP_HOST": "null"}
    env.pop("RESERVATIONS_SMTP_HOST")
    log = (tmp_path / "gunicorn.log").open("w")
    proc = subprocess.Popen(
        [str(GUNICORN), "-w", "4", "-b", f"127.0.0.1:{port}", "--timeout", "60", "reservations.wsgi:app"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(Path(__file__).resolve().parents[2]),
    )
    try:
        _wait_ready(port, proc)
        barrier = threading.Barrier(CLIENTS)
        results: list[tuple[int, dict]] = []
        lock = threading.Lock()

        def post(secret: str, group_id: int, room_id: int) -> None:
            body = json.dumps({"room_id": room_id, "group_id": group_id, "date": "2026-12-08", "slot": "evening",
                               "purpose": "race", "attendees": 5})
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            barrier.wait(timeout=30)
            try:
                conn.request("POST", "/api/v1/bookings", body=body,
                             headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
                res = conn.getresponse()
                data = res.read()
                try:
                    parsed = json.loads(data)
                except ValueError:
                    parsed = {"raw": data[:200].decode(errors="replace")}
                outcome = (res.status, parsed)
            except OSError as exc:
                outcome = (-1, {"error": repr(exc)})
            with lock:
                results.append(outcome)

        threads = [threading.Thread(target=post, args=c) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=90)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()

    statuses = sorted(s for s, _ in results)
    assert len(results) == CLIENTS, results
    assert statuses.count(201) == 1, (statuses, (tmp_path / "gunicorn.log").read_text()[-3000:])
    assert statuses.count(409) == CLIENTS - 1, ([r for r in results if r[0] not in (201, 409)],
                                                (tmp_path / "gunicorn.log").read_text()[-6000:])
    for status, body in results:
        if status == 409:
            assert body["code"] == "conflict" and body["conflict"], body
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Booking)) == 1
