"""A real SMTP server in the test process (aiosmtpd on 127.0.0.1, a free port) that can be told
to refuse: ``451`` the first N times it sees a Message-ID, or ``550`` always."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from reservations.jobs.settings import JobSettings
from tests.jobs.conftest import book, outbox, world  # noqa: F401  (fixtures and helpers shared with the jobs tests)

__all__ = ["book", "outbox"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ScriptedHandler:
    mode: str = "accept"  # accept | 451 (the first `transient` times per Message-ID) | 550
    transient: int = 2
    seen: dict[str, int] = field(default_factory=dict)
    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        mid = str(msg["Message-ID"])
        self.seen[mid] = self.seen.get(mid, 0) + 1
        if self.mode == "550":
            return "550 5.1.1 mailbox unavailable"
        if self.mode == "451" and self.seen[mid] <= self.transient:
            return "451 4.3.0 try again later"
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 2.0.0 OK"


@dataclass
class SMTPServer:
    handler: ScriptedHandler
    port: int


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    handler = ScriptedHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SMTPServer(handler, port)
    finally:
        controller.stop()


@pytest.fixture
def settings(tmp_path: Path) -> JobSettings:
    return JobSettings(base_url="http://localhost", mail_dir=tmp_path / "mail")


@pytest.fixture
def smtp_settings(settings: JobSettings, smtp_server: SMTPServer) -> JobSettings:
    return replace(settings, smtp_host="127.0.0.1", smtp_port=smtp_server.port, smtp_timeout=5)
