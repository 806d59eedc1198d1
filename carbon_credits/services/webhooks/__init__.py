"""Outbound webhooks (docs/webhooks.md): a transactional outbox, subscriptions and a dispatcher."""
from carbon_credits.services.webhooks.outbox import emit, emit_call, emit_many  # noqa: F401
