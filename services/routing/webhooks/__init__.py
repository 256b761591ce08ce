"""Webhooks for CRMs: subscriptions, a durable delivery table written with the event, and a
sender job that signs (Standard Webhooks), retries with backoff and marks deliveries dead."""
