"""Where messages go: an SMTP server, or the console sink for local development.

``SMTPTransport`` keeps one connection for a batch and reconnects after an
error. ``ConsoleSink`` (used when ``SMTP_HOST`` is unset, as in ``make run``)
logs each message and writes it to ``instance/mail/<outbox id>.eml``.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from ..jobs.settings import JobSettings

log = logging.getLogger("reservations.mail")


class Transport(Protocol):
    def send(self, email: EmailMessage, *, outbox_id: int, sender: str, recipient: str) -> None: ...

    def close(self) -> None: ...


class SMTPTransport:
    def __init__(self, settings: JobSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        assert s.smtp_host is not None
        smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
        try:
            smtp.ehlo()
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password or "")
        except Exception:
            smtp.close()
            raise
        return smtp

    def send(self, email: EmailMessage, *, outbox_id: int, sender: str, recipient: str) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            self._smtp.send_message(email, from_addr=sender, to_addrs=[recipient])
        except (smtplib.SMTPServerDisconnected, OSError):
            self._drop()
            raise
        except smtplib.SMTPResponseException:
            # the connection is fine after a refused message; RSET so the next one starts clean
            try:
                self._smtp.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()
            raise

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self._drop()


class ConsoleSink:
    """Local debugging sink: log the message, write it as an .eml file."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def send(self, email: EmailMessage, *, outbox_id: int, sender: str, recipient: str) -> None:
        path = None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{outbox_id}.eml"
            path.write_bytes(bytes(email))
        log.info("mail (console sink) #%s to %s: %s%s", outbox_id, recipient, email["Subject"],
                 f" -> {path}" if path else "")

    def close(self) -> None:
        pass


def make_transport(settings: JobSettings) -> Transport:
    return SMTPTransport(settings) if settings.smtp_host else ConsoleSink(settings.mail_dir)


def classify(exc: BaseException) -> tuple[bool, str]:
    """(transient?, description). 4xx replies and connection problems are transient;
    5xx replies are permanent, except a refused login, which is the server's
    configuration rather than the message's fault and is retried."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        transient = bool(codes) and all(400 <= c < 500 for c in codes)
        return transient, f"recipients refused: {exc.recipients}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return True, f"SMTP login refused {exc.smtp_code}: {exc.smtp_error!r}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500 or exc.smtp_code < 400, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
    if isinstance(exc, smtplib.SMTPException | OSError):
        return True, f"{type(exc).__name__}: {exc}"
    return False, f"{type(exc).__name__}: {exc}"
