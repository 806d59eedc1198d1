"""The SMTP notifier against a real SMTP server (aiosmtpd) started by the test: register over
HTTP, read the code from the mail received, verify with it."""
from __future__ import annotations

import dataclasses
import email
import re
import socket
import time

import pytest
from aiosmtpd.controller import Controller

from carbon_credits import config
from carbon_credits.services import notifier
from tests.conftest import assert_problem


class Collect:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(monkeypatch):
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    monkeypatch.setattr(config, "_current", dataclasses.replace(
        config.get_settings(), notifier="smtp", smtp_host="127.0.0.1", smtp_port=controller.port,
        smtp_from="no-reply@city.example", smtp_starttls=False))
    yield handler
    notifier.wait_for_deliveries()
    controller.stop()


def _wait_for(handler, n=1, timeout=10.0):
    notifier.wait_for_deliveries(timeout)
    deadline = time.monotonic() + timeout
    while len(handler.messages) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return handler.messages


def test_register_and_verify_with_the_code_from_a_real_mail(client, smtp_server):
    r = client.post("/api/v1/auth/register", json={"email": "Ana@Example.org",
                                                   "password": "long enough pw",
                                                   "display_name": "Ana"})
    assert r.status_code == 202
    (sender, recipients, mail), = _wait_for(smtp_server)
    assert sender == "no-reply@city.example" and recipients == ["ana@example.org"]
    assert "verification code" in mail["Subject"]
    code = re.search(r"code is (\d{8})", mail.get_payload(decode=True).decode()).group(1)
    r = client.post("/api/v1/auth/verify", json={"identifier": "ana@example.org", "code": code})
    assert r.status_code == 200 and r.json == {"status": "verified"}


def test_an_unreachable_mail_server_does_not_change_the_answer(client, monkeypatch, caplog):
    monkeypatch.setattr(config, "_current", dataclasses.replace(
        config.get_settings(), notifier="smtp", smtp_host="127.0.0.1", smtp_port=_free_port(),
        smtp_starttls=False))
    r = client.post("/api/v1/auth/register", json={"email": "ana@example.org",
                                                   "password": "long enough pw",
                                                   "display_name": "Ana"})
    notifier.wait_for_deliveries()
    assert r.status_code == 202
    assert any("failed" in rec.getMessage() for rec in caplog.records
               if rec.name == "carbon_credits.notifier")
    assert_problem(client.post("/api/v1/auth/verify", json={"identifier": "ana@example.org",
                                                            "code": "00000000"}), 422)


def test_without_an_sms_gateway_texts_are_not_sent_and_an_error_says_so(client, smtp_server,
                                                                       caplog):
    r = client.post("/api/v1/auth/register", json={"phone": "13900139000",
                                                   "password": "long enough pw",
                                                   "display_name": "Li"})
    notifier.wait_for_deliveries()
    assert r.status_code == 202 and smtp_server.messages == []
    errors = [rec for rec in caplog.records if rec.name == "carbon_credits.notifier"
              and rec.levelname == "ERROR"]
    assert errors and "SMS_GATEWAY" in errors[0].getMessage()
    assert not re.search(r"\d{8}", errors[0].getMessage())  # the code is not logged


class RecordingGateway:
    sent: list = []

    def send_sms(self, phone, text):
        RecordingGateway.sent.append((phone, text))


def test_a_city_sms_gateway_receives_texts(client, smtp_server, monkeypatch):
    monkeypatch.setattr(config, "_current", dataclasses.replace(
        config.get_settings(), sms_gateway=f"{__name__}:RecordingGateway"))
    RecordingGateway.sent.clear()
    client.post("/api/v1/auth/register", json={"phone": "139 0013 9000",
                                               "password": "long enough pw", "display_name": "Li"})
    notifier.wait_for_deliveries()
    (phone, text), = RecordingGateway.sent
    assert phone == "+8613900139000" and re.search(r"code is \d{8}", text)
