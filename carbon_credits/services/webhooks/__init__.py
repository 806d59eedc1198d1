"""Outbound webhooks (docs/webhooks.md): a transactional outbox, subscriptions and a dispatcher."""
from carbon_credits.services.webhooks.outbox import emit  # noqa: F401
