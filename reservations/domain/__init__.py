"""The domain core: booking rules as plain functions and dataclasses.

Nothing in this package imports Flask or SQLAlchemy, and nothing reads the
clock: every function that needs "now" takes it as an argument. The web UI, the
API, the feeds and the scheduler all render what these functions return.
"""
