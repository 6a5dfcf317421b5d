"""The scheduled jobs: name → function, interval and misfire grace.

Names are the stable APScheduler job ids, the lease names and the CLI names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from .booking_jobs import complete_past, release_no_shows, release_unclaimed
from .reminders import send_reminders
from .result import JobResult
from .settings import JobSettings

JobFunction = Callable[[Session, datetime, JobSettings], JobResult]


def _deliver_mail(session: Session, now: datetime, settings: JobSettings) -> JobResult:
    from ..mail.outbox import deliver_mail

    return deliver_mail(session, now, settings)


@dataclass(frozen=True)
class JobSpec:
    name: str
    function: JobFunction
    interval_seconds: int
    misfire_grace_seconds: int
    description: str
    transactional: bool = True  # False: the job commits as it goes (deliver-mail)


JOBS: dict[str, JobSpec] = {spec.name: spec for spec in (
    JobSpec("release-unclaimed", release_unclaimed, 60, 50,
            "release (or auto-confirm) provisional bookings whose claim deadline has passed"),
    JobSpec("release-no-shows", release_no_shows, 300, 240,
            "mark confirmed bookings not checked in by start + grace as no-shows"),
    JobSpec("complete-past", complete_past, 600, 540, "complete checked-in bookings that have ended"),
    JobSpec("send-reminders", send_reminders, 600, 540,
            "queue reminders before use and before claim deadlines (each once)"),
    JobSpec("deliver-mail", _deliver_mail, 30, 25, "send the outbox over SMTP (or the console sink)",
            transactional=False),
)}
