"""Webhooks: an organisation's endpoints, the events they subscribe to, signed deliveries through the outbox."""
