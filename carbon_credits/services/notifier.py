"""Messages to the owner of an identifier: verification codes, reset codes, notices.

`NOTIFIER=log` (the embedded default) writes each message, code included, to the log at INFO
(logger `carbon_credits.notifier`): fine for development and a pilot whose operator relays codes,
never for a public deployment. `NOTIFIER=smtp` sends emails through `SMTP_HOST`; text messages
go to the city's SMS gateway (`SMS_GATEWAY=package.module:factory`, an `SmsGateway`). With no
gateway configured, a message to a phone number is not delivered and an ERROR (without the code)
says so.

Delivery runs after the database commit (never inside the transaction) on a small background
pool, so the answer to the request neither waits for the mail server nor reveals by its timing
whether a message was sent; a failed delivery is logged and changes nothing else.
"""
from __future__ import annotations

import dataclasses
import importlib
import logging
import smtplib
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from email.message import EmailMessage
from typing import Callable, Protocol

from carbon_credits.config import Settings, get_settings

log = logging.getLogger("carbon_credits.notifier")


@dataclasses.dataclass(frozen=True)
class Message:
    channel: str  # "email" | "sms"
    to: str
    subject: str
    body: str
    kind: str  # "verify" | "password_reset" | "register_notice"
    code: str | None = None


class Notifier(Protocol):
    def send(self, message: Message) -> None: ...


class SmsGateway(Protocol):
    """What a city implements to send text messages (its operator's API)."""

    def send_sms(self, phone: str, text: str) -> None: ...


class LogNotifier:
    """Writes every message (code included) to the log."""

    def send(self, message: Message) -> None:
        log.info("notification %s to %s via %s: %s", message.kind, message.to, message.channel,
                 message.body)


class SmtpNotifier:
    """Emails through an SMTP server (STARTTLS and login when configured); texts through the
    configured SMS gateway."""

    def __init__(self, settings: Settings, sms_gateway: SmsGateway | None = None):
        self.settings = settings
        self.sms_gateway = sms_gateway

    def send(self, message: Message) -> None:
        if message.channel == "sms":
            if self.sms_gateway is None:
                log.error("notification %s to a phone number was NOT delivered: no SMS_GATEWAY "
                          "is configured", message.kind)
                return
            self.sms_gateway.send_sms(message.to, message.body)
            return
        s = self.settings
        email = EmailMessage()
        email["From"] = s.smtp_from
        email["To"] = message.to
        email["Subject"] = message.subject
        email.set_content(message.body)
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password or "")
            smtp.send_message(email)


def load_sms_gateway(spec: str | None) -> SmsGateway | None:
    """`package.module:factory` -> factory(), an object with send_sms(phone, text)."""
    if not spec:
        return None
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr or "SmsGateway")()


def get_notifier() -> Notifier:
    settings = get_settings()
    if settings.notifier == "smtp":
        return SmtpNotifier(settings, load_sms_gateway(settings.sms_gateway))
    return LogNotifier()


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_pending: set[Future] = set()
# Tests replace this to record messages (tests/accounts_support.py).
_factory: Callable[[], Notifier] = get_notifier


def _send(message: Message, notifier: Notifier) -> None:
    try:
        notifier.send(message)
    except Exception:  # a lost message must never fail or undo the request
        log.exception("notification %s via %s failed", message.kind, message.channel)


def deliver(message: Message) -> None:
    """Hand a message to the notifier in the background (call after commit)."""
    global _executor
    notifier = _factory()
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="notifier")
        future = _executor.submit(_send, message, notifier)
        _pending.add(future)
    future.add_done_callback(_pending.discard)


def wait_for_deliveries(timeout: float = 10.0) -> None:
    """Block until queued messages were handed over (tests, orderly shutdown)."""
    for future in list(_pending):
        future.result(timeout=timeout)


def channel_for(identifier: str) -> str:
    return "email" if "@" in identifier else "sms"
