"""Test support for accounts: capture what the notifier sends (codes included)."""
from __future__ import annotations

import pytest

from carbon_credits.services import notifier


class SentMessages(list):
    """Messages handed to the notifier, in order (each also logged as the log notifier does)."""

    def wait(self) -> "SentMessages":
        notifier.wait_for_deliveries()
        return self

    def to(self, address: str) -> list[notifier.Message]:
        return [m for m in self.wait() if m.to == address]

    def last_code(self, address: str, kind: str | None = None) -> str:
        codes = [m.code for m in self.to(address) if m.code and (kind is None or m.kind == kind)]
        assert codes, f"no code sent to {address}: {list(self)}"
        return codes[-1]


class _Recorder(notifier.LogNotifier):
    def __init__(self, sink: SentMessages):
        self.sink = sink

    def send(self, message):
        self.sink.append(message)
        super().send(message)


@pytest.fixture
def sent_messages(monkeypatch):
    sink = SentMessages()
    monkeypatch.setattr(notifier, "_factory", lambda: _Recorder(sink))
    yield sink
    notifier.wait_for_deliveries()
