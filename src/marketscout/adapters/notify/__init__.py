"""Notifiers: the adapters that deliver alerts (signed webhooks and e-mail over SMTP)."""
