"""The WSGI entry point for production servers: ``gunicorn 'reservations.wsgi:app'``.

After the app is built, every object made so far (modules, the app, SQLAlchemy's mappers and
Babel's catalogues: about 130,000) is moved out of the cyclic garbage collector's sight with
``gc.freeze()``. Otherwise each full collection walks all of them again, and the request that
happens to trigger one takes 2–3× as long: the search's p95 was 140 ms against a 45 ms median,
and 55 ms with the freeze (``benchmarks/README.md``, finding 7). Garbage made while building
is collected first, so nothing unreachable is frozen for the life of the worker.
"""

from __future__ import annotations

import gc

from . import create_app

app = create_app()
gc.collect()
gc.freeze()
