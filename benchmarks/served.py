"""The benchmark's app for a real server: ``gunicorn 'benchmarks.served:app'`` (case group ``served``).

The same app the in-process cases measure (``run.build_app``: the dataset named by
``BENCH_SERVED_URL``, the benchmark's fixed clock, the floor route), started the
way ``reservations.wsgi`` starts a production worker, so its routes and its floor
are measured through the same server and the same sockets.
"""

from __future__ import annotations

import gc
import os

from .run import build_app

app = build_app(os.environ["BENCH_SERVED_URL"])
gc.collect()
gc.freeze()  # as reservations/wsgi.py does in every production worker
