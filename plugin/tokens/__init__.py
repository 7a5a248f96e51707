"""API tokens for integrations: issued by admins, scoped, expiring, stored hashed, rate limited per token."""
