"""What the jobs and the mail sender read from the app's configuration, as one small value.

Jobs take a :class:`JobSettings` rather than ``current_app`` so a test can call them with
any settings and no app context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def _hours(value: Any) -> tuple[int, ...]:
    if isinstance(value, int | float):
        return (int(value),)
    if isinstance(value, str):
        return tuple(int(v) for v in value.replace(",", " ").split())
    return tuple(int(v) for v in value)


@dataclass(frozen=True)
class JobSettings:
    base_url: str = "http://127.0.0.1:5000"
    mail_from: str = "Naya Plaza Reservations <no-reply@naya-plaza.example.jp>"
    reminder_offsets_hours: tuple[int, ...] = (72, 24)
    claim_reminder_hours: int = 48
    batch_size: int = 500
    # bookings per batch of the set-based jobs (release-unclaimed, release-no-shows, complete-past):
    # their batches never reach Python, so they can be far larger than batches of loaded bookings;
    # None: batch_size
    set_batch_size: int | None = None
    lease_seconds: int = 300
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_timeout: float = 20
    mail_dir: Path | None = None  # the console sink writes <id>.eml here
    mail_batch_size: int = 50
    mail_max_attempts: int = 8
    mail_backoff_minutes: int = 1  # 1, 2, 4, 8 … minutes after the 1st, 2nd, 3rd … failure
    mail_lease_seconds: int = 300

    @property
    def set_batch(self) -> int:
        """The batch size of the set-based jobs."""
        return self.set_batch_size or self.batch_size

    @property
    def host(self) -> str:
        """The host name used in Message-IDs and iCalendar UIDs."""
        return urlsplit(self.base_url).hostname or "localhost"

    @classmethod
    def from_config(cls, config: Mapping[str, Any], instance_path: str | Path | None = None) -> JobSettings:
        def get(key: str, default: Any) -> Any:
            value = config.get(key)
            return default if value is None else value

        mail_dir = config.get("MAIL_SINK_DIR")
        if mail_dir is None and instance_path is not None:
            mail_dir = Path(instance_path) / "mail"
        return cls(
            base_url=str(get("BASE_URL", cls.base_url)).rstrip("/"),
            mail_from=str(get("MAIL_FROM", cls.mail_from)),
            reminder_offsets_hours=_hours(get("REMINDER_OFFSETS_HOURS", cls.reminder_offsets_hours)),
            claim_reminder_hours=int(get("CLAIM_REMINDER_HOURS", cls.claim_reminder_hours)),
            batch_size=int(get("JOB_BATCH_SIZE", cls.batch_size)),
            set_batch_size=int(config["JOB_SET_BATCH_SIZE"]) if config.get("JOB_SET_BATCH_SIZE") else None,
            lease_seconds=int(get("JOB_LEASE_SECONDS", cls.lease_seconds)),
            smtp_host=config.get("SMTP_HOST") or None,
            smtp_port=int(get("SMTP_PORT", cls.smtp_port)),
            smtp_username=config.get("SMTP_USERNAME") or None,
            smtp_password=config.get("SMTP_PASSWORD") or None,
            smtp_starttls=bool(get("SMTP_STARTTLS", False)),
            smtp_timeout=float(get("SMTP_TIMEOUT", cls.smtp_timeout)),
            mail_dir=Path(mail_dir) if mail_dir else None,
            mail_batch_size=int(get("MAIL_BATCH_SIZE", cls.mail_batch_size)),
            mail_max_attempts=int(get("MAIL_MAX_ATTEMPTS", cls.mail_max_attempts)),
            mail_backoff_minutes=int(get("MAIL_BACKOFF_MINUTES", cls.mail_backoff_minutes)),
        )

    @classmethod
    def from_app(cls, app: Any) -> JobSettings:
        return cls.from_config(app.config, app.instance_path)
