"""Alerts: subscription rules matched inside the worker, committed with the event (docs/alerts.md)."""
